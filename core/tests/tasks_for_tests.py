"""A tenant task used by the tests (kept out of production modules)."""

from __future__ import annotations

from celery import shared_task

from core.tasks import TenantTask
from core.tenancy import current_tenant_id
from tenants.models import Team


@shared_task(base=TenantTask)
def count_teams(*, tenant_id: str) -> dict[str, object]:
    """Report what the task sees: the active tenant and the teams visible to it."""
    return {
        "context": str(current_tenant_id()),
        "teams": sorted(str(t) for t in Team.objects.values_list("tenant_id", flat=True)),
    }
