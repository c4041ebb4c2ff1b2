"""`manage.py sync_participants [--tenant ID ...]`: build or refresh the participant graph.

The hooks keep the graph in step as memberships, invites, agents and sessions change; this
backfills what existed before (the demo, data loaded around the services) and refreshes the
lifecycle stages, which move with time alone. Idempotent: a second run changes nothing. Each
tenant is one transaction; the run writes one audit entry with its counts.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.progress import Progress
from core.tenancy import platform_bypass
from insights.services.graph import participants_sync_all
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Build or refresh the participant graph of every tenant (or of --tenant)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", action="append", default=None, help="A tenant id (repeatable).")

    def handle(self, *args: Any, tenant: list[str] | None, **options: Any) -> None:
        ids: list[uuid.UUID] | None = None
        if tenant:
            try:
                ids = [uuid.UUID(t) for t in tenant]
            except ValueError as exc:
                raise CommandError(f"--tenant: not a UUID: {exc}") from exc
            with platform_bypass(reason="sync_participants: check --tenant", log=False):
                missing = set(ids) - set(Tenant.objects.filter(pk__in=ids).values_list("pk", flat=True))
            if missing:
                raise CommandError(f"--tenant: no such tenant {', '.join(map(str, sorted(missing)))}")
            total = len(ids)
        else:
            with platform_bypass(reason="sync_participants: count tenants", log=False):
                total = Tenant.objects.count()
        progress = Progress(self.stdout, label="sync_participants", total=total)
        totals = participants_sync_all(tenant_ids=ids, progress=progress)
        progress.finish(totals["tenants"])
        self.stdout.write(
            self.style.SUCCESS(
                f"sync_participants: {totals['tenants']} tenants, participants created "
                f"{totals['created']}, updated {totals['updated']}; relationships created "
                f"{totals['edges_created']}, removed {totals['edges_removed']}"
            )
        )
