"""Every console page over the demo data (`seed_demo`), in Chromium: a tenant owner opens each
section of their tenant, a viewer the sections a viewer may see, the platform admin each
platform page, each of them their own account pages; none fails, and none scrolls sideways on a
390 px phone. Each page is shot full-page at 390 x 844 and at 1280 x 800, into
`.data/screenshots/` (`demo-<who>-<page>-390.png`, `-1280.png`), for a person to look at."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.urls import NoReverseMatch, reverse

from console import nav
from console.tests.browser.conftest import PHONE
from console.tests.browser.demo import seed_demo

LAPTOP = {"width": 1280, "height": 800}
# Sub-pixel rounding and a scrollbar's gutter; a table or form that overflows is far wider.
OVERFLOW_TOLERANCE = 2

OWNER = "sam.carter@acme-analytics.example"
VIEWER = "priya.nair@northwind.example"


def _built(sections: tuple[nav.Section, ...], **kwargs: Any) -> list[str]:
    """The URLs of the sections whose pages exist (nav leaves the others out)."""
    urls = []
    for section in sections:
        try:
            urls.append(reverse(section.url_name, kwargs=kwargs or None))
        except NoReverseMatch:
            continue
    return urls


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _shoot(person: Any, name: str) -> int:
    """The page shot at both sizes; its width at 390 px (what scrolls sideways beyond it)."""
    person.page.set_viewport_size(LAPTOP)
    person.shot(f"{name}-1280")
    person.page.set_viewport_size(PHONE)
    width = int(person.page.evaluate("document.documentElement.scrollWidth"))
    person.shot(f"{name}-390")
    return width


def _visit_all(person: Any, links: list[str], who: str, too_wide: dict[str, int]) -> list[str]:
    """Open each link; the titles of the pages, after checking none is an error page. Pages
    wider than the phone go into `too_wide` (checked at the end, once every page is shot)."""
    titles = []
    for href in links:
        response = person.open(href)
        assert response is not None
        assert response.status == 200, href
        heading = person.page.locator("h1").first.inner_text()
        assert "Server Error" not in person.page.content()
        titles.append(heading)
        width = _shoot(person, f"demo-{who}-{_slug(heading)}")
        if width > PHONE["width"] + OVERFLOW_TOLERANCE:
            too_wide[f"{who}: {heading} ({href})"] = width
    return titles


def _tenant_tabs(person: Any, tenant_name: str) -> list[str]:
    """Open the tenant from the tenant list; the links of its section tabs."""
    person.open(reverse("console:tenants"))
    person.page.get_by_role("main").get_by_role("link", name=tenant_name).first.click()
    person.page.wait_for_load_state()
    tabs = person.page.get_by_role("navigation", name=re.compile("Sections of"))
    return [
        tabs.get_by_role("link").nth(i).get_attribute("href") for i in range(tabs.get_by_role("link").count())
    ]


def test_demo_pages__owner_viewer_and_platform_admin__every_page_opens_with_data_and_fits_a_phone(
    people: Any, tmp_path: Path
) -> None:
    logins = seed_demo(tmp_path)
    too_wide: dict[str, int] = {}

    visitor = people(viewport=PHONE)
    _visit_all(visitor, [reverse("console:signin"), reverse("console:password_forgot")], "visitor", too_wide)

    owner = people(viewport=PHONE)
    owner.sign_in(OWNER, logins[OWNER])
    owner.page.wait_for_load_state()
    links = _tenant_tabs(owner, "Acme Analytics")
    assert len(links) == len(_built(nav.TENANT_SECTIONS, tenant_id=uuid.UUID(int=0)))  # all of them
    account = _built(nav.ACCOUNT_SECTIONS)
    titles = _visit_all(owner, [reverse("console:tenants"), *links, *account], "owner", too_wide)
    assert "Members" in titles
    assert "Audit log" in titles

    viewer = people(viewport=PHONE)
    viewer.sign_in(VIEWER, logins[VIEWER])
    viewer.page.wait_for_load_state()
    viewer_links = _tenant_tabs(viewer, "Northwind Robotics")
    assert 0 < len(viewer_links) < len(links)  # a viewer is offered fewer sections
    assert "Northwind Robotics" in _visit_all(viewer, viewer_links, "viewer", too_wide)  # the overview

    admin_email = next(email for email in logins if email.startswith("admin@"))
    admin = people(viewport=PHONE)
    admin.sign_in(admin_email, logins[admin_email])
    platform = [*_built(nav.PLATFORM_SECTIONS), reverse("console:platform_ab_tests")]  # + A/B, off the tabs
    titles = _visit_all(admin, [*platform, *account], "platform", too_wide)
    assert titles[0] == "Dashboard"

    assert too_wide == {}, "pages that scroll sideways on a 390 px phone (their width)"


@pytest.fixture(autouse=True)
def _staff_without_second_factor(settings: Any) -> None:
    # The demo admin has no second factor until they enrol (make run's banner says so).
    settings.QM_STAFF_REQUIRE_2FA = False
