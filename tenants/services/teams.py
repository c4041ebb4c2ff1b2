"""Writes on teams: one transaction each, audited inside it."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.text import slugify

from accounts.models import User
from audit.models import Severity
from audit.services import audit_record, changes
from core import stream
from core.errors import full_clean_or_invalid
from tenants.models import Team, Tenant
from tenants.services.common import save_unique, snapshot

TEAM_FIELDS = ["name", "slug", "description"]


@transaction.atomic
def team_create(*, tenant: Tenant, actor: User, name: str, slug: str = "", description: str = "") -> Team:
    """Create a team in `tenant`."""
    team = Team(tenant=tenant, name=name, slug=slug or slugify(name)[:50], description=description)
    full_clean_or_invalid(team, exclude=["tenant"])
    save_unique(team, "slug", "A team with this slug exists.")
    audit_record(
        action="team.created",
        tenant=tenant,
        target=team,
        details={"name": name, "slug": team.slug},
        actor=actor,
    )
    return team


@transaction.atomic
def team_update(*, team: Team, actor: User, data: dict[str, Any]) -> Team:
    """Rename a team, change its slug or description."""
    team = Team.objects.select_for_update().get(pk=team.pk)
    before = snapshot(team, TEAM_FIELDS)
    for field, value in data.items():
        setattr(team, field, value)
    full_clean_or_invalid(team, exclude=["tenant"])
    save_unique(team, "slug", "A team with this slug exists.")
    diff = changes(before, snapshot(team, TEAM_FIELDS))
    if diff:
        audit_record(
            action="team.updated", tenant=team.tenant_id, target=team, details={"changes": diff}, actor=actor
        )
    return team


@transaction.atomic
def team_delete(*, team: Team, actor: User) -> None:
    """Delete a team; its members stay in the tenant without a team."""
    audit_record(
        action="team.deleted",
        tenant=team.tenant_id,
        target=team,
        severity=Severity.WARNING,
        details={"name": team.name, "slug": team.slug},
        actor=actor,
    )
    team.delete()
    # Its agents and members are left without a team: open streams ask again what they see.
    stream.refresh(team.tenant_id)
