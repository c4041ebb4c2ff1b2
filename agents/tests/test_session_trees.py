"""Session trees: cost computed in the database equals the ledger, cancel in a constant number of
queries, spawn limits, a root's budget shared by its tree under concurrent usage; recipes' YAML
errors name the line."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agents import services
from agents.errors import SessionBudgetExceeded, SessionLimit
from agents.models import AgentSession, AgentTask, SessionStatus, TaskStatus
from agents.recipes import parse_recipe
from agents.selectors import session_tree
from agents.tests.factories import AgentFactory, SessionFactory, TaskFactory
from billing.models import CreditTransaction
from billing.tests.factories import create_test_price, fund, make_subscription, usage
from billing.tests.test_concurrency import in_threads
from core.errors import InvalidInput
from core.tenancy import platform_bypass, tenant_context
from tenants.tests.factories import TenantFactory

# 1 + 3 + 9 + 27 + 60: five levels, 100 sessions.
LEVELS = (1, 3, 9, 27, 60)


def _spawn_tree(tenant: Any, agent: Any) -> list[AgentSession]:
    """A 100-session tree of five levels through the services (the limits checked each time)."""
    root = services.session_start(tenant=tenant, agent=agent, actor=None)
    nodes, level = [root], [root]
    for size in LEVELS[1:]:
        level = [
            services.session_spawn(tenant=tenant, parent=level[i % len(level)], actor=None)
            for i in range(size)
        ]
        nodes += level
    return nodes


def test_session_tree__5_levels_100_nodes__costs_equal_the_ledger_in_one_query(
    tenant, price, django_assert_num_queries
):
    make_subscription(tenant)
    fund(tenant, 1000)
    agent = AgentFactory.create(tenant=tenant)
    with tenant_context(tenant):
        tenant.resource_limits = {**(tenant.resource_limits or {}), "max_concurrent_sessions": 100}
        nodes = _spawn_tree(tenant, agent)
        for n, node in enumerate(nodes):  # 1, 2 or 3 credits on each node
            services.session_report_usage(
                session=node, event=usage(credits=n % 3 + 1), idempotency_key=f"k{n}"
            )
        with django_assert_num_queries(1):
            tree = session_tree(session=nodes[0])
        ledger = {
            session_id: -amount
            for session_id, amount in CreditTransaction.objects.filter(
                tenant=tenant, agent_session_id__isnull=False
            ).values_list("agent_session_id", "amount")
        }
        middle = next(node for node in nodes if node.depth == 2)
        subtree = session_tree(session=middle)
        root_total = AgentSession.objects.get(pk=nodes[0].pk).tree_credits_charged
    assert [node.depth for node in nodes].count(4) == 60
    assert len(tree) == 100
    assert len(ledger) == 100  # one entry per session, naming it
    assert {node.id: node.credits_charged for node in tree} == ledger
    assert (
        tree[0].total_credits_charged == sum(ledger.values()) == Decimal(sum(n % 3 + 1 for n in range(100)))
    )
    assert tree[0].descendants == 99
    # A subtree's total is its own nodes' ledger entries, no more.
    assert subtree[0].total_credits_charged == sum(ledger[node.id] for node in subtree)
    assert root_total == sum(ledger.values())


def _factory_tree(tenant: Any, size: int) -> AgentSession:
    """A tree of `size` sessions (a chain of 5 levels, the rest children of the deepest), each
    with an open task."""
    agent = AgentFactory.create(tenant=tenant)
    root = SessionFactory.create(agent=agent)
    parent = root
    nodes = [root]
    for _ in range(4):
        parent = SessionFactory.create(agent=agent, parent=parent)
        nodes.append(parent)
    nodes += [SessionFactory.create(agent=agent, parent=nodes[3]) for _ in range(size - 5)]
    for node in nodes:
        TaskFactory.create(agent=agent, session=node)
    return root


def test_session_cancel__small_and_large_tree__same_query_count_every_descendant_cancelled(tenant):
    counts = []
    for size in (6, 60):
        root = _factory_tree(tenant, size)
        with tenant_context(tenant), CaptureQueriesContext(connection) as queries:
            cancelled = services.session_cancel(session=root, actor=None, reason="stop")
        counts.append(len(queries))
        assert cancelled == (size, size)
        with platform_bypass(reason="test: check", log=False):
            assert set(AgentSession.objects.filter(root_id=root.pk).values_list("status", flat=True)) == {
                SessionStatus.CANCELLED
            }
            assert set(
                AgentTask.objects.filter(session__root_id=root.pk).values_list("status", flat=True)
            ) == {TaskStatus.CANCELLED}
    assert counts[0] == counts[1]


def test_session_spawn__past_depth_children_and_concurrency__422_each_with_its_code(tenant, price):
    make_subscription(tenant)
    agent = AgentFactory.create(tenant=tenant)
    deep = SessionFactory.create(agent=agent)
    for _ in range(5):  # agents.max_depth defaults to 5
        deep = SessionFactory.create(agent=agent, parent=deep)
    busy = SessionFactory.create(agent=agent)
    SessionFactory.create_batch(20, agent=agent, parent=busy)  # agents.max_children: 20
    with tenant_context(tenant):
        with pytest.raises(SessionLimit) as depth:
            services.session_spawn(tenant=tenant, parent=deep, actor=None)
        with pytest.raises(SessionLimit) as children:
            services.session_spawn(tenant=tenant, parent=busy, actor=None)
        tenant.resource_limits = {
            **(tenant.resource_limits or {}),
            "max_concurrent_sessions": 27,
        }  # 27 are open
        with pytest.raises(SessionLimit) as concurrent:
            services.session_start(tenant=tenant, agent=agent, actor=None)
    assert depth.value.code == "session_depth_exceeded"
    assert children.value.code == "session_children_exceeded"
    assert concurrent.value.code == "concurrent_sessions_exceeded"


@pytest.mark.django_db(transaction=True)
def test_session_budget__8_threads_charging_one_tree__never_past_the_budget():
    create_test_price()
    tenant = TenantFactory.create()
    make_subscription(tenant)
    fund(tenant, 1000)
    agent = AgentFactory.create(tenant=tenant)
    with tenant_context(tenant):
        root = services.session_start(tenant=tenant, agent=agent, actor=None, credit_budget=Decimal("10"))
        children = [services.session_spawn(tenant=tenant, parent=root, actor=None) for _ in range(3)]
    nodes = [root, *children]

    def work(i: int) -> list[str]:
        outcomes = []
        for n in range(5):
            try:
                with tenant_context(tenant.pk):
                    services.session_report_usage(
                        session=nodes[(i + n) % 4], event=usage(credits=1), idempotency_key=f"t{i}-{n}"
                    )
                outcomes.append("charged")
            except SessionBudgetExceeded:
                outcomes.append("refused")
        return outcomes

    results = in_threads(8, work)
    assert not [r for r in results if isinstance(r, Exception)], results
    outcomes = [o for r in results for o in r]
    with platform_bypass(reason="test: check", log=False):
        spent = -sum(
            CreditTransaction.objects.filter(
                tenant=tenant, agent_session_id__in=[n.pk for n in nodes]
            ).values_list("amount", flat=True)
        )
        root_row = AgentSession.objects.get(pk=root.pk)
        own = sum(AgentSession.objects.filter(root_id=root.pk).values_list("credits_charged", flat=True))
    assert outcomes.count("charged") == 10
    assert outcomes.count("refused") == 30
    assert spent == root_row.tree_credits_charged == own == Decimal("10")


@pytest.mark.parametrize(
    ("source", "line"),
    [
        # A step's action outside the schema: the line of the offending value.
        ("steps:\n  - id: a\n    action: tool\n    tool: x\n  - id: b\n    action: dance\n", 6),
        # Broken YAML: the parser's line.
        ("steps:\n  - id: a\n    action: tool\n   tool: x\n", 4),
        # A need that is no earlier step: the step's line.
        (
            "steps:\n  - id: a\n    action: tool\n    tool: x\n  - id: b\n    action: wait\n    needs: [c]\n",
            5,
        ),
    ],
)
def test_parse_recipe__bad_yaml__400_naming_the_line(source, line):
    with pytest.raises(InvalidInput) as error:
        parse_recipe(source)
    assert f"line {line}" in str(error.value.detail).lower()
