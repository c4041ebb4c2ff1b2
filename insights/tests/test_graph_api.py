"""The graph API: nodes and edges ready to draw, participants paginated, one participant; the
sensitive reads recorded; isolation and permissions; pinned query counts."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import UserFactory
from agents.tests.factories import AgentFactory
from audit.models import AuditLogEntry
from core.tenancy import platform_bypass
from insights.models import Participant
from insights.services.graph import participants_sync
from tenants.tests.factories import member

pytestmark = pytest.mark.django_db


def url(tenant: Any, suffix: str = "") -> str:
    return f"/api/v1/tenants/{tenant.pk}/{suffix}"


def audited(tenant: Any, action: str) -> list[AuditLogEntry]:
    with platform_bypass(reason="test", log=False):
        return list(AuditLogEntry.objects.filter(tenant=tenant, action=action))


def test_graph__owner__nodes_and_edges_ready_to_draw_and_the_view_recorded(tenant, owner, as_user):
    owner.full_name = "Olga Owner"
    owner.save()
    AgentFactory.create(tenant=tenant, name="Aide", assisted_user=owner)
    participants_sync(tenant=tenant)
    r = as_user(owner).get(url(tenant, "graph"))
    assert r.status_code == 200, r.content
    body = r.json()
    labels = {n["label"]: n for n in body["nodes"]}
    assert set(labels) == {"Olga Owner", "Aide"}
    assert labels["Aide"]["kind"] == "agent"
    assert labels["Olga Owner"]["stage"] in {"onboarding", "active"}
    assert all(0 <= n["x"] <= 1000 and 0 <= n["y"] <= 1000 for n in body["nodes"])
    assert body["edges"] == [
        {
            "from": labels["Aide"]["id"],
            "to": labels["Olga Owner"]["id"],
            "type": "assists",
            "confidence": "1.00",
        }
    ]
    assert body["truncated"] is False
    [entry] = audited(tenant, "graph.viewed")
    assert entry.actor_label == owner.email


def test_graph__same_data__same_layout(tenant, owner, as_user):
    for i in range(5):
        member(tenant, "member", user=UserFactory.create(full_name=f"P{i}"))
    participants_sync(tenant=tenant)
    client = as_user(owner)
    assert client.get(url(tenant, "graph")).json() == client.get(url(tenant, "graph")).json()


def test_graph__member_without_the_permission__403_and_nothing_recorded_as_viewed(tenant, as_user):
    r = as_user(member(tenant, "member")).get(url(tenant, "graph"))
    assert r.status_code == 403
    assert audited(tenant, "graph.viewed") == []


def test_graph__another_tenants_owner__403(tenant, other_tenant, as_user):
    r = as_user(member(other_tenant, "owner")).get(url(tenant, "graph"))
    assert r.status_code == 403


def test_participants__filter_by_stage_and_kind(tenant, owner, as_user):
    AgentFactory.create(tenant=tenant, name="Bot", status="provisioning")
    participants_sync(tenant=tenant)
    client = as_user(owner)
    agents = client.get(url(tenant, "participants"), {"kind": "agent"}).json()["results"]
    assert [p["display_name"] for p in agents] == ["Bot"]
    assert agents[0]["lifecycle_stage"] == "onboarding"
    assert client.get(url(tenant, "participants"), {"stage": "churned"}).json()["results"] == []
    bad = client.get(url(tenant, "participants"), {"stage": "zombie"})
    assert bad.status_code == 400


def test_participant_detail__relationships_and_the_view_recorded(tenant, owner, as_user):
    AgentFactory.create(tenant=tenant, name="Aide", assisted_user=owner)
    participants_sync(tenant=tenant)
    with platform_bypass(reason="test", log=False):
        aide = Participant.objects.get(tenant=tenant, display_name="Aide")
    r = as_user(owner).get(url(tenant, f"participants/{aide.pk}"))
    assert r.status_code == 200, r.content
    [rel] = r.json()["relationships"]
    assert (rel["type"], rel["from_label"], rel["source"]) == ("assists", "Aide", "system")
    [entry] = audited(tenant, "participant.viewed")
    assert entry.target_id == str(aide.pk)


def test_participant_detail__another_tenants_participant__404(tenant, other_tenant, owner, as_user):
    member(other_tenant, "member")
    participants_sync(tenant=other_tenant)
    with platform_bypass(reason="test", log=False):
        theirs = Participant.objects.filter(tenant=other_tenant).get()
    r = as_user(owner).get(url(tenant, f"participants/{theirs.pk}"))
    assert r.status_code == 404


def test_graph_and_participants__query_count_independent_of_rows(tenant, owner, as_user):
    client = as_user(owner)
    participants_sync(tenant=tenant)
    client.get(url(tenant, "graph"))
    with CaptureQueriesContext(connection) as few_graph:
        client.get(url(tenant, "graph"))
    with CaptureQueriesContext(connection) as few_list:
        client.get(url(tenant, "participants"))
    for i in range(6):
        member(tenant, "member", user=UserFactory.create(full_name=f"M{i}"))
        AgentFactory.create(tenant=tenant, name=f"A{i}", assisted_user=owner)
    participants_sync(tenant=tenant)
    with CaptureQueriesContext(connection) as many_graph:
        assert len(client.get(url(tenant, "graph")).json()["edges"]) == 6
    with CaptureQueriesContext(connection) as many_list:
        client.get(url(tenant, "participants"))
    assert len(many_graph.captured_queries) == len(few_graph.captured_queries)
    assert len(many_list.captured_queries) == len(few_list.captured_queries)
