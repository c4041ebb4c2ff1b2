"""Every console page over the demo data (`seed_demo`), in Chromium: a tenant owner opens each
section of their tenant, the platform admin each platform page; none fails, each is shot."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import override_settings
from django.urls import reverse

from console import nav


def _logins(path: Path) -> dict[str, str]:
    """E-mail → password, from the logins file's "People" section."""
    section = path.read_text().split("\nPeople\n", 1)[1].split("\n\n", 1)[0]
    return {line.split()[0]: line.split()[1] for line in section.splitlines() if line.startswith("  ")}


def _plans_and_prices() -> None:
    """The plans and prices billing's data migration seeds: an earlier transactional test's flush
    removed them (the system roles come back through the `system_roles` fixture)."""
    seed = importlib.import_module("billing.migrations.0002_seed_plans_prices_accounts")
    with transaction.atomic(), connection.schema_editor(atomic=False) as editor:
        seed.seed(apps, editor)


def _visit_all(person: Any, links: list[str], shot_prefix: str) -> list[str]:
    """Open each link; the titles of the pages, after checking none is an error page."""
    titles = []
    for href in links:
        response = person.open(href)
        assert response is not None
        assert response.status == 200, href
        heading = person.page.locator("h1").first.inner_text()
        assert "Server Error" not in person.page.content()
        titles.append(heading)
        person.shot(f"demo-{shot_prefix}-{re.sub(r'[^a-z0-9]+', '-', heading.lower()).strip('-')}")
    return titles


def test_demo_pages__owner_and_platform_admin__every_section_opens_with_data(
    people: Any, tmp_path: Path
) -> None:
    _plans_and_prices()
    with override_settings(DATA_DIR=tmp_path):
        call_command("seed_demo", quiet=True)
    logins = _logins(tmp_path / "demo-logins.txt")

    owner = people()
    owner.sign_in("sam.carter@acme-analytics.example", logins["sam.carter@acme-analytics.example"])
    owner.page.wait_for_load_state()
    owner.open(reverse("console:tenants"))
    owner.page.get_by_role("main").get_by_role("link", name="Acme Analytics").first.click()
    owner.page.wait_for_load_state()
    tabs = owner.page.get_by_role("navigation", name=re.compile("Sections of"))
    links = [
        tabs.get_by_role("link").nth(i).get_attribute("href") for i in range(tabs.get_by_role("link").count())
    ]
    assert len(links) == len(nav.TENANT_SECTIONS)  # an owner may open every section
    titles = _visit_all(owner, links, "owner")
    assert "Members" in titles
    assert "Audit log" in titles

    admin_email = next(email for email in logins if email.startswith("admin@"))
    admin = people()
    admin.sign_in(admin_email, logins[admin_email])
    titles = _visit_all(admin, [reverse(section.url_name) for section in nav.PLATFORM_SECTIONS], "platform")
    assert titles[0] == "Dashboard"


@pytest.fixture(autouse=True)
def _staff_without_second_factor(settings: Any) -> None:
    # The demo admin has no second factor until they enrol (make run's banner says so).
    settings.QM_STAFF_REQUIRE_2FA = False
