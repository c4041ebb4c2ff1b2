"""The participant graph: who acts in a tenant (members, invitees, agents) and how they relate.

`participants_sync(tenant=...)` recomputes a tenant's participants and its system and inferred
relationships from memberships, invites, agents and sessions, in a fixed number of queries
whatever the tenant's size; it is idempotent (a second run changes nothing) and never deletes a
participant: one whose membership, invite or agent is gone is `churned`. Lower layers set it off
through their hooks (tenants.hooks.people_changed, agents.hooks.agent_changed), registered in
InsightsConfig.ready(); a spawned session adds its edge at once (`graph_session_spawned`), and
the daily `insights.sync_participants` task (and `manage.py sync_participants`) refreshes the
stages, which move with time alone.

Lifecycle stage (`lifecycle_stage`), first rule that applies:
- churned: the membership was removed, the invite revoked or expired, or the agent deleted;
- invited: an invitee whose invite is pending;
- active: last activity (a member's last login or last seen; an agent's last_active_at) within
  ACTIVE_DAYS;
- onboarding: joined (or, for an agent, created) within ONBOARDING_DAYS, or an agent still
  provisioning;
- dormant: everyone else (no activity within ACTIVE_DAYS).

Relationships (`source`, `confidence_score`):
- invited (system, 1.0): the inviter → the member they invited (membership.invited_by), or →
  the invitee of a pending invite;
- manages (inferred, 0.8): in each team, a member holding the owner or admin role → every
  other member of that team holding a lower role (there is no team-lead field; the tenant's
  roles are the data that says who manages whom);
- assists (system, 1.0): an agent → the member it assists (agent.assisted_user);
- spawned (system, 1.0): the agent of a session → the agent of a child session it spawned
  (other agents only);
- collaborates (inferred, stored once from the lower id): two agents whose sessions share a
  session tree without one spawning the other (0.7), or two members of one team of at most
  TEAM_COLLABORATION_MAX members (0.5; larger teams would draw a clique, not information).
Manual relationships are never touched by the sync.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import combinations
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from agents.models import Agent, AgentSession, AgentStatus
from audit.services import audit_record
from core.tenancy import platform_bypass, tenant_context, tenant_pk
from core.types import TenantRef
from insights.models import (
    LifecycleStage,
    Participant,
    ParticipantKind,
    ParticipantOrigin,
    Relationship,
    RelationshipSource,
    RelationshipType,
)
from tenants.models import Invite, InviteStatus, Membership, Tenant

ACTIVE_DAYS = 30
ONBOARDING_DAYS = 14
TEAM_COLLABORATION_MAX = 12
MANAGER_ROLES = frozenset({"owner", "admin"})

_FIELDS = [
    "kind",
    "user_id",
    "agent_id",
    "email",
    "display_name",
    "role",
    "team_id",
    "origin",
    "lifecycle_stage",
    "joined_at",
    "last_activity_at",
]


@dataclass(frozen=True)
class SyncResult:
    created: int
    updated: int
    edges_created: int
    edges_removed: int


def lifecycle_stage(
    *,
    now: datetime,
    gone: bool = False,
    pending_invite: bool = False,
    last_activity: datetime | None = None,
    joined: datetime | None = None,
    provisioning: bool = False,
) -> str:
    """The stage of a participant under the rules of this module's docstring."""
    if gone:
        return LifecycleStage.CHURNED
    if pending_invite:
        return LifecycleStage.INVITED
    if last_activity is not None and last_activity >= now - timedelta(days=ACTIVE_DAYS):
        return LifecycleStage.ACTIVE
    if provisioning or (joined is not None and joined >= now - timedelta(days=ONBOARDING_DAYS)):
        return LifecycleStage.ONBOARDING
    return LifecycleStage.DORMANT


def _latest(*values: datetime | None) -> datetime | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _desired_participants(tenant_id: uuid.UUID, now: datetime) -> list[dict[str, Any]]:
    members = list(
        Membership.objects.filter(tenant=tenant_id).values(
            "user_id",
            "user__email",
            "user__full_name",
            "user__last_seen_at",
            "user__last_login",
            "role__slug",
            "team_id",
            "invited_by_id",
            "joined_at",
        )
    )
    member_emails = {m["user__email"] for m in members}
    rows: list[dict[str, Any]] = []
    for m in members:
        last = _latest(m["user__last_seen_at"], m["user__last_login"])
        rows.append(
            {
                "kind": ParticipantKind.MEMBER,
                "user_id": m["user_id"],
                "agent_id": None,
                "email": m["user__email"],
                "display_name": m["user__full_name"] or m["user__email"],
                "role": m["role__slug"],
                "team_id": m["team_id"],
                "origin": ParticipantOrigin.INVITED if m["invited_by_id"] else ParticipantOrigin.SIGNUP,
                "lifecycle_stage": lifecycle_stage(now=now, last_activity=last, joined=m["joined_at"]),
                "joined_at": m["joined_at"],
                "last_activity_at": last,
                "_invited_by": m["invited_by_id"],
            }
        )
    # The newest invite of each address not (yet) a member.
    invites: dict[str, Any] = {}
    for inv in (
        Invite.objects.filter(tenant=tenant_id)
        .exclude(email__in=member_emails)
        .order_by("email", "-created_at")
        .values("email", "status", "invited_by_id", "role__slug", "team_id", "created_at", "expires_at")
    ):
        invites.setdefault(inv["email"], inv)
    for email, inv in invites.items():
        pending = inv["status"] == InviteStatus.PENDING and inv["expires_at"] > now
        rows.append(
            {
                "kind": ParticipantKind.INVITEE,
                "user_id": None,
                "agent_id": None,
                "email": email,
                "display_name": email,
                "role": inv["role__slug"] or "",
                "team_id": inv["team_id"],
                "origin": ParticipantOrigin.INVITED,
                "lifecycle_stage": lifecycle_stage(now=now, gone=not pending, pending_invite=pending),
                "joined_at": None,
                "last_activity_at": None,
                "_invited_by": inv["invited_by_id"] if pending else None,
            }
        )
    for a in Agent.objects.filter(tenant=tenant_id).values(
        "id", "name", "role", "status", "team_id", "last_active_at", "created_at", "assisted_user_id"
    ):
        rows.append(
            {
                "kind": ParticipantKind.AGENT,
                "user_id": None,
                "agent_id": a["id"],
                "email": "",
                "display_name": a["name"],
                "role": a["role"],
                "team_id": a["team_id"],
                "origin": ParticipantOrigin.AGENT,
                "lifecycle_stage": lifecycle_stage(
                    now=now,
                    last_activity=a["last_active_at"],
                    joined=a["created_at"],
                    provisioning=a["status"] == AgentStatus.PROVISIONING,
                ),
                "joined_at": a["created_at"],
                "last_activity_at": a["last_active_at"],
                "_assists": a["assisted_user_id"],
            }
        )
    return rows


def _key(row: dict[str, Any] | Participant) -> tuple[str, str]:
    get = row.get if isinstance(row, dict) else lambda name: getattr(row, name)
    if get("user_id"):
        return ("user", str(get("user_id")))
    if get("agent_id"):
        return ("agent", str(get("agent_id")))
    return ("email", str(get("email")))


_TREE_PAIRS_SQL = """
    SELECT DISTINCT a.agent_id, b.agent_id
    FROM agents_agentsession a
    JOIN agents_agentsession b ON b.tenant_id = a.tenant_id AND b.root_id = a.root_id
    WHERE a.tenant_id = %s AND b.tenant_id = %s AND a.agent_id < b.agent_id
"""


def _session_pairs(tenant_id: uuid.UUID) -> tuple[set[tuple[Any, Any]], set[tuple[Any, Any]]]:
    spawned = {
        (p, c)
        for p, c in AgentSession.objects.filter(tenant=tenant_id, parent__isnull=False)
        .values_list("parent__agent_id", "agent_id")
        .distinct()
        if p != c
    }
    with connection.cursor() as cursor:
        cursor.execute(_TREE_PAIRS_SQL, [tenant_id, tenant_id])
        trees = {(a, b) for a, b in cursor.fetchall()}
    return spawned, trees


EdgeKey = tuple[uuid.UUID, uuid.UUID, str]


def _desired_edges(
    rows: list[dict[str, Any]], by_key: dict[tuple[str, str], Participant], tenant_id: uuid.UUID
) -> dict[EdgeKey, tuple[str, Decimal]]:
    edges: dict[EdgeKey, tuple[str, Decimal]] = {}

    def pid(kind: str, value: Any) -> uuid.UUID | None:
        found = by_key.get((kind, str(value))) if value else None
        return found.pk if found is not None else None

    def add(a: uuid.UUID | None, b: uuid.UUID | None, type_: str, source: str, score: str) -> None:
        if a is None or b is None or a == b:
            return
        if type_ == RelationshipType.COLLABORATES and str(b) < str(a):
            a, b = b, a
        edges.setdefault((a, b, type_), (source, Decimal(score)))

    live = [r for r in rows if r["lifecycle_stage"] != LifecycleStage.CHURNED]
    teams: dict[Any, list[dict[str, Any]]] = {}
    for row in live:
        me = by_key[_key(row)].pk
        if row.get("_invited_by"):
            add(pid("user", row["_invited_by"]), me, RelationshipType.INVITED, RelationshipSource.SYSTEM, "1")
        if row.get("_assists"):
            add(me, pid("user", row["_assists"]), RelationshipType.ASSISTS, RelationshipSource.SYSTEM, "1")
        if row["kind"] == ParticipantKind.MEMBER and row["team_id"]:
            teams.setdefault(row["team_id"], []).append(row)
    for people in teams.values():
        managers = [r for r in people if r["role"] in MANAGER_ROLES]
        others = [r for r in people if r["role"] not in MANAGER_ROLES]
        for boss in managers:
            for person in others:
                add(
                    pid("user", boss["user_id"]),
                    pid("user", person["user_id"]),
                    RelationshipType.MANAGES,
                    RelationshipSource.INFERRED,
                    "0.8",
                )
        if len(people) <= TEAM_COLLABORATION_MAX:
            for x, y in combinations(others, 2):
                add(
                    pid("user", x["user_id"]),
                    pid("user", y["user_id"]),
                    RelationshipType.COLLABORATES,
                    RelationshipSource.INFERRED,
                    "0.5",
                )
    spawned, trees = _session_pairs(tenant_id)
    for parent_agent, child_agent in spawned:
        add(
            pid("agent", parent_agent),
            pid("agent", child_agent),
            RelationshipType.SPAWNED,
            RelationshipSource.SYSTEM,
            "1",
        )
    for a, b in trees:
        if (a, b) in spawned or (b, a) in spawned:
            continue
        add(
            pid("agent", a),
            pid("agent", b),
            RelationshipType.COLLABORATES,
            RelationshipSource.INFERRED,
            "0.7",
        )
    return edges


@transaction.atomic
def participants_sync(*, tenant: TenantRef, now: datetime | None = None) -> SyncResult:
    """Bring a tenant's participants and its system and inferred relationships in step with its
    memberships, invites, agents and sessions (idempotent; see the module's docstring)."""
    tenant_id = tenant_pk(tenant)
    now = now or timezone.now()
    with tenant_context(tenant_id):
        rows = _desired_participants(tenant_id, now)
        existing = {_key(p): p for p in Participant.objects.filter(tenant=tenant_id)}
        # An invitee who has since joined becomes the member's participant (same node).
        for row in rows:
            if row["kind"] == ParticipantKind.MEMBER and _key(row) not in existing:
                invitee = existing.pop(("email", row["email"]), None)
                if invitee is not None and invitee.kind == ParticipantKind.INVITEE:
                    existing[_key(row)] = invitee
        to_create: list[Participant] = []
        to_update: list[Participant] = []
        seen: set[tuple[str, str]] = set()
        for row in rows:
            key = _key(row)
            seen.add(key)
            values = {f: row[f] for f in _FIELDS}
            current = existing.get(key)
            if current is None:
                created = Participant(tenant_id=tenant_id, **values)
                existing[key] = created
                to_create.append(created)
            elif any(getattr(current, f) != v for f, v in values.items()):
                for f, v in values.items():
                    setattr(current, f, v)
                to_update.append(current)
        for key, participant in existing.items():
            if key not in seen and participant.lifecycle_stage != LifecycleStage.CHURNED:
                participant.lifecycle_stage = LifecycleStage.CHURNED
                to_update.append(participant)
        Participant.objects.bulk_create(to_create)
        if to_update:
            Participant.objects.bulk_update(to_update, [*_FIELDS, "updated_at"])
        desired = _desired_edges(rows, existing, tenant_id)
        current_edges = {
            (e.from_participant_id, e.to_participant_id, e.type): e
            for e in Relationship.objects.filter(tenant=tenant_id).exclude(source=RelationshipSource.MANUAL)
        }
        stale = [e.pk for k, e in current_edges.items() if k not in desired]
        if stale:
            Relationship.objects.filter(pk__in=stale).delete()
        new_edges = [
            Relationship(
                tenant_id=tenant_id,
                from_participant_id=a,
                to_participant_id=b,
                type=t,
                source=source,
                confidence_score=score,
            )
            for (a, b, t), (source, score) in desired.items()
            if (a, b, t) not in current_edges
        ]
        Relationship.objects.bulk_create(new_edges, ignore_conflicts=True)
    return SyncResult(len(to_create), len(to_update), len(new_edges), len(stale))


def graph_session_spawned(*, session: AgentSession) -> None:
    """A session spawned a child on another agent: add the `spawned` edge now (two queries)."""
    if session.parent_id is None:
        return
    parent_agent = (
        AgentSession.objects.filter(pk=session.parent_id).values_list("agent_id", flat=True).first()
    )
    if parent_agent is None or parent_agent == session.agent_id:
        return
    with tenant_context(session.tenant_id):
        ids = dict(
            Participant.objects.filter(
                tenant=session.tenant_id, agent_id__in=[parent_agent, session.agent_id]
            ).values_list("agent_id", "pk")
        )
        if len(ids) == 2:
            Relationship.objects.bulk_create(
                [
                    Relationship(
                        tenant_id=session.tenant_id,
                        from_participant_id=ids[parent_agent],
                        to_participant_id=ids[session.agent_id],
                        type=RelationshipType.SPAWNED,
                        source=RelationshipSource.SYSTEM,
                        confidence_score=Decimal(1),
                    )
                ],
                ignore_conflicts=True,
            )


# Inside `syncs_deferred()`, the hooks only note the tenant; each noted tenant is synced once at
# the end. For bulk work that changes many people at once (the demo seed, an import), where a
# whole-tenant sync per change would repeat the same work for every row.
_deferred: ContextVar[set[Any] | None] = ContextVar("insights_graph_deferred", default=None)


@contextmanager
def syncs_deferred() -> Iterator[None]:
    """Sync each tenant whose people or agents changed inside the block once, when it ends."""
    if _deferred.get() is not None:  # nested: the outermost block syncs
        yield
        return
    tenants: set[Any] = set()
    token = _deferred.set(tenants)
    try:
        yield
    finally:
        _deferred.reset(token)
    for tenant_id in sorted(tenants, key=str):
        participants_sync(tenant=tenant_id)


def _sync_or_defer(tenant_id: Any) -> None:
    deferred = _deferred.get()
    if deferred is None:
        participants_sync(tenant=tenant_id)
    else:
        deferred.add(tenant_pk(tenant_id))


def graph_people_changed(*, tenant_id: Any, **_: Any) -> None:
    """tenants.hooks.people_changed: a membership or invite changed."""
    _sync_or_defer(tenant_id)


def graph_agent_changed(*, tenant_id: Any, **_: Any) -> None:
    """agents.hooks.agent_changed: an agent was created, changed or deleted."""
    _sync_or_defer(tenant_id)


def participants_sync_all(
    *, tenant_ids: list[Any] | None = None, progress: Callable[[int], None] | None = None
) -> dict[str, int]:
    """Sync every tenant's graph (or those named), each in its own transaction; one audit entry
    for the run with its counts, none when it changed nothing. The backfill and the daily refresh
    of the stages (`insights.sync_participants`)."""
    with transaction.atomic(), platform_bypass(reason="participants sync: list the tenants", log=False):
        qs = Tenant.objects.order_by("pk")
        if tenant_ids is not None:
            qs = qs.filter(pk__in=tenant_ids)
        ids = list(qs.values_list("pk", flat=True))
    totals = {"tenants": 0, "created": 0, "updated": 0, "edges_created": 0, "edges_removed": 0}
    for n, tenant_id in enumerate(ids, start=1):
        result = participants_sync(tenant=tenant_id)
        totals["tenants"] += 1
        totals["created"] += result.created
        totals["updated"] += result.updated
        totals["edges_created"] += result.edges_created
        totals["edges_removed"] += result.edges_removed
        if progress is not None:
            progress(n)
    if any(n for key, n in totals.items() if key != "tenants"):  # a run that changed nothing records nothing
        with transaction.atomic():
            audit_record(action="participants.synced", details=totals, system=True)
    return totals


# --- Reads: the graph ready to draw, participants (the API and the console call these) ---------

MAX_GRAPH_NODES = 500
CANVAS = 1000  # the layout's square, in SVG user units
_RINGS = {ParticipantKind.MEMBER: 0.2, ParticipantKind.AGENT: 0.33, ParticipantKind.INVITEE: 0.45}


@dataclass(frozen=True)
class GraphNode:
    id: uuid.UUID
    label: str
    kind: str
    stage: str
    x: float
    y: float


@dataclass(frozen=True)
class GraphEdge:
    source: uuid.UUID
    target: uuid.UUID
    type: str
    confidence: Decimal


@dataclass(frozen=True)
class Graph:
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    truncated: bool


def _layout(participants: list[Participant]) -> list[GraphNode]:
    """Concentric rings by kind (members inside, agents, then invitees), each ring in name order:
    deterministic, so a page and its screenshot look the same every time."""
    by_kind: dict[str, list[Participant]] = {}
    for p in participants:
        by_kind.setdefault(p.kind, []).append(p)
    nodes: list[GraphNode] = []
    centre = CANVAS / 2
    for kind, ring in _RINGS.items():
        people = by_kind.get(kind, [])
        radius = (
            ring * CANVAS if len(people) > 1 else (0.0 if kind == ParticipantKind.MEMBER else ring * CANVAS)
        )
        # Rings start at different angles so their nodes do not line up on one ray.
        offset = {ParticipantKind.MEMBER: 0.0, ParticipantKind.AGENT: 0.5, ParticipantKind.INVITEE: 0.25}[
            kind
        ]
        for i, p in enumerate(people):
            angle = 2 * math.pi * (i + offset) / max(len(people), 1) - math.pi / 2
            nodes.append(
                GraphNode(
                    id=p.pk,
                    label=p.display_name,
                    kind=p.kind,
                    stage=p.lifecycle_stage,
                    x=round(centre + radius * math.cos(angle), 1),
                    y=round(centre + radius * math.sin(angle), 1),
                )
            )
    return nodes


def graph_get(*, tenant: TenantRef) -> Graph:
    """The tenant's graph with a drawn position per node (two queries); at most MAX_GRAPH_NODES
    nodes (churned participants last to be kept), and the edges between the nodes kept."""
    tenant_id = tenant_pk(tenant)
    participants = list(
        Participant.objects.filter(tenant=tenant_id).order_by(
            models.Case(models.When(lifecycle_stage=LifecycleStage.CHURNED, then=1), default=0),
            "display_name",
            "id",
        )[: MAX_GRAPH_NODES + 1]
    )
    truncated = len(participants) > MAX_GRAPH_NODES
    participants = sorted(participants[:MAX_GRAPH_NODES], key=lambda p: (p.display_name.lower(), str(p.pk)))
    kept = {p.pk for p in participants}
    edges = [
        GraphEdge(e.from_participant_id, e.to_participant_id, e.type, e.confidence_score)
        for e in Relationship.objects.filter(tenant=tenant_id).order_by("type", "id")
        if e.from_participant_id in kept and e.to_participant_id in kept
    ]
    return Graph(nodes=_layout(participants), edges=edges, truncated=truncated)


def participant_list(*, tenant: TenantRef, stage: str | None = None, kind: str | None = None) -> Any:
    """A tenant's participants by name; filtered by stage and kind when given."""
    qs = Participant.objects.filter(tenant=tenant_pk(tenant)).order_by("display_name", "id")
    if stage:
        qs = qs.filter(lifecycle_stage=stage)
    if kind:
        qs = qs.filter(kind=kind)
    return qs


def participant_relationships(*, participant: Participant) -> list[Relationship]:
    """Every edge touching `participant`, with both ends (one query)."""
    return list(
        Relationship.objects.filter(tenant=participant.tenant_id)
        .filter(models.Q(from_participant=participant) | models.Q(to_participant=participant))
        .select_related("from_participant", "to_participant")
        .order_by("type", "id")
    )


def graph_view_record(*, tenant: TenantRef, actor: Any, participant: Participant | None = None) -> None:
    """A sensitive read (DOMAIN.md, audit): who looked at the graph or at one participant."""
    if participant is None:
        audit_record(action="graph.viewed", tenant=tenant, actor=actor)
    else:
        audit_record(
            action="participant.viewed",
            tenant=tenant,
            target=participant,
            target_label=participant.display_name,
            actor=actor,
        )
