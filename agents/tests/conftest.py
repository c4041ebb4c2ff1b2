from __future__ import annotations

from typing import Any

import pytest

from billing.tests.factories import create_test_price, fund, make_subscription
from billing.tests.test_concurrency import reseed
from tenants.tests.factories import TeamFactory, member


@pytest.fixture(autouse=True)
def _reseed_for_transactional_tests(request: Any) -> None:
    """A transactional test starts after another one's flush: put the seeded rows back first."""
    marker = request.node.get_closest_marker("django_db")
    if marker is not None and marker.kwargs.get("transaction"):
        request.getfixturevalue("transactional_db")
        reseed()


@pytest.fixture
def price(db: Any) -> Any:
    return create_test_price()


@pytest.fixture
def funded(tenant: Any, price: Any) -> Any:
    """The tenant with a subscription and 1,000 credits, and the test model priced."""
    make_subscription(tenant)
    fund(tenant, 1000)
    return tenant


@pytest.fixture
def team(tenant: Any) -> Any:
    return TeamFactory.create(tenant=tenant)


@pytest.fixture
def admin(tenant: Any) -> Any:
    return member(tenant, "admin")


@pytest.fixture
def viewer(tenant: Any) -> Any:
    return member(tenant, "viewer")


@pytest.fixture
def teammate(tenant: Any, team: Any) -> Any:
    """A plain member of `team`."""
    return member(tenant, "member", team=team)


@pytest.fixture
def checks(monkeypatch: Any) -> list[str]:
    """The agent ids the stream's consumers re-check (agents.stream.services.agent_visible: one
    query each), in order."""
    from agents.stream import services

    asked: list[str] = []
    real = services.agent_visible

    def spy(*, access: Any, agent_id: str) -> bool:
        asked.append(agent_id)
        return real(access=access, agent_id=agent_id)

    monkeypatch.setattr(services, "agent_visible", spy)
    return asked
