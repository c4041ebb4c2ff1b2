"""Every non-trivial read of the agents app. Tenant-scoped reads take the tenant (or the caller's
`TenantAccess`) explicitly; costs of session trees are computed in the database."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import Q, QuerySet, UUIDField
from django.db.models.functions import Cast
from guardian.models import UserObjectPermission

from agents.models import (
    OPEN_SESSION_STATUSES,
    Agent,
    AgentChannel,
    AgentSession,
    AgentTask,
    AgentTemplate,
    Cookbook,
    Recipe,
    Skill,
    SkillInstallation,
    SkillStatus,
)
from agents.models.telemetry import AbTestResult, AgentActivity, AgentMetricsHourly
from core.access import TenantAccess

# Object permissions a member can be given on one agent (django-guardian).
AGENT_OBJECT_PERMISSIONS = ("view_agent", "change_agent", "run_agent")

# --- The catalogue -----------------------------------------------------------------------------


def template_list(*, published_only: bool = True) -> QuerySet[AgentTemplate]:
    qs = AgentTemplate.objects.all()
    return qs.filter(is_published=True) if published_only else qs


def cookbook_list(*, template: Any = None, published_only: bool = True) -> QuerySet[Cookbook]:
    qs = Cookbook.objects.select_related("template")
    if published_only:
        qs = qs.filter(template__is_published=True)
    return qs.filter(template=template) if template is not None else qs


def recipe_list(*, cookbook: Any = None, published_only: bool = True) -> QuerySet[Recipe]:
    qs = Recipe.objects.select_related("cookbook")
    if published_only:
        qs = qs.filter(is_active=True, cookbook__template__is_published=True)
    return qs.filter(cookbook=cookbook) if cookbook is not None else qs


def skill_list(*, visible_only: bool = True, category: str = "", role: str = "") -> QuerySet[Skill]:
    """The marketplace: published and deprecated skills (installed ones keep working); staff see
    drafts and removed ones too (visible_only=False)."""
    qs = Skill.objects.all()
    if visible_only:
        qs = qs.filter(status__in=[SkillStatus.PUBLISHED, SkillStatus.DEPRECATED])
    if category:
        qs = qs.filter(category=category)
    if role:
        qs = qs.filter(Q(compatible_roles=[]) | Q(compatible_roles__contains=[role]))
    return qs


# --- Agents and who sees them ------------------------------------------------------------------


def sees_every_agent(access: TenantAccess) -> bool:
    """Owners and admins (agents:admin) and platform staff see every agent of the tenant.

    An API key sees the agents its creator's membership sees: its scopes narrow what it may do,
    not which agents. So an owner's key for an agent runtime, scoped to agents:read and
    agents:write, runs every agent (team-less ones too) without being able to delete or share
    them, which agents:admin would allow."""
    if access.staff or access.allows("agents:admin"):
        return True
    role = getattr(access.membership, "role", None) if access.api_key is not None else None
    return role is not None and "agents:admin" in role.permissions


def _shared_with(user: Any, codename: str) -> QuerySet[Any]:
    content_type = ContentType.objects.get_for_model(Agent)  # cached by Django after the first read
    return (
        UserObjectPermission.objects.filter(
            user=user, content_type=content_type, permission__codename=codename
        )
        .annotate(agent_pk=Cast("object_pk", UUIDField()))
        .values("agent_pk")
    )


def agent_visibility(access: TenantAccess, *, codename: str = "view_agent", prefix: str = "") -> Q:
    """The condition for the agents `access` may see (or change, or run: `codename`): all for
    owners, admins and staff; otherwise their team's and those shared with them (guardian)."""
    if sees_every_agent(access):
        return Q()
    team_id = getattr(access.membership, "team_id", None)
    condition = Q(**{f"{prefix}pk__in": _shared_with(access.user, codename)})
    if team_id is not None:
        condition |= Q(**{f"{prefix}team_id": team_id})
    return condition


def agent_list(*, access: TenantAccess, filters: dict[str, Any] | None = None) -> QuerySet[Agent]:
    """The tenant's agents the caller may see, with team and template; `filters`: status, role,
    team (an id), q (part of the name)."""
    qs = (
        Agent.objects.filter(tenant=access.tenant.pk)
        .filter(agent_visibility(access))
        .select_related("team", "template")
        .order_by("name", "id")
    )
    filters = filters or {}
    if filters.get("status"):
        qs = qs.filter(status=filters["status"])
    if filters.get("role"):
        qs = qs.filter(role=filters["role"])
    if filters.get("team"):
        qs = qs.filter(team_id=filters["team"])
    if filters.get("q"):
        qs = qs.filter(name__icontains=filters["q"])
    return qs


def agent_get(*, access: TenantAccess, agent_id: Any, codename: str = "view_agent") -> Agent | None:
    """One agent the caller may see (or change, or run); None for another tenant's, an invisible or
    a missing one (all answer 404 alike)."""
    return (
        Agent.objects.filter(tenant=access.tenant.pk, pk=agent_id)
        .filter(agent_visibility(access, codename=codename))
        .select_related("team", "template")
        .first()
    )


def agent_count(*, tenant: Any) -> int:
    return Agent.objects.filter(tenant=tenant).count()


def installation_list(*, agent: Agent) -> QuerySet[SkillInstallation]:
    return SkillInstallation.objects.filter(tenant=agent.tenant_id, agent=agent).select_related("skill")


def installation_get(
    *, access: TenantAccess, installation_id: Any, codename: str = "view_agent"
) -> SkillInstallation | None:
    """One installation on an agent the caller may see (or change); None otherwise."""
    return (
        SkillInstallation.objects.filter(tenant=access.tenant.pk, pk=installation_id)
        .filter(agent_visibility(access, codename=codename, prefix="agent__"))
        .select_related("skill")
        .first()
    )


def channel_list(*, agent: Agent) -> QuerySet[AgentChannel]:
    """An agent's channels, by type."""
    return AgentChannel.objects.filter(tenant=agent.tenant_id, agent=agent).order_by("type", "id")


# --- Sessions ----------------------------------------------------------------------------------


def session_list(*, access: TenantAccess, filters: dict[str, Any] | None = None) -> QuerySet[AgentSession]:
    """Sessions of the agents the caller may see, newest first; `filters`: status, agent, root
    (a tree), roots_only."""
    qs = (
        AgentSession.objects.filter(tenant=access.tenant.pk)
        .filter(agent_visibility(access, prefix="agent__"))
        .order_by("-created_at", "-id")
    )
    filters = filters or {}
    if filters.get("status"):
        qs = qs.filter(status=filters["status"])
    if filters.get("agent"):
        qs = qs.filter(agent_id=filters["agent"])
    if filters.get("root"):
        qs = qs.filter(root_id=filters["root"])
    if filters.get("roots_only"):
        qs = qs.filter(parent__isnull=True)
    return qs


def session_get(
    *, access: TenantAccess, session_id: Any, codename: str = "view_agent"
) -> AgentSession | None:
    return (
        AgentSession.objects.filter(tenant=access.tenant.pk, pk=session_id)
        .filter(agent_visibility(access, codename=codename, prefix="agent__"))
        .first()
    )


def open_session_count(*, tenant: Any) -> int:
    return AgentSession.objects.filter(tenant=tenant, status__in=OPEN_SESSION_STATUSES).count()


@dataclass(frozen=True)
class TreeNode:
    """One session of a tree with its own cost and its subtree's (itself included)."""

    id: uuid.UUID
    parent_id: uuid.UUID | None
    agent_id: uuid.UUID
    depth: int
    status: str
    input_tokens: int
    output_tokens: int
    provider_cost_usd: Decimal
    credits_charged: Decimal
    total_input_tokens: int
    total_output_tokens: int
    total_provider_cost_usd: Decimal
    total_credits_charged: Decimal
    descendants: int


# The subtree of one session, walked by a recursive CTE that stays inside its tree's index range
# (root_id); each node's total is the sum over the nodes whose path passes through it, grouped
# in the same statement: one round trip whatever the tree's size.
_TREE_SQL = """
WITH RECURSIVE sub AS (
    SELECT s.id, s.parent_id, s.agent_id, s.depth, s.status, s.input_tokens, s.output_tokens,
           s.provider_cost_usd, s.credits_charged, ARRAY[s.id] AS path
    FROM agents_agentsession s
    WHERE s.id = %(id)s AND s.tenant_id = %(tenant)s
  UNION ALL
    SELECT c.id, c.parent_id, c.agent_id, c.depth, c.status, c.input_tokens, c.output_tokens,
           c.provider_cost_usd, c.credits_charged, sub.path || c.id
    FROM agents_agentsession c JOIN sub ON c.parent_id = sub.id
    WHERE c.root_id = %(root)s AND c.tenant_id = %(tenant)s
), totals AS (
    SELECT a.id, sum(sub.input_tokens) AS ti, sum(sub.output_tokens) AS tout,
           sum(sub.provider_cost_usd) AS tcost, sum(sub.credits_charged) AS tcredits, count(*) - 1 AS n
    FROM sub CROSS JOIN LATERAL unnest(sub.path) AS a(id)
    GROUP BY a.id
)
SELECT sub.id, sub.parent_id, sub.agent_id, sub.depth, sub.status, sub.input_tokens, sub.output_tokens,
       sub.provider_cost_usd, sub.credits_charged, totals.ti, totals.tout, totals.tcost, totals.tcredits,
       totals.n
FROM sub JOIN totals USING (id)
ORDER BY sub.path
"""


def session_tree(*, session: AgentSession) -> list[TreeNode]:
    """The subtree under `session` (itself first, then depth-first), each node with its own and
    total cost, computed by PostgreSQL in one statement."""
    with connection.cursor() as cursor:
        cursor.execute(_TREE_SQL, {"id": session.pk, "root": session.root_id, "tenant": session.tenant_id})
        return [TreeNode(*row) for row in cursor.fetchall()]


# --- Tasks -------------------------------------------------------------------------------------


def task_visibility(access: TenantAccess | None) -> Q:
    """The tasks `access` may see: all for owners, admins and platform staff (and for a caller
    not named: workers acting on the tasks they claimed); otherwise the tasks of the agents they
    see (a task of no agent is for those who see every agent)."""
    if access is None or sees_every_agent(access):
        return Q()
    return agent_visibility(access, prefix="agent__")


def task_list(
    *, tenant: Any, filters: dict[str, Any] | None = None, access: TenantAccess | None = None
) -> QuerySet[AgentTask]:
    """The tenant's queue, newest first, narrowed to what `access` may see (task_visibility);
    `filters`: status, agent, session, claimed_by."""
    qs = AgentTask.objects.filter(tenant=tenant).filter(task_visibility(access))
    qs = qs.order_by("-created_at", "-id")
    filters = filters or {}
    for name, column in (("status", "status"), ("agent", "agent_id"), ("session", "session_id")):
        if filters.get(name):
            qs = qs.filter(**{column: filters[name]})
    if filters.get("claimed_by"):
        qs = qs.filter(claimed_by=filters["claimed_by"])
    return qs


def task_get(*, tenant: Any, task_id: Any, access: TenantAccess | None = None) -> AgentTask | None:
    """One task of the tenant that `access` may see (task_visibility); None otherwise."""
    return AgentTask.objects.filter(tenant=tenant, pk=task_id).filter(task_visibility(access)).first()


# --- Telemetry: the activity feed, hourly metrics, A/B results ------------------------------------


def activity_list(*, access: TenantAccess, filters: dict[str, Any] | None = None) -> QuerySet[AgentActivity]:
    """The feed of the agents the caller may see, newest first; `filters`: agent, session, type,
    since (a datetime: items at or after it)."""
    qs = (
        AgentActivity.objects.filter(tenant=access.tenant.pk)
        .filter(agent_visibility(access, prefix="agent__"))
        .order_by("-created_at", "-id")
    )
    filters = filters or {}
    for name, column in (("agent", "agent_id"), ("session", "session_id"), ("type", "type")):
        if filters.get(name):
            qs = qs.filter(**{column: filters[name]})
    if filters.get("since"):
        qs = qs.filter(created_at__gte=filters["since"])
    return qs


def metrics_list(*, agent: Agent, start: datetime, end: datetime) -> QuerySet[AgentMetricsHourly]:
    """An agent's hourly rows for the hours in [start, end), oldest first."""
    return AgentMetricsHourly.objects.filter(
        tenant=agent.tenant_id, agent=agent, hour__gte=start, hour__lt=end
    ).order_by("hour")


def metrics_series(*, agent: Agent, end: datetime, hours: int = 48) -> list[tuple[datetime, Any]]:
    """The last `hours` UTC hours before `end` (an hour boundary), each with its row or None."""
    start = end - timedelta(hours=hours)
    rows = {row.hour: row for row in metrics_list(agent=agent, start=start, end=end)}
    return [(hour, rows.get(hour)) for hour in (start + timedelta(hours=n) for n in range(hours))]


def ab_result_list(*, recipe: Recipe | None = None, metric: str = "") -> QuerySet[AbTestResult]:
    """A/B results (a recipe's, one metric's, if given), by recipe, metric, variant and period."""
    qs = AbTestResult.objects.select_related("recipe").order_by(
        "recipe__name", "recipe_id", "metric", "variant", "period_start", "id"
    )
    if recipe is not None:
        qs = qs.filter(recipe=recipe)
    return qs.filter(metric=metric) if metric else qs


def ab_metric_names(*, recipe: Recipe) -> list[str]:
    """The metrics a recipe has A/B results for, by name."""
    return list(
        AbTestResult.objects.filter(recipe=recipe)
        .values_list("metric", flat=True)
        .distinct()
        .order_by("metric")
    )
