"""Every tenant with its member count: platform-wide work under the audited bypass."""

from __future__ import annotations

from typing import Any

from django.db.models import Count

from core.commands import PlatformCommand
from tenants.models import Membership, Tenant


class Command(PlatformCommand):
    help = "List every tenant with its status, plan and member count."

    def handle_platform(self, *args: Any, **options: Any) -> None:
        counts = dict(
            Membership.objects.values("tenant_id").annotate(n=Count("id")).values_list("tenant_id", "n")
        )
        for tenant in Tenant.objects.order_by("slug"):
            self.stdout.write(f"{tenant.slug}\t{tenant.status}\t{tenant.plan}\t{counts.get(tenant.pk, 0)}")
