"""Sensitive reads over the API (DOMAIN.md, audit): the recommendations (list and one) and a
segment's members each write an audit entry naming who looked; a refused or failed read writes
none; the segment list (counts only) is not one."""

from __future__ import annotations

from typing import Any

import pytest

from audit.models import AuditLogEntry
from core.tenancy import platform_bypass
from insights.tests.factories import make_recommendation
from tenants.tests.factories import member

pytestmark = pytest.mark.django_db


def url(tenant: Any, suffix: str) -> str:
    return f"/api/v1/tenants/{tenant.pk}/{suffix}"


def audited(tenant: Any, action: str) -> list[AuditLogEntry]:
    with platform_bypass(reason="test", log=False):
        return list(AuditLogEntry.objects.filter(tenant=tenant, action=action).order_by("created_at"))


def test_recommendation_list__viewed__recorded_with_actor_role_and_filter(tenant, owner, as_user):
    make_recommendation(tenant)
    client = as_user(owner)

    assert client.get(url(tenant, "recommendations")).status_code == 200
    assert client.get(url(tenant, "recommendations"), {"status": "open"}).status_code == 200

    entries = audited(tenant, "recommendations.viewed")
    assert [e.details for e in entries] == [{"status": "all"}, {"status": "open"}]
    assert {(e.actor_label, e.actor_role, e.actor_type) for e in entries} == {(owner.email, "owner", "user")}


def test_recommendation_detail__viewed__recorded_with_its_target(tenant, owner, as_user):
    pk = make_recommendation(tenant)

    response = as_user(owner).get(url(tenant, f"recommendations/{pk}"))

    assert response.status_code == 200, response.content
    [entry] = audited(tenant, "recommendation.viewed")
    assert (entry.target_type, entry.target_id) == ("insights.recommendation", str(pk))
    assert entry.details == {"suggested_action": "revoke_api_key"}
    assert entry.actor_label == owner.email


def test_recommendation_reads__refused_or_bad_filter_or_unknown_id__nothing_recorded_as_viewed(
    tenant, owner, as_user
):
    make_recommendation(tenant)
    viewer = as_user(member(tenant, "viewer"))

    assert viewer.get(url(tenant, "recommendations")).status_code == 403
    assert as_user(owner).get(url(tenant, "recommendations"), {"status": "zombie"}).status_code == 400
    unknown = "recommendations/00000000-0000-4000-8000-000000000000"
    assert as_user(owner).get(url(tenant, unknown)).status_code == 404

    assert audited(tenant, "recommendations.viewed") == []
    assert audited(tenant, "recommendation.viewed") == []
    assert len(audited(tenant, "access.denied")) == 1  # the viewer's refusal, recorded as such


def test_segment_members__viewed__recorded_with_the_segment(tenant, owner, as_user):
    client = as_user(owner)

    assert client.get(url(tenant, "segments/dormant_members")).status_code == 200
    assert client.get(url(tenant, "segments/no_such_segment")).status_code == 404
    assert client.get(url(tenant, "segments")).status_code == 200  # counts name nobody

    [entry] = audited(tenant, "segment.viewed")
    assert (entry.target_type, entry.target_id, entry.actor_label) == (
        "insights.segment",
        "dormant_members",
        owner.email,
    )
