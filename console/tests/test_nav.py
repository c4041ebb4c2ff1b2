"""The console's navigation (console.nav): a tenant's sections only where the gate's answer
allows them, the platform's only for platform staff, pages not built yet left out, and on the
page the current section marked."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import NoReverseMatch, reverse

from accounts import permissions
from console import nav
from core.access import PLATFORM_STAFF

NOT_BUILT = "console:not_built_yet"


class _Access:
    """Just what tenant_links reads of a TenantAccess."""

    def __init__(self, tenant_id: str, allowed: set[str]) -> None:
        self.tenant = type("T", (), {"pk": tenant_id})()
        self._allowed = allowed

    def allows(self, permission: str) -> bool:
        return permission in self._allowed


@pytest.fixture
def every_url_resolves(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend every section's page exists (but NOT_BUILT), as they will once built."""

    def fake_reverse(name: str, kwargs: dict[str, Any] | None = None) -> str:
        if name == NOT_BUILT:
            raise NoReverseMatch(name)
        return f"/{name.split(':')[1]}/{(kwargs or {}).get('tenant_id', '')}"

    monkeypatch.setattr(nav, "reverse", fake_reverse)


def test_sections__each__a_registered_permission_or_platform_staff_and_a_unique_url_name() -> None:
    tenant = {section.permission for section in nav.TENANT_SECTIONS}
    assert tenant <= permissions.ALL
    assert {section.permission for section in nav.PLATFORM_SECTIONS} == {PLATFORM_STAFF}
    names = [section.url_name for section in nav.ALL_SECTIONS]
    assert len(names) == len(set(names))


@pytest.mark.usefixtures("every_url_resolves")
def test_tenant_links__viewer_permissions__only_the_sections_a_viewer_may_open() -> None:
    viewer = permissions.SYSTEM_ROLES["viewer"]["permissions"]
    links = nav.tenant_links(_Access("t1", set(viewer)), "console:members")  # type: ignore[arg-type]
    labels = [link.label for link in links]
    assert not {"Audit log", "Secrets", "API keys"} & set(labels)
    assert labels[:3] == ["Overview", "Members", "Invites"]
    assert [link.label for link in links if link.current] == ["Members"]
    assert links[0].url == "/overview/t1"


@pytest.mark.usefixtures("every_url_resolves")
def test_tenant_links__owner_permissions__every_section() -> None:
    links = nav.tenant_links(_Access("t1", set(permissions.ALL)), "")  # type: ignore[arg-type]
    assert [link.label for link in links] == [section.label for section in nav.TENANT_SECTIONS]
    assert not any(link.current for link in links)


def test_tenant_links__a_page_under_a_section__that_section_current() -> None:
    tenant_id = "00000000-0000-0000-0000-000000000001"
    access = _Access(tenant_id, set(permissions.ALL))
    setting_page = reverse("console:setting", kwargs={"tenant_id": tenant_id, "key": "agents.max_depth"})

    links = nav.tenant_links(access, "console:setting", path=setting_page)  # type: ignore[arg-type]

    # The longest section URL the path starts with: Settings, not the Overview (/t/<id>/).
    assert [link.label for link in links if link.current] == ["Settings"]


def test_links__a_page_not_built__left_out(monkeypatch: pytest.MonkeyPatch, every_url_resolves: None) -> None:
    monkeypatch.setattr(
        nav, "TENANT_SECTIONS", (nav.Section("Later", NOT_BUILT, "tenant:read"), *nav.TENANT_SECTIONS[:1])
    )
    links = nav.tenant_links(_Access("t1", {"tenant:read"}), "")  # type: ignore[arg-type]
    assert [link.label for link in links] == ["Overview"]


@pytest.mark.usefixtures("every_url_resolves")
def test_platform_links__staff_or_not__only_staff_get_them() -> None:
    staff = type("U", (), {"is_platform_staff": True})()
    member_only = type("U", (), {"is_platform_staff": False})()
    assert [link.label for link in nav.platform_links(staff, "console:platform")] == [
        "Dashboard",
        "Tenants",
        "Users",
        "Credits",
        "Analytics",
        "Live connections",
        "Catalogue",
    ]
    assert nav.platform_links(staff, "console:platform")[0].current
    assert nav.platform_links(member_only, "") == []


def test_sections__every_url_name__resolves() -> None:
    missing = []
    for section in nav.ALL_SECTIONS:
        kwargs = (
            {"tenant_id": "00000000-0000-0000-0000-000000000001"} if section in nav.TENANT_SECTIONS else None
        )
        try:
            reverse(section.url_name, kwargs=kwargs)
        except NoReverseMatch:
            missing.append(section.url_name)
    assert missing == []


# --- On the page ---------------------------------------------------------------------------------


def _section_nav(body: str) -> str:
    found = re.search(r'<nav class="sections".*?</nav>', body, re.S)
    return found.group(0) if found else ""


@pytest.mark.django_db
def test_overview_page__owner__sections_shown_overview_current(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    body = signed_in(owner).get(f"/t/{tenant.pk}/").content.decode()
    sections = _section_nav(body)
    assert 'aria-label="Sections of Acme Robotics"' in sections
    assert f'<a href="/t/{tenant.pk}/" aria-current="page">Overview</a>' in sections


@pytest.mark.django_db
def test_overview_page__viewer__no_section_it_may_not_open(
    signed_in: Any, tenant: Any, viewer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every section "built" (the overview's URL standing in for the others), so that what is
    # left out is left out for the viewer's permissions alone.
    monkeypatch.setattr(
        nav,
        "TENANT_SECTIONS",
        tuple(
            nav.Section(section.label, "console:overview", section.permission)
            for section in nav.TENANT_SECTIONS
        ),
    )
    sections = _section_nav(signed_in(viewer).get(f"/t/{tenant.pk}/").content.decode())
    shown = re.findall(r">([^<>]+)</a>", sections)
    assert "Members" in shown
    assert "Credits" in shown
    assert not {"Audit log", "Secrets", "API keys"} & set(shown)


@pytest.mark.django_db
def test_tenant_list__not_in_a_tenant__no_section_tabs_account_links_in_menu(
    signed_in: Any, owner: Any
) -> None:
    body = signed_in(owner).get("/tenants/").content.decode()
    assert _section_nav(body) == ""
    assert f'href="{reverse("console:two_factor")}"' in body
    assert ">Platform</a>" not in body  # not platform staff
