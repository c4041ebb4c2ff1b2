"""The console's sessions pages (issue 13): the list (filters, roots with their tree cost), one
session's tree (each node's own and total cost, from the database), its ledger entries, cancelling
the subtree after a confirmation; guards, other tenants' ids, query counts independent of the
tree's size."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from agents import services
from agents.models import AgentSession
from agents.tests.factories import AgentFactory, SessionFactory
from audit.models import AuditLogEntry
from billing.tests.factories import create_test_price, fund, make_subscription, usage
from core.tenancy import platform_bypass, tenant_context
from tenants.tests.factories import TeamFactory, member

pytestmark = pytest.mark.django_db


def _list(tenant: Any) -> str:
    return f"/t/{tenant.pk}/sessions/"


def _page(session: Any) -> str:
    return f"/t/{session.tenant_id}/sessions/{session.pk}/"


def _row(session: Any) -> str:
    """A session's row in the list (its first cell links to it)."""
    return f'<td><a href="{_page(session)}">'


def _statuses(*sessions: Any) -> list[str]:
    with platform_bypass(reason="test", log=False):
        found = {s.pk: s.status for s in AgentSession.objects.filter(pk__in=[s.pk for s in sessions])}
    return [found[s.pk] for s in sessions]


def _statements(client: Client, url: str) -> int:
    client.get(url)  # warm: sessions, configuration cache
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return len([q for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]])


def _tree(agent: Any) -> tuple[Any, Any, Any, Any]:
    """root (1.5) → child (2.25) → grandchild (0.5); root → second child (1), completed."""
    root = SessionFactory.create(agent=agent, credits_charged=Decimal("1.5"))
    child = SessionFactory.create(agent=agent, parent=root, credits_charged=Decimal("2.25"))
    grandchild = SessionFactory.create(agent=agent, parent=child, credits_charged=Decimal("0.5"))
    done = SessionFactory.create(agent=agent, parent=root, credits_charged=Decimal("1"), status="completed")
    with platform_bypass(reason="test", log=False):
        AgentSession.objects.filter(pk=root.pk).update(tree_credits_charged=Decimal("5.25"))
    return root, child, grandchild, done


# --- The list ----------------------------------------------------------------------------------


def test_sessions_page__owner__lists_sessions_roots_with_tree_cost(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    agent = AgentFactory.create(tenant=tenant, name="Bugsy")
    root, child, _, _ = _tree(agent)
    body = signed_in(owner).get(_list(tenant)).content.decode()
    assert "4 sessions" in body
    assert "Bugsy" in body
    assert "5.25" in body  # the root's tree cost
    assert _page(root) in body
    assert _page(child) in body
    assert f'href="{_list(tenant)}" aria-current="page"' in body  # the nav's Sessions section


def test_sessions_page__filters__agent_status_and_roots_only(signed_in: Any, tenant: Any, owner: Any) -> None:
    bugsy = AgentFactory.create(tenant=tenant, name="Bugsy")
    scribe = AgentFactory.create(tenant=tenant, name="Scribe")
    root, child, _, done = _tree(bugsy)
    theirs = SessionFactory.create(agent=scribe)
    client = signed_in(owner)
    body = client.get(_list(tenant), {"agent": str(scribe.pk)}).content.decode()
    assert (_row(theirs) in body, _row(root) in body) == (True, False)
    body = client.get(_list(tenant), {"roots_only": "on"}).content.decode()
    assert (_row(root) in body, _row(theirs) in body, _row(child) in body) == (True, True, False)
    body = client.get(_list(tenant), {"status": "completed"}).content.decode()
    assert (_row(done) in body, _row(root) in body) == (True, False)


def test_sessions_page__bad_filter__400_error_in_place(signed_in: Any, tenant: Any, owner: Any) -> None:
    response = signed_in(owner).get(_list(tenant), {"agent": "not-an-agent"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


def test_sessions_page__member__only_sessions_of_agents_they_see(signed_in: Any, tenant: Any) -> None:
    team = TeamFactory.create(tenant=tenant)
    teammate = member(tenant, "member", team=team)
    ours = SessionFactory.create(agent=AgentFactory.create(tenant=tenant, team=team, name="Ours"))
    hidden = SessionFactory.create(agent=AgentFactory.create(tenant=tenant, name="Hidden"))
    client = signed_in(teammate)
    body = client.get(_list(tenant)).content.decode()
    assert _page(ours) in body
    assert "Hidden" not in body
    assert client.get(_page(hidden)).status_code == 404


def test_sessions_page__other_tenant__403_page_naming_nothing_of_it(
    signed_in: Any, owner: Any, other_tenant: Any
) -> None:
    SessionFactory.create(agent=AgentFactory.create(tenant=other_tenant, name="Their secret agent"))
    response = signed_in(owner).get(_list(other_tenant))
    assert response.status_code == 403
    assert "Their secret agent" not in response.content.decode()


def test_sessions_page__query_count__same_for_one_session_and_many(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    agent = AgentFactory.create(tenant=tenant)
    root = SessionFactory.create(agent=agent)
    client = signed_in(owner)
    few = _statements(client, _list(tenant))
    for _ in range(6):
        SessionFactory.create(agent=agent, parent=root)
    SessionFactory.create_batch(6, agent=AgentFactory.create(tenant=tenant))
    assert _statements(client, _list(tenant)) == few


# --- One session: the tree --------------------------------------------------------------------


def test_session_page__tree__nested_nodes_with_own_and_total_cost(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    agent = AgentFactory.create(tenant=tenant, name="Bugsy")
    root, child, grandchild, done = _tree(agent)
    body = signed_in(owner).get(_page(root)).content.decode()
    assert "Tree: 4 sessions, 5.25 credits" in body
    # Nesting: the grandchild's node sits inside the child's list item.
    child_at, grandchild_at = body.index(_page(child)), body.index(_page(grandchild))
    assert child_at < grandchild_at
    assert "<ul>" in body[child_at:grandchild_at]  # the grandchild is in the child's own list
    assert _page(done) in body
    assert body.count('data-testid="tree-node"') == 4
    assert 'data-depth="2"' in body
    assert 'total <strong data-testid="node-total">2.75</strong>' in body  # the child: 2.25 + 0.5
    assert "Cancel this session and its subtree" in body


def test_session_page__a_subtree__only_the_nodes_below_it(signed_in: Any, tenant: Any, owner: Any) -> None:
    root, child, _grandchild, done = _tree(AgentFactory.create(tenant=tenant))
    body = signed_in(owner).get(_page(child)).content.decode()
    assert "Tree: 2 sessions, 2.75 credits" in body
    assert _page(done) not in body
    assert _page(root) in body  # "its root" link


def test_session_page__ledger_entries_of_the_tree_listed(signed_in: Any, tenant: Any, owner: Any) -> None:
    root, child, _, _ = _tree(AgentFactory.create(tenant=tenant))
    other_root = SessionFactory.create(agent=AgentFactory.create(tenant=tenant))
    create_test_price()
    make_subscription(tenant)
    fund(tenant, 100)
    with tenant_context(tenant.pk):
        services.session_report_usage(session=child, event=usage(credits=3), idempotency_key="a")
        services.session_report_usage(session=other_root, event=usage(credits=7), idempotency_key="b")
    body = signed_in(owner).get(_page(root)).content.decode()
    assert "Ledger entries of this tree" in body
    ledger = body[body.index('data-testid="session-ledger"') :]
    assert ledger.count("<tr><td>") == 1  # the child's usage; not the other tree's, not the grant
    assert "3.00" in ledger
    assert "7.00" not in ledger
    assert f'href="/t/{tenant.pk}/credits/"' in ledger


def test_session_page__another_tenants_session__404_page(
    signed_in: Any, tenant: Any, owner: Any, other_tenant: Any
) -> None:
    theirs = SessionFactory.create(agent=AgentFactory.create(tenant=other_tenant, name="Their secret agent"))
    client = signed_in(owner)
    for response in (
        client.get(f"{_list(tenant)}{theirs.pk}/"),
        client.get(f"{_list(tenant)}{theirs.pk}/cancel/"),
        client.post(f"{_list(tenant)}{theirs.pk}/cancel/", {"reason": "mine now"}),
    ):
        assert response.status_code == 404
        assert "Their secret agent" not in response.content.decode()
    assert _statuses(theirs) == ["running"]


def test_session_page__viewer__no_cancel_button_and_cancel_403(signed_in: Any, tenant: Any) -> None:
    team = TeamFactory.create(tenant=tenant)
    viewer = member(tenant, "viewer", team=team)
    root = SessionFactory.create(agent=AgentFactory.create(tenant=tenant, team=team))
    client = signed_in(viewer)
    body = client.get(_page(root)).content.decode()
    assert "Tree: 1 session" in body
    assert "Cancel this session" not in body
    assert client.get(f"{_page(root)}cancel/").status_code == 403
    assert client.post(f"{_page(root)}cancel/", {"reason": "x"}).status_code == 403
    assert _statuses(root) == ["running"]


def test_session_cancel__confirm_then_post__cancels_open_subtree_audited(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    root, child, grandchild, done = _tree(AgentFactory.create(tenant=tenant))
    client = signed_in(owner)
    confirm = client.get(f"{_page(child)}cancel/").content.decode()
    assert "Yes, cancel 2 sessions" in confirm
    assert _statuses(child) == ["running"]  # a GET changes nothing
    response = client.post(f"{_page(child)}cancel/", {"reason": "Runaway"})
    assert (response.status_code, response["Location"]) == (302, _page(child))
    assert _statuses(root, child, grandchild, done) == ["running", "cancelled", "cancelled", "completed"]
    with platform_bypass(reason="test", log=False):
        [entry] = AuditLogEntry.objects.filter(tenant=tenant, action="session.cancelled")
    assert entry.target_id == str(child.pk)
    body = client.get(_page(child)).content.decode()
    assert "Cancelled 2 sessions and 0 tasks." in body
    assert "Cancel this session and its subtree" not in body  # nothing open below it any more


def test_session_cancel__nothing_open__409_said_in_place(signed_in: Any, tenant: Any, owner: Any) -> None:
    done = SessionFactory.create(agent=AgentFactory.create(tenant=tenant), status="completed")
    response = signed_in(owner).post(f"{_page(done)}cancel/", {"reason": ""})
    assert response.status_code == 409
    assert 'role="alert"' in response.content.decode()
    assert _statuses(done) == ["completed"]


def test_session_page__tree_of_100_nodes__same_queries_as_a_tree_of_3(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    agent = AgentFactory.create(tenant=tenant)
    small = SessionFactory.create(agent=agent)
    SessionFactory.create(agent=agent, parent=SessionFactory.create(agent=agent, parent=small))
    big = SessionFactory.create(agent=agent, credits_charged=Decimal("1"))
    level = [big]
    made = 1
    while made < 100:  # 5 levels: 1 + 3 + 9 + 27 + 60
        following = []
        for parent in level:
            for _ in range(3):
                if made == 100:
                    break
                following.append(
                    SessionFactory.create(agent=parent.agent, parent=parent, credits_charged=Decimal("1"))
                )
                made += 1
        level = following
    client = signed_in(owner)
    few = _statements(client, _page(small))
    body = client.get(_page(big)).content.decode()
    assert "Tree: 100 sessions, 100.00" in body or "Tree: 100 sessions, 100 credits" in body
    assert body.count('data-testid="tree-node"') == 100
    assert _statements(client, _page(big)) == few
