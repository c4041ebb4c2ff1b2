"""Base class for management commands that work on one tenant.

`TenantCommand`: `--tenant SLUG_OR_ID`; `handle_tenant(tenant, **options)` runs inside that
tenant's context (django-scopes and row-level security).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.tenancy import tenant_context
from tenants.models import Tenant


class TenantCommand(BaseCommand):
    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="The tenant's slug or id.")

    def handle(self, *args: Any, **options: Any) -> Any:
        ref = options.pop("tenant")
        try:
            lookup = {"pk": uuid.UUID(ref)}
        except ValueError:
            lookup = {"slug": ref}
        tenant = Tenant.objects.filter(**lookup).first()
        if tenant is None:
            raise CommandError(f"No tenant {ref!r}.")
        with tenant_context(tenant):
            return self.handle_tenant(tenant, *args, **options)

    def handle_tenant(self, tenant: Tenant, *args: Any, **options: Any) -> Any:
        raise NotImplementedError
