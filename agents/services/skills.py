"""Skills on agents: install (published, compatible with the agent's role, pinned to the skill's
version), configure, uninstall; ratings. install_count stays exact under concurrent installs: it
moves by an F() update in the installing transaction, never by a read-modify-write."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from accounts.models import User
from agents.models import Agent, Skill, SkillInstallation, SkillRating, SkillStatus
from audit.services import audit_record
from core.errors import Conflict, LimitExceeded


@transaction.atomic
def skill_install(
    *, agent: Agent, skill: Skill, actor: User | None, config: dict[str, Any] | None = None, version: str = ""
) -> SkillInstallation:
    """Install a published skill compatible with the agent's role, pinned to its current version."""
    if skill.status != SkillStatus.PUBLISHED:
        raise LimitExceeded(
            f"The skill {skill.slug} is {skill.status}, not published.", code="skill_not_published"
        )
    if not skill.compatible_with(agent.role):
        raise LimitExceeded(
            f"The skill {skill.slug} is not for the {agent.role} role "
            f"(it is for {', '.join(skill.compatible_roles)}).",
            code="skill_incompatible",
        )
    if version and version != skill.version:
        raise LimitExceeded(
            f"Only version {skill.version} of {skill.slug} can be installed.",
            code="skill_version_unavailable",
        )
    installation = SkillInstallation(
        tenant_id=agent.tenant_id,
        agent=agent,
        skill=skill,
        version=skill.version,
        config=config or {},
        installed_by=actor if getattr(actor, "pk", None) else None,
    )
    try:
        with transaction.atomic():
            installation.save()
    except IntegrityError as exc:
        raise Conflict(
            f"{skill.slug} is already installed on this agent.", code="skill_already_installed"
        ) from exc
    Skill.objects.filter(pk=skill.pk).update(install_count=F("install_count") + 1)
    audit_record(
        action="skill.installed",
        tenant=agent.tenant_id,
        target=agent,
        details={"skill": skill.slug, "version": skill.version},
        actor=actor,
    )
    return installation


@transaction.atomic
def skill_configure(
    *, installation: SkillInstallation, actor: User | None, config: dict[str, Any]
) -> SkillInstallation:
    """Replace an installed skill's configuration."""
    before = installation.config
    SkillInstallation.objects.filter(pk=installation.pk).update(config=config)
    installation.config = config
    audit_record(
        action="skill.configured",
        tenant=installation.tenant_id,
        target=installation,
        details={"changes": {"config": {"old": before, "new": config}}},
        actor=actor,
    )
    return installation


@transaction.atomic
def skill_uninstall(*, installation: SkillInstallation, actor: User | None) -> None:
    """Take a skill off an agent."""
    deleted, _ = SkillInstallation.objects.filter(pk=installation.pk).delete()
    if deleted:
        Skill.objects.filter(pk=installation.skill_id, install_count__gt=0).update(
            install_count=F("install_count") - 1
        )
        audit_record(
            action="skill.uninstalled",
            tenant=installation.tenant_id,
            target_type="agent",
            target_id=installation.agent_id,
            details={"skill": str(installation.skill_id), "version": installation.version},
            actor=actor,
        )


@transaction.atomic
def skill_rate(*, skill: Skill, user: User, stars: int) -> Skill:
    """Rate a skill 1-5; rating again replaces one's earlier rating. The skill's row is locked so
    concurrent ratings add up exactly."""
    if skill.status not in (SkillStatus.PUBLISHED, SkillStatus.DEPRECATED):
        raise LimitExceeded("Only skills on the marketplace can be rated.", code="skill_not_published")
    skill = Skill.objects.select_for_update().get(pk=skill.pk)
    earlier = SkillRating.objects.filter(skill=skill, user=user).first()
    if earlier is None:
        SkillRating.objects.create(skill=skill, user=user, stars=stars)
        skill.rating_count += 1
        skill.rating_total += stars
    else:
        skill.rating_total += stars - earlier.stars
        SkillRating.objects.filter(pk=earlier.pk).update(stars=stars)
    skill.rating = (Decimal(skill.rating_total) / Decimal(skill.rating_count)).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )
    skill.save(update_fields=["rating", "rating_count", "rating_total", "updated_at"])
    audit_record(
        action="skill.rated",
        target=skill,
        details={"stars": stars, "previous": earlier.stars if earlier else None},
        actor=user,
    )
    return skill
