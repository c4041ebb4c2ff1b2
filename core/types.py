"""The shapes core and audit accept from the apps above them, which they cannot import.

core and audit sit below accounts and tenants (docs/architecture.md), so they name users and
tenants by what they read of them, as Protocols; the apps above pass their models.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol


class HasPk(Protocol):
    """A model instance (a tenant, a user, an API key), of which only the primary key is read."""

    @property
    def pk(self) -> Any: ...


class Principal(Protocol):
    """The authenticated caller (accounts.models.User)."""

    @property
    def pk(self) -> Any: ...

    @property
    def email(self) -> str: ...

    @property
    def is_active(self) -> bool: ...

    @property
    def is_authenticated(self) -> bool: ...

    @property
    def is_platform_staff(self) -> bool: ...

    @property
    def is_platform_admin(self) -> bool: ...


# A tenant given as its instance or its id (tenants.models.Tenant, a UUID, or its text).
TenantRef = HasPk | uuid.UUID | str
