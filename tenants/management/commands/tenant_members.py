"""List a tenant's members: `manage.py tenant_members --tenant acme`."""

from __future__ import annotations

from typing import Any

from tenants.commands import TenantCommand
from tenants.models import Tenant
from tenants.selectors import member_list


class Command(TenantCommand):
    help = "List the members of one tenant with their roles and teams."

    def handle_tenant(self, tenant: Tenant, *args: Any, **options: Any) -> None:
        for m in member_list(tenant=tenant):
            team = m.team.slug if m.team else "-"
            self.stdout.write(f"{m.user.email}\t{m.role.slug}\t{team}")
