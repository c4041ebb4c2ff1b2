"""The console's skills marketplace (issue 13): published skills by category and search with
their rating; install on an agent the caller may change (an incompatible role refused in place),
uninstall, rate; guards, other tenants' ids, query counts independent of the rows."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from agents.models import Skill, SkillInstallation
from agents.tests.factories import AgentFactory, InstallationFactory, SkillFactory
from core.tenancy import platform_bypass
from tenants.tests.factories import TeamFactory, member

pytestmark = pytest.mark.django_db


def _page(tenant: Any) -> str:
    return f"/t/{tenant.pk}/skills/"


def _installed(agent: Any) -> list[tuple[str, str]]:
    with platform_bypass(reason="test", log=False):
        return list(
            SkillInstallation.objects.filter(agent=agent)
            .values_list("skill__slug", "version")
            .order_by("skill__slug")
        )


def _skill(skill: Any) -> Skill:
    return Skill.objects.get(pk=skill.pk)


def _statements(client: Client, url: str) -> int:
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return len([q for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]])


@pytest.fixture
def market(db: Any) -> dict[str, Any]:
    return {
        "search": SkillFactory.create(
            name="Web search", slug="web-search", category="productivity", description="Finds pages"
        ),
        "sql": SkillFactory.create(
            name="SQL runner", slug="sql-runner", category="analytics", compatible_roles=["engineering"]
        ),
        "pm": SkillFactory.create(
            name="Roadmapper", slug="roadmapper", category="productivity", compatible_roles=["pm"]
        ),
        "draft": SkillFactory.create(name="Half baked", slug="half-baked", status="draft"),
    }


def test_skills_page__published_skills_with_rating_drafts_hidden(
    signed_in: Any, tenant: Any, owner: Any, market: Any
) -> None:
    with platform_bypass(reason="test", log=False):
        Skill.objects.filter(pk=market["search"].pk).update(rating="4.50", rating_count=2)
    AgentFactory.create(tenant=tenant, name="Bugsy", role="engineering")
    body = signed_in(owner).get(_page(tenant)).content.decode()
    assert "Web search" in body
    assert "SQL runner" in body
    assert "Half baked" not in body
    assert '<span data-testid="rating">4.50 ★</span> (2 ratings)' in body
    assert "Install Web search" in body
    assert f'href="{_page(tenant)}" aria-current="page"' in body


def test_skills_page__category_and_search_filters(
    signed_in: Any, tenant: Any, owner: Any, market: Any
) -> None:
    client = signed_in(owner)
    body = client.get(_page(tenant), {"category": "analytics"}).content.decode()
    assert ("SQL runner" in body, "Web search" in body) == (True, False)
    body = client.get(_page(tenant), {"q": "pages"}).content.decode()
    assert ("Web search" in body, "SQL runner" in body) == (True, False)
    assert client.get(_page(tenant), {"category": "magic"}).status_code == 400


def test_skill_install__compatible__installed_pinned_and_counted(
    signed_in: Any, tenant: Any, owner: Any, market: Any
) -> None:
    agent = AgentFactory.create(tenant=tenant, name="Bugsy", role="engineering")
    response = signed_in(owner).post(
        f"{_page(tenant)}{market['sql'].pk}/install/", {"agent": str(agent.pk), "version": "1.2.0"}
    )
    assert (response.status_code, response["Location"]) == (302, _page(tenant))
    assert _installed(agent) == [("sql-runner", "1.2.0")]
    assert _skill(market["sql"]).install_count == 1


def test_skill_install__incompatible_role__422_reason_on_that_skill_nothing_installed(
    signed_in: Any, tenant: Any, owner: Any, market: Any
) -> None:
    agent = AgentFactory.create(tenant=tenant, name="Bugsy", role="engineering")
    response = signed_in(owner).post(
        f"{_page(tenant)}{market['pm'].pk}/install/", {"agent": str(agent.pk), "version": "1.2.0"}
    )
    assert response.status_code == 422
    body = response.content.decode()
    card = body[body.index('data-testid="skill-roadmapper"') :]
    assert "is not for the engineering role" in card[: card.index("</li>")]
    assert _installed(agent) == []


def test_skill_install__version_moved_on__422_nothing_installed(
    signed_in: Any, tenant: Any, owner: Any, market: Any
) -> None:
    agent = AgentFactory.create(tenant=tenant, role="engineering")
    response = signed_in(owner).post(
        f"{_page(tenant)}{market['search'].pk}/install/", {"agent": str(agent.pk), "version": "0.9.0"}
    )
    assert response.status_code == 422
    assert "Only version 1.2.0" in response.content.decode()
    assert _installed(agent) == []


def test_skill_install__agent_the_member_may_not_change__400_nothing_installed(
    signed_in: Any, tenant: Any, market: Any
) -> None:
    team = TeamFactory.create(tenant=tenant)
    teammate = member(tenant, "member", team=team)
    others = AgentFactory.create(tenant=tenant, name="Not yours")
    client = signed_in(teammate)
    assert "Not yours" not in client.get(_page(tenant)).content.decode()
    response = client.post(
        f"{_page(tenant)}{market['search'].pk}/install/", {"agent": str(others.pk), "version": "1.2.0"}
    )
    assert response.status_code == 400
    assert _installed(others) == []


def test_skill_uninstall__removed_and_count_down(
    signed_in: Any, tenant: Any, owner: Any, market: Any
) -> None:
    agent = AgentFactory.create(tenant=tenant, name="Bugsy")
    installation = InstallationFactory.create(agent=agent, tenant=tenant, skill=market["search"])
    with platform_bypass(reason="test", log=False):
        Skill.objects.filter(pk=market["search"].pk).update(install_count=1)
    client = signed_in(owner)
    assert "Uninstall Web search from Bugsy" in client.get(_page(tenant)).content.decode()
    response = client.post(f"{_page(tenant)}installed/{installation.pk}/uninstall/")
    assert response.status_code == 302
    assert _installed(agent) == []
    assert _skill(market["search"]).install_count == 0


def test_skill_rate__twice__the_second_replaces_the_first(
    signed_in: Any, tenant: Any, owner: Any, market: Any
) -> None:
    client = signed_in(owner)
    assert client.post(f"{_page(tenant)}{market['search'].pk}/rate/", {"stars": "2"}).status_code == 302
    assert client.post(f"{_page(tenant)}{market['search'].pk}/rate/", {"stars": "5"}).status_code == 302
    skill = _skill(market["search"])
    assert (skill.rating_count, str(skill.rating)) == (1, "5.00")
    assert client.post(f"{_page(tenant)}{market['search'].pk}/rate/", {"stars": "9"}).status_code == 400
    assert client.post(f"{_page(tenant)}{market['draft'].pk}/rate/", {"stars": "3"}).status_code == 404


def test_skills_page__viewer__no_install_or_uninstall_buttons_and_403(
    signed_in: Any, tenant: Any, market: Any
) -> None:
    team = TeamFactory.create(tenant=tenant)
    viewer = member(tenant, "viewer", team=team)
    agent = AgentFactory.create(tenant=tenant, team=team, name="Bugsy")
    installation = InstallationFactory.create(agent=agent, tenant=tenant, skill=market["search"])
    client = signed_in(viewer)
    body = client.get(_page(tenant)).content.decode()
    assert "Install Web search" not in body
    assert "Uninstall" not in body
    assert "Bugsy" in body  # the installation is listed
    assert (
        client.post(
            f"{_page(tenant)}{market['sql'].pk}/install/", {"agent": str(agent.pk), "version": "1.2.0"}
        ).status_code
        == 403
    )
    assert client.post(f"{_page(tenant)}installed/{installation.pk}/uninstall/").status_code == 403
    assert _installed(agent) == [("web-search", "1.2.0")]


def test_skills__another_tenants_agent_or_installation__refused_nothing_changed(
    signed_in: Any, tenant: Any, owner: Any, other_tenant: Any, market: Any
) -> None:
    theirs = AgentFactory.create(tenant=other_tenant, name="Their secret agent")
    installation = InstallationFactory.create(agent=theirs, tenant=other_tenant, skill=market["search"])
    client = signed_in(owner)
    response = client.post(
        f"{_page(tenant)}{market['sql'].pk}/install/", {"agent": str(theirs.pk), "version": "1.2.0"}
    )
    assert response.status_code == 400
    assert "Their secret agent" not in response.content.decode()
    assert client.post(f"{_page(tenant)}installed/{installation.pk}/uninstall/").status_code == 404
    assert _installed(theirs) == [("web-search", "1.2.0")]
    assert client.get(_page(other_tenant)).status_code == 403


def test_skills_page__query_count__same_for_few_and_many(
    signed_in: Any, tenant: Any, owner: Any, market: Any
) -> None:
    agent = AgentFactory.create(tenant=tenant)
    InstallationFactory.create(agent=agent, tenant=tenant, skill=market["search"])
    client = signed_in(owner)
    few = _statements(client, _page(tenant))
    SkillFactory.create_batch(5)
    for _ in range(4):
        InstallationFactory.create(
            agent=AgentFactory.create(tenant=tenant), tenant=tenant, skill=market["sql"]
        )
    assert _statements(client, _page(tenant)) == few
