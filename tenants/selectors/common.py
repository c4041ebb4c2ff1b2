"""What tenants' selectors and services share: references to a tenant or a user by instance or id."""

from __future__ import annotations

import uuid
from typing import TypeAlias

from accounts.models import User
from tenants.models import Tenant

# A tenant, or its primary key (a UUID, or its text): for the reads that run on hot paths with
# whichever the caller holds (the API's gate has the id from the URL, a service the instance).
TenantRef: TypeAlias = Tenant | uuid.UUID | str
# A user, or its primary key.
UserRef: TypeAlias = User | uuid.UUID | str


def id_of(ref: TenantRef | UserRef | None) -> uuid.UUID | None:
    """The primary key of an instance or id (None stays None), as a UUID."""
    if ref is None:
        return None
    value = getattr(ref, "pk", ref)
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
