"""The people pages in a real browser (Chromium through Playwright), against the live server:
an API key created and seen once (a reload shows it no more), a member's role changed in place,
someone invited, what a viewer (and a member, on the keys) may not press, every page with data.

Each test saves full-page screenshots of what it saw in .data/screenshots/ (people-*.png).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import ApiKey, Role
from accounts.tests.factories import TEST_PASSWORD, ApiKeyFactory
from console.tests.browser.conftest import PHONE
from console.tests.conftest import enrol
from core.tenancy import platform_bypass
from tenants.models import Invite, Membership, Team
from tenants.tests.factories import InviteFactory, RoleFactory, TeamFactory, TenantFactory, member

pytestmark = pytest.mark.django_db(transaction=True)


def _tenant_with_people() -> tuple[Any, Any]:
    """A tenant with a member in each role, teams, a custom role, invites and keys; its owner."""
    tenant = TenantFactory.create(name="Initrode", timezone="Asia/Tokyo")
    research = TeamFactory.create(tenant=tenant, name="Research", slug="research")
    TeamFactory.create(tenant=tenant, name="Operations", slug="operations")
    owner = member(tenant, "owner", user__email="olive@initrode.example", user__full_name="Olive Owner")
    enrol(
        member(
            tenant, "admin", user__email="adam@initrode.example", user__full_name="Adam Admin", team=research
        )
    )
    member(tenant, "member", user__email="mia@initrode.example", user__full_name="Mia Member", team=research)
    member(tenant, "viewer", user__email="vic@initrode.example", user__full_name="Vic Viewer")
    RoleFactory.create(
        tenant=tenant, name="Auditor", slug="auditor", rank=15, permissions=["audit:read", "members:read"]
    )
    InviteFactory.create(tenant=tenant, email="pending@initrode.example", invited_by=owner)
    InviteFactory.create(
        tenant=tenant,
        email="late@initrode.example",
        invited_by=owner,
        expires_at=timezone.now() - timedelta(days=2),
    )
    ApiKeyFactory.create(
        tenant=tenant,
        created_by=owner,
        name="Production runtime",
        prefix="qm_live_prod",
        scopes=["agents:read", "credits:write"],
        last_used_at=timezone.now() - timedelta(minutes=7),
    )
    return tenant, owner


def test_api_key__created_in_the_browser__shown_once_then_gone_on_reload(people: Any) -> None:
    tenant, owner = _tenant_with_people()
    olive = people()
    olive.sign_in(owner.email, TEST_PASSWORD)
    expect(olive.page.get_by_role("heading", level=1, name="Initrode")).to_be_visible()
    olive.open(f"/t/{tenant.pk}/api-keys/")
    expect(olive.page.get_by_test_id("api-keys")).to_contain_text("Production runtime")
    olive.shot("people-api-keys")

    olive.page.get_by_role("link", name="New API key").click()
    expect(olive.page.get_by_role("heading", level=1, name="New API key")).to_be_visible()
    olive.page.get_by_label("Name", exact=True).fill("Nightly batch")
    olive.page.locator('input[name="scopes"][value="agents:read"]').check()
    olive.page.locator('input[name="scopes"][value="tasks:write"]').check()
    olive.page.get_by_label("IP allow-list").fill("10.1.0.0/16")
    olive.shot("people-api-key-form")
    olive.page.get_by_role("button", name="Create the key").click()

    key_field = olive.page.get_by_test_id("new-key")
    expect(key_field).to_be_visible()
    raw = key_field.input_value()
    assert re.fullmatch(r"qm_live_[A-Za-z0-9_-]{40,}", raw), raw
    olive.page.get_by_role("button", name="Copy").click()
    expect(olive.page.locator("#copy-status")).not_to_be_empty()
    olive.shot("people-api-key-created")
    with platform_bypass(reason="test", log=False):
        key = ApiKey.objects.get(tenant=tenant, name="Nightly batch")
    assert raw.startswith(key.prefix)
    assert (key.scopes, key.allowed_ips) == (["agents:read", "tasks:write"], ["10.1.0.0/16"])

    olive.page.reload()
    expect(olive.page.get_by_test_id("key-gone")).to_be_visible()
    assert raw not in olive.page.content()
    olive.shot("people-api-key-gone")
    olive.page.get_by_role("link", name="Back to the keys").click()
    expect(olive.page.get_by_test_id("api-keys")).to_contain_text("Nightly batch")
    assert raw not in olive.page.content()


def test_members__owner_changes_a_role_in_place__saved_without_leaving_the_page(people: Any) -> None:
    tenant, owner = _tenant_with_people()
    olive = people()
    olive.sign_in(owner.email, TEST_PASSWORD)
    expect(olive.page.get_by_role("heading", level=1, name="Initrode")).to_be_visible()
    olive.open(f"/t/{tenant.pk}/members/")
    table = olive.page.get_by_test_id("members")
    expect(table.locator("tbody tr")).to_have_count(4)
    olive.shot("people-members")

    with platform_bypass(reason="test", log=False):
        vic = Membership.objects.get(tenant=tenant, user__email="vic@initrode.example")
    row = olive.page.locator(f"#member-{vic.pk}")
    row.get_by_label("Role", exact=True).select_option(label="Member")
    row.get_by_label("Team", exact=True).select_option(label="Operations")
    row.get_by_role("button", name="Save the role and team of vic@initrode.example").click()
    expect(olive.page.locator("#members")).to_contain_text("vic@initrode.example is now Member in Operations")
    with platform_bypass(reason="test", log=False):
        vic.refresh_from_db()
        assert (vic.role.slug, vic.team.name if vic.team else None) == ("member", "Operations")
    olive.shot("people-members-role-changed")

    # The last owner stays owner: the refusal shows on that row's form.
    with platform_bypass(reason="test", log=False):
        mine = Membership.objects.get(tenant=tenant, user=owner)
    mine_row = olive.page.locator(f"#member-{mine.pk}")
    mine_row.get_by_label("Role", exact=True).select_option(label="Viewer")
    mine_row.get_by_role("button", name=re.compile("Save the role")).click()
    expect(olive.page.locator(f"#member-{mine.pk}")).to_contain_text("The last owner cannot be demoted")
    olive.shot("people-members-last-owner")


def test_invites__owner_invites_someone__listed_as_pending(people: Any, mailoutbox: Any) -> None:
    tenant, owner = _tenant_with_people()
    olive = people(viewport=PHONE)
    olive.sign_in(owner.email, TEST_PASSWORD)
    expect(olive.page.get_by_role("heading", level=1, name="Initrode")).to_be_visible()
    olive.open(f"/t/{tenant.pk}/invites/")
    expect(olive.page.get_by_test_id("invites")).to_contain_text("late@initrode.example")
    olive.page.get_by_label("E-mail").fill("newbie@initrode.example")
    olive.page.get_by_label("Role", exact=True).select_option(label="Admin")
    olive.page.get_by_label("Team", exact=True).select_option(label="Research")
    olive.page.get_by_role("button", name="Send invite").click()
    expect(olive.page.locator("#invite")).to_contain_text("Invited newbie@initrode.example as Admin")
    expect(olive.page.get_by_test_id("invites")).to_contain_text("newbie@initrode.example")
    olive.shot("people-invites-phone")
    width = olive.page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways at 390 px ({width} px wide)"
    with platform_bypass(reason="test", log=False):
        invite = Invite.objects.get(tenant=tenant, email="newbie@initrode.example")
    assert invite.role is not None
    assert invite.role.slug == "admin"
    # A bad address: the error on the field, nothing sent.
    olive.page.get_by_label("E-mail").fill("not-an-address")
    olive.page.get_by_role("button", name="Send invite").click()
    expect(olive.page.locator("#id_email_error")).to_contain_text("valid email")


def test_viewer_and_member__no_buttons_they_may_not_press(people: Any) -> None:
    tenant, _owner = _tenant_with_people()
    vic = people()
    vic.sign_in("vic@initrode.example", TEST_PASSWORD)
    expect(vic.page.get_by_role("heading", level=1, name="Initrode")).to_be_visible()
    for page, marker in (("members", "members"), ("invites", "invites")):
        vic.open(f"/t/{tenant.pk}/{page}/")
        expect(vic.page.get_by_test_id(marker)).to_be_visible()
        buttons = vic.page.locator("main").get_by_role("button").all_inner_texts()
        assert buttons in ([], ["Search"]), f"a viewer sees buttons on {page}: {buttons}"
        assert vic.page.locator("main form[method=post]").count() == 0
        assert vic.page.locator("main select").count() == 0
        assert vic.page.locator("main summary").count() == 0  # no Remove…/Revoke… either
        vic.shot(f"people-{page}-viewer")
    response = vic.open(f"/t/{tenant.pk}/api-keys/")
    assert response.status == 403  # a viewer has no api_keys:read
    expect(vic.page.get_by_role("heading", level=1, name="No access")).to_be_visible()

    mia = people()
    mia.sign_in("mia@initrode.example", TEST_PASSWORD)
    expect(mia.page.get_by_role("heading", level=1, name="Initrode")).to_be_visible()
    mia.open(f"/t/{tenant.pk}/api-keys/")
    expect(mia.page.get_by_test_id("api-keys")).to_contain_text("Production runtime")
    assert mia.page.locator("main").get_by_role("button").count() == 0
    assert mia.page.locator("main summary").count() == 0
    assert mia.page.get_by_role("link", name="New API key").count() == 0
    mia.shot("people-api-keys-member")


def test_people_pages__every_page_with_data__rendered_and_shot(people: Any) -> None:
    tenant, owner = _tenant_with_people()
    with platform_bypass(reason="test", log=False):
        auditor = Role.objects.get(tenant=tenant, slug="auditor")
        research = Team.objects.get(tenant=tenant, slug="research")
    olive = people()
    olive.sign_in(owner.email, TEST_PASSWORD)
    expect(olive.page.get_by_role("heading", level=1, name="Initrode")).to_be_visible()
    pages = [
        ("members/", "Members", "people-members-all"),
        ("invites/", "Invites", "people-invites"),
        ("roles/", "Roles", "people-roles"),
        ("roles/new/", "New custom role", "people-role-new"),
        (f"roles/{auditor.pk}/edit/", "Edit the role Auditor", "people-role-edit"),
        ("teams/", "Teams", "people-teams"),
        (f"teams/{research.pk}/", "Research", "people-team"),
        ("api-keys/", "API keys", "people-api-keys-all"),
        ("api-keys/new/", "New API key", "people-api-key-new"),
    ]
    for path, heading, shot in pages:
        response = olive.open(f"/t/{tenant.pk}/{path}")
        assert response.status == 200, path
        expect(olive.page.get_by_role("heading", level=1, name=heading)).to_be_visible()
        olive.shot(shot)
    expect(olive.page.locator('input[value="tenant:admin"]')).to_be_enabled()  # the owner holds it

    # A team's members: add one, take one out, all in place.
    olive.open(f"/t/{tenant.pk}/teams/{research.pk}/")
    olive.page.get_by_label("Member", exact=True).select_option(label="Vic Viewer (vic@initrode.example)")
    olive.page.get_by_role("button", name="Add to Research").click()
    expect(olive.page.get_by_test_id("team-members")).to_contain_text("Vic Viewer")
    olive.page.get_by_role("button", name="Take vic@initrode.example out of Research").click()
    expect(olive.page.locator("#team-members")).to_contain_text("Took vic@initrode.example out of Research.")

    # Sessions: this one and another browser's; end the other.
    other_browser = people()
    other_browser.sign_in(owner.email, TEST_PASSWORD)
    expect(other_browser.page.get_by_role("heading", level=1, name="Initrode")).to_be_visible()
    olive.open("/account/sessions/")
    expect(olive.page.get_by_role("heading", level=1, name="Sessions and devices")).to_be_visible()
    expect(olive.page.get_by_test_id("sessions").locator("li")).to_have_count(2)
    olive.shot("people-devices")
    olive.page.get_by_role("button", name=re.compile("End the session")).click()
    expect(olive.page.get_by_text("Ended the session")).to_be_visible()
    expect(olive.page.get_by_test_id("sessions").locator("li")).to_have_count(1)
    other_browser.open(f"/t/{tenant.pk}/members/")
    expect(other_browser.page.get_by_role("heading", name="Sign in")).to_be_visible()
