"""A tenant's segments (`/t/<id>/segments/`): every segment of insights.segments with its count
and its documentation line; one segment (`/t/<id>/segments/<name>/`) with its members, 50 a page,
each with the interventions that act on that kind of member (buttons opening the intervention
form prefilled with the type and the member).

Guard: interventions:admin, as the API's (segments name people). One query a segment on the
list; two (count, page) on a segment's page.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils.http import urlencode

from console.access import refusal_page, render_page, tenant_page
from console.formatting import amount
from console.views.interventions import TYPE_LABELS, may_run, target_url
from core.access import TenantAccess
from insights import services
from insights.segments import SEGMENTS, Segment

PERMISSION = "interventions:admin"
PAGE_SIZE = 50

# What a segment's member is, as the interventions name their targets.
_KIND_TARGETS = {
    "user": ("accounts.user",),
    "agent": ("agents.agent",),
    "tenant": ("tenants.tenant", "billing.creditaccount"),
}


def applicable(access: TenantAccess, segment: Segment) -> list[tuple[str, str]]:
    """The intervention types that act on this segment's kind of member and the caller may run."""
    targets = _KIND_TARGETS.get(segment.target_type, ())
    return [
        (type_, TYPE_LABELS.get(type_, type_))
        for type_, kind in services.KINDS.items()
        if kind.target_type in targets and may_run(access, type_)
    ]


@tenant_page(PERMISSION)
def segments(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    """Every segment with its member count and what it means."""
    rows = [{"segment": s, "count": s.count(access.tenant)} for s in SEGMENTS.values()]
    return render_page(request, "console/insights/segments.html", {"rows": rows}, access=access)


def _metric(value: Any) -> Any:
    if isinstance(value, Decimal):
        return amount(value)
    return value


@tenant_page(PERMISSION)
def segment(request: HttpRequest, access: TenantAccess, name: str) -> HttpResponse:
    """One segment's members in the segment's order, with the interventions that apply."""
    found = SEGMENTS.get(name)
    if found is None:
        return refusal_page(request, status=404, detail="There is no such segment.")
    page = Paginator(found.members(access.tenant), PAGE_SIZE).get_page(request.GET.get("page"))
    services.segment_view_record(
        tenant=access.tenant, actor=request.user, name=found.name
    )  # a sensitive read
    actions = applicable(access, found)
    members = []
    for row in page.object_list:
        member_id = str(row["member_id"])
        members.append(
            {
                "id": member_id,
                "label": row["label"],
                "metric": _metric(row["metric"]),
                "is_time": isinstance(row["metric"], datetime),
                "url": target_url(access.tenant.pk, found.target_type, member_id),
                "actions": [
                    (label, urlencode({"type": type_, "target": member_id})) for type_, label in actions
                ],
            }
        )
    context = {
        "segment": found,
        "page": page,
        "members": members,
        "actions": actions,
        "nav_current": "console:segments",
    }
    return render_page(request, "console/insights/segment.html", context, access=access)


TENANT = "t/<uuid:tenant_id>/"
urlpatterns = [
    path(f"{TENANT}segments/", segments, name="segments"),
    path(f"{TENANT}segments/<slug:name>/", segment, name="segment"),
]
