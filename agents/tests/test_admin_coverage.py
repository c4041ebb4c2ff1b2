"""Every record of the agents app has a readable back-office page (issue 13): registered, its
list and a row's page load for platform staff, nothing addable or editable; the stream's
tickets listed without their digest."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.utils import timezone

from agents.models import SkillRating, StreamTicket
from agents.tests.factories import AgentFactory, SkillFactory
from core.tenancy import platform_bypass

pytestmark = pytest.mark.django_db

DIGEST = "d" * 64


def test_agents_models__every_one__has_an_admin_with_search_and_no_add() -> None:
    missing = [
        m.__name__ for m in apps.get_app_config("agents").get_models() if m not in admin.site._registry
    ]
    assert missing == []
    for model in apps.get_app_config("agents").get_models():
        model_admin = admin.site._registry[model]
        assert model_admin.search_fields, model.__name__
        assert model_admin.has_add_permission(None) is False, model.__name__  # type: ignore[arg-type]


def test_admin__skill_ratings_and_stream_tickets__list_and_page_load_digest_never_shown(
    client: Any, platform_admin: Any, tenant: Any
) -> None:
    skill = SkillFactory.create(name="Web search", slug="web-search")
    rating = SkillRating.objects.create(skill=skill, user=platform_admin, stars=4)
    AgentFactory.create(tenant=tenant)
    with platform_bypass(reason="test", log=False):
        ticket = StreamTicket.objects.create(
            tenant=tenant,
            digest=DIGEST,
            user=platform_admin,
            client_ip="203.0.113.9",
            origin="https://console.example.com",
            expires_at=timezone.now() + timedelta(seconds=60),
        )
    client.force_login(platform_admin)
    ratings = client.get("/admin/agents/skillrating/")
    assert ratings.status_code == 200
    assert b"Web search" in ratings.content
    assert client.get(f"/admin/agents/skillrating/{rating.pk}/change/").status_code == 200
    tickets = client.get("/admin/agents/streamticket/?q=203.0.113.9")
    assert tickets.status_code == 200
    assert b"https://console.example.com" in tickets.content
    page = client.get(f"/admin/agents/streamticket/{ticket.pk}/change/")
    assert page.status_code == 200
    assert DIGEST.encode() not in tickets.content + page.content
    assert client.get("/admin/agents/streamticket/add/").status_code == 403
