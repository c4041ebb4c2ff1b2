"""Types billing's services and selectors share."""

from __future__ import annotations

import uuid
from typing import TypeAlias, cast

from tenants.models import Tenant

# A tenant, or only its id. For the services and selectors that really take either: callers that
# hold no instance (the periodic tasks, the streamed statement once its request has ended, the
# agents app with a tenant id from a row) need not load one. The ORM filters by either; the
# hot-path services need only the id (`tenant_id_of`). A Union, not a Protocol: "an instance
# or an id" is exactly what it says.
TenantRef: TypeAlias = Tenant | uuid.UUID


def tenant_id_of(tenant: TenantRef) -> uuid.UUID:
    """The tenant's id, from the instance or the id itself."""
    return cast(uuid.UUID, getattr(tenant, "pk", tenant))
