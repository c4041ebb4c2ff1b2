"""Types accounts' services and selectors share."""

from __future__ import annotations

import uuid
from typing import Protocol


class TenantRef(Protocol):
    """A tenant (tenants.models.Tenant). Tenants sits above accounts, which may not import its
    models, so accounts names the one thing it uses: the id (the ORM takes the instance)."""

    @property
    def pk(self) -> uuid.UUID: ...
