"""Sensitive reads recorded in the audit log (DOMAIN.md, audit: "graph views, participant detail
views, recommendation views, secret reveals"): who looked at a tenant's recommendations (the list
or one) and at a segment's members (segments name people). The graph's and a participant's views
are `graph.graph_view_record`; a secret's reveal is audited by tenants' secret service.

Called by the API views and the console pages after the read, in the request's transaction (a
request that fails afterwards records nothing, as it showed nothing)."""

from __future__ import annotations

from typing import Any

from audit.services import audit_record
from core.types import TenantRef
from insights.models import Recommendation


def recommendations_view_record(
    *, tenant: TenantRef, actor: Any, recommendation: Recommendation | None = None, status: str = ""
) -> None:
    """`recommendations.viewed` (the list, with its status filter) or `recommendation.viewed` (one)."""
    if recommendation is None:
        audit_record(
            action="recommendations.viewed", tenant=tenant, details={"status": status or "all"}, actor=actor
        )
    else:
        audit_record(
            action="recommendation.viewed",
            tenant=tenant,
            target=recommendation,
            target_label=recommendation.target_label or str(recommendation.target_id),
            details={"suggested_action": recommendation.suggested_action},
            actor=actor,
        )


def segment_view_record(*, tenant: TenantRef, actor: Any, name: str) -> None:
    """`segment.viewed`: (a page of) a segment's members."""
    audit_record(
        action="segment.viewed",
        tenant=tenant,
        target_type="insights.segment",
        target_id=name,
        target_label=name,
        actor=actor,
    )
