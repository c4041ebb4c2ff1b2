"""Base classes for management commands, so each runs in an explicit tenancy context.

`TenantCommand`: `--tenant SLUG_OR_ID`, `handle_tenant(tenant, **options)` runs inside that
tenant's context. `PlatformCommand`: `handle_platform(**options)` runs under the audited platform
bypass, with the command's name as the reason.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.tenancy import platform_bypass, tenant_context


class TenantCommand(BaseCommand):
    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="The tenant's slug or id.")

    def handle(self, *args: Any, **options: Any) -> Any:
        from tenants.models import Tenant

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

    def handle_tenant(self, tenant: Any, *args: Any, **options: Any) -> Any:
        raise NotImplementedError


class PlatformCommand(BaseCommand):
    def handle(self, *args: Any, **options: Any) -> Any:
        name = self.__class__.__module__.rsplit(".", 1)[-1]
        with platform_bypass(reason=f"manage.py {name}", audit=True):
            return self.handle_platform(*args, **options)

    def handle_platform(self, *args: Any, **options: Any) -> Any:
        raise NotImplementedError
