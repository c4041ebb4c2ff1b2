"""The console's template catalogue (issue 13): published templates with their cookbooks and
active recipes (drafts for platform staff only), the link to create an agent from one with it
chosen on the agents page, guards, and a query count independent of the catalogue's size."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import UserFactory
from agents.models import AgentTemplate
from agents.tests.factories import CookbookFactory, RecipeFactory, TemplateFactory
from tenants.tests.factories import member

pytestmark = pytest.mark.django_db


def _page(tenant: Any) -> str:
    return f"/t/{tenant.pk}/templates/"


def _statements(client: Client, url: str) -> int:
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return len([q for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]])


@pytest.fixture
def catalogue(db: Any) -> dict[str, Any]:
    seo = TemplateFactory.create(name="SEO specialist", slug="seo", role="pm")
    cookbook = CookbookFactory.create(template=seo, name="Audits", capabilities=["crawl", "report"])
    RecipeFactory.create(cookbook=cookbook, name="weekly-audit", version="1.1.0")
    RecipeFactory.create(cookbook=cookbook, name="retired-audit", is_active=False)
    draft = TemplateFactory.create(name="Secret draft role", slug="draft-role", is_published=False)
    return {"seo": seo, "draft": draft}


def test_templates_page__member__published_templates_cookbooks_active_recipes(
    signed_in: Any, tenant: Any, owner: Any, catalogue: Any
) -> None:
    body = signed_in(owner).get(_page(tenant)).content.decode()
    card = body[body.index('data-testid="template-seo"') :]
    assert "SEO specialist" in card[:300]
    assert "Audits" in body
    assert "crawl, report" in body
    assert "weekly-audit" in body
    assert "1.1.0" in body
    assert "retired-audit" not in body  # inactive versions are not offered
    assert "Secret draft role" not in body
    assert f'href="{_page(tenant)}" aria-current="page"' in body  # the Templates section


def test_templates_page__create_link__opens_the_agents_form_with_the_template_chosen(
    signed_in: Any, tenant: Any, owner: Any, catalogue: Any
) -> None:
    client = signed_in(owner)
    link = f"/t/{tenant.pk}/agents/?template={catalogue['seo'].pk}#agent-new"
    assert f'href="{link}"' in client.get(_page(tenant)).content.decode()
    form = client.get(f"/t/{tenant.pk}/agents/", {"template": str(catalogue["seo"].pk)}).content.decode()
    assert f'<option value="{catalogue["seo"].pk}" selected>SEO specialist</option>' in form
    plain = client.get(f"/t/{tenant.pk}/agents/").content.decode()
    assert f'<option value="{catalogue["seo"].pk}" selected>' not in plain
    # A draft (or unknown) template id preselects nothing and breaks nothing.
    drafted = client.get(f"/t/{tenant.pk}/agents/", {"template": str(catalogue["draft"].pk)})
    assert drafted.status_code == 200
    assert '<option value="" selected>From scratch</option>' in drafted.content.decode()


def test_templates_page__viewer__sees_templates_without_create_links(
    signed_in: Any, tenant: Any, viewer: Any, catalogue: Any
) -> None:
    body = signed_in(viewer).get(_page(tenant)).content.decode()
    assert "SEO specialist" in body
    assert "Create an agent from" not in body


def test_templates_page__platform_staff__drafts_shown_marked(
    signed_in: Any, tenant: Any, platform_operator: Any, catalogue: Any
) -> None:
    body = signed_in(platform_operator).get(_page(tenant)).content.decode()
    draft = body[body.index('data-testid="template-draft-role"') :]
    assert "Secret draft role" in draft[:400]
    assert "draft</span>" in draft[:400]


def test_templates_page__not_a_member__403(
    signed_in: Any, other_tenant: Any, owner: Any, catalogue: Any
) -> None:
    assert signed_in(owner).get(_page(other_tenant)).status_code == 403


def test_templates_page__signed_in_outsider__403(signed_in: Any, tenant: Any, catalogue: Any) -> None:
    outsider = UserFactory.create()
    assert signed_in(outsider).get(_page(tenant)).status_code == 403


def test_templates_page__query_count__same_for_few_and_many(
    signed_in: Any, tenant: Any, owner: Any, catalogue: Any
) -> None:
    client = signed_in(owner)
    few = _statements(client, _page(tenant))
    for _ in range(3):
        cookbook = CookbookFactory.create(template=TemplateFactory.create())
        RecipeFactory.create_batch(2, cookbook=cookbook)
    assert _statements(client, _page(tenant)) == few


def test_templates_page__nothing_published__says_what_to_do(signed_in: Any, tenant: Any) -> None:
    AgentTemplate.objects.update(is_published=False)  # the catalogue the migrations seed
    body = signed_in(member(tenant, "member")).get(_page(tenant)).content.decode()
    assert "no published templates yet" in body
