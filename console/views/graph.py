"""The participant graph of a tenant (issue 14): drawn server-side as SVG from
insights.services.graph (a deterministic concentric layout: members inside, agents, invitees
outside), every node a link to its participant; one participant with their profile,
relationships, recent audit entries and open recommendations.

Guard: interventions:admin, the operator's permission, as the API. Both pages are sensitive
reads: each view writes an audit entry (graph.viewed, participant.viewed), as the API does.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path

from audit.models import AuditLogEntry
from console.access import render_page, tenant_page
from core.access import TenantAccess
from insights.models import Participant, Recommendation, RecommendationStatus
from insights.services import graph

GRAPH = "console/graph/graph.html"
PARTICIPANT = "console/graph/participant.html"
PERMISSION = "interventions:admin"
RECENT_ENTRIES = 15

STAGE_COLOURS = {
    "invited": "#a78bfa",
    "onboarding": "#38bdf8",
    "active": "#22c55e",
    "dormant": "#f59e0b",
    "churned": "#9ca3af",
}
EDGE_COLOURS = {
    "invited": "#a78bfa",
    "manages": "#0f766e",
    "assists": "#2563eb",
    "spawned": "#db2777",
    "collaborates": "#94a3b8",
}


@tenant_page(PERMISSION)
def graph_page(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    data = graph.graph_get(tenant=access.tenant)
    graph.graph_view_record(tenant=access.tenant, actor=request.user)
    where = {n.id: n for n in data.nodes}
    edges = [
        {
            "x1": where[e.source].x,
            "y1": where[e.source].y,
            "x2": where[e.target].x,
            "y2": where[e.target].y,
            "type": e.type,
            "colour": EDGE_COLOURS.get(e.type, "#94a3b8"),
            "dashed": e.type == "collaborates",
            "from_label": where[e.source].label,
            "to_label": where[e.target].label,
        }
        for e in data.edges
    ]
    nodes = [
        {
            "id": n.id,
            "label": n.label,
            "kind": n.kind,
            "stage": n.stage,
            "x": n.x,
            "y": n.y,
            "left": round(n.x - 13, 1),
            "top": round(n.y - 13, 1),
            "colour": STAGE_COLOURS.get(n.stage, "#9ca3af"),
            "square": n.kind == "agent",
        }
        for n in data.nodes
    ]
    # The drawing's box: the nodes' bounds and room for the labels, so a small graph is not lost
    # in the empty square.
    xs, ys = [n.x for n in data.nodes] or [0.0], [n.y for n in data.nodes] or [0.0]
    left, top = min(xs) - 120, min(ys) - 40
    context: dict[str, Any] = {
        "view_box": f"{left} {top} {max(xs) - left + 120} {max(ys) - top + 60}",
        "nodes": nodes,
        "edges": edges,
        "truncated": data.truncated,
        "canvas": graph.CANVAS,
        "stages": STAGE_COLOURS,
        "edge_types": EDGE_COLOURS,
    }
    return render_page(request, GRAPH, context, access=access)


@tenant_page(PERMISSION)
def participant_page(request: HttpRequest, access: TenantAccess, participant_id: UUID) -> HttpResponse:
    try:
        participant = graph.participant_list(tenant=access.tenant).get(pk=participant_id)
    except Participant.DoesNotExist as exc:
        raise Http404 from exc
    relationships = graph.participant_relationships(participant=participant)
    subject_ids = [str(i) for i in (participant.user_id, participant.agent_id) if i]
    entries: list[AuditLogEntry] = []
    recommendations: list[Recommendation] = []
    if subject_ids:
        about = Q(target_id__in=subject_ids)
        if participant.user_id:
            about |= Q(actor_user_id=participant.user_id)
        entries = list(
            AuditLogEntry.objects.filter(about, tenant=access.tenant).order_by("-created_at", "-id")[
                :RECENT_ENTRIES
            ]
        )
        recommendations = list(
            Recommendation.objects.filter(
                tenant=access.tenant, status=RecommendationStatus.OPEN, target_id__in=subject_ids
            ).order_by("-created_at", "-id")
        )
    graph.graph_view_record(tenant=access.tenant, actor=request.user, participant=participant)
    context = {
        "participant": participant,
        "relationships": [
            {
                "type": r.type,
                "source": r.source,
                "confidence": r.confidence_score,
                "outgoing": r.from_participant_id == participant.pk,
                "other": r.to_participant if r.from_participant_id == participant.pk else r.from_participant,
            }
            for r in relationships
        ],
        "entries": entries,
        "recommendations": recommendations,
        "stage_colour": STAGE_COLOURS.get(participant.lifecycle_stage, "#9ca3af"),
        "nav_current": "console:graph",
    }
    return render_page(request, PARTICIPANT, context, access=access)


TENANT = "t/<uuid:tenant_id>/"

urlpatterns = [
    path(f"{TENANT}graph/", graph_page, name="graph"),
    path(f"{TENANT}graph/participants/<uuid:participant_id>/", participant_page, name="participant"),
]
