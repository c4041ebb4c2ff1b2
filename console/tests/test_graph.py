"""The graph page and the participant page: what an owner sees (nodes as links, the SVG), a lower
role 403, another tenant's participant 404, the views recorded, pinned query counts."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import UserFactory
from agents.tests.factories import AgentFactory
from audit.models import AuditLogEntry
from core.tenancy import platform_bypass
from insights.models import Participant, Recommendation
from insights.services.graph import participants_sync
from tenants.tests.factories import member

pytestmark = pytest.mark.django_db


def graph_url(tenant: Any) -> str:
    return f"/t/{tenant.pk}/graph/"


def participant_url(tenant: Any, participant: Any) -> str:
    return f"/t/{tenant.pk}/graph/participants/{participant.pk}/"


def participant(tenant: Any, name: str) -> Participant:
    with platform_bypass(reason="test", log=False):
        return Participant.objects.get(tenant=tenant, display_name=name)


def statements(client: Client, url: str) -> int:
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len([q for q in captured.captured_queries if "SAVEPOINT" not in (q["sql"] or "")])


def test_graph_page__owner__svg_with_a_link_per_node_and_the_view_recorded(tenant, owner, signed_in):
    owner.full_name = "Olga Owner"
    owner.save()
    AgentFactory.create(tenant=tenant, name="Aide", assisted_user=owner)
    participants_sync(tenant=tenant)
    body = signed_in(owner).get(graph_url(tenant)).content.decode()
    assert "<svg" in body
    assert participant_url(tenant, participant(tenant, "Aide")) in body
    assert participant_url(tenant, participant(tenant, "Olga Owner")) in body
    assert "Aide assists Olga Owner" in body
    assert ">Graph<" in body  # the section tab
    with platform_bypass(reason="test", log=False):
        assert AuditLogEntry.objects.filter(tenant=tenant, action="graph.viewed").count() == 1


def test_graph_page__empty__says_what_to_do(tenant, owner, signed_in):
    with platform_bypass(reason="test", log=False):
        Participant.objects.filter(tenant=tenant).delete()
    body = signed_in(owner).get(graph_url(tenant)).content.decode()
    assert "No participants yet" in body


def test_graph_page__viewer__403_and_no_tab(tenant, viewer, signed_in):
    client = signed_in(viewer)
    assert client.get(graph_url(tenant)).status_code == 403
    assert f'href="{graph_url(tenant)}"' not in client.get(f"/t/{tenant.pk}/").content.decode()


def test_participant_page__profile_relationships_recommendations_audit(tenant, owner, signed_in):
    owner.full_name = "Olga Owner"
    owner.save()
    aide = AgentFactory.create(tenant=tenant, name="Aide", assisted_user=owner)
    participants_sync(tenant=tenant)
    with platform_bypass(reason="test", log=False):
        Recommendation.objects.create(
            tenant=tenant,
            rule="test",
            target_type="agents.agent",
            target_id=str(aide.pk),
            suggested_action="pause_agent",
            reason="Fails a lot",
            confidence="0.9",
        )
    client = signed_in(owner)
    body = client.get(participant_url(tenant, participant(tenant, "Aide"))).content.decode()
    assert "assists" in body
    assert "Olga Owner" in body
    assert "Fails a lot" in body
    with platform_bypass(reason="test", log=False):
        assert AuditLogEntry.objects.filter(tenant=tenant, action="participant.viewed").count() == 1
    owner_page = client.get(participant_url(tenant, participant(tenant, "Olga Owner"))).content.decode()
    assert "participant.viewed" in owner_page  # her own view of Aide is an entry about her


def test_participant_page__another_tenants_participant__404(tenant, other_tenant, owner, signed_in):
    member(other_tenant, "member", user=UserFactory.create(full_name="Secret Sam"))
    participants_sync(tenant=other_tenant)
    response = signed_in(owner).get(participant_url(tenant, participant(other_tenant, "Secret Sam")))
    assert response.status_code == 404
    assert "Secret Sam" not in response.content.decode()


def test_graph_and_participant_pages__query_counts_independent_of_rows(tenant, owner, signed_in):
    client = signed_in(owner)
    participants_sync(tenant=tenant)
    me = participant(tenant, owner.full_name or owner.email)
    few_graph, few_me = statements(client, graph_url(tenant)), statements(client, participant_url(tenant, me))
    for i in range(8):
        member(tenant, "member", user=UserFactory.create(full_name=f"M{i}"))
        AgentFactory.create(tenant=tenant, name=f"A{i}", assisted_user=owner)
    participants_sync(tenant=tenant)
    assert statements(client, graph_url(tenant)) == few_graph
    assert statements(client, participant_url(tenant, me)) == few_me
