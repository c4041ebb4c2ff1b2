"""The pages e-mails link to, in a real browser: a forgotten password reset from the e-mailed
link, an invite accepted from the e-mailed link by a newcomer (on a phone) and by someone with an
account; and the tenant's section tabs at 390 px. Screenshots in .data/screenshots/."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core import mail
from playwright.sync_api import expect

from accounts.tests.factories import TEST_PASSWORD, UserFactory
from console.tests.browser.conftest import PHONE
from core.tenancy import tenant_context
from tenants.services import invite_create
from tenants.tests.factories import TenantFactory, member, system_role

pytestmark = pytest.mark.django_db(transaction=True)

NEW_PASSWORD = "correct horse battery staple 7"


@pytest.fixture(autouse=True)
def _public_url(settings: Any, live_server: Any) -> None:
    """The e-mailed links point at the server the browser talks to, as `make run` sets it."""
    settings.QM_PUBLIC_URL = live_server.url


def _path_of_link(message: Any, live_server: Any) -> str:
    url = re.search(r"https?://\S+", message.body).group(0)  # type: ignore[union-attr]
    assert url.startswith(live_server.url + "/")
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_password_reset__from_the_emailed_link__signs_in_with_the_new_password(
    people: Any, live_server: Any
) -> None:
    tenant = TenantFactory.create(name="Reset Ltd")
    user = member(tenant, "owner", user__email="rosa@reset.example")
    rosa = people()

    rosa.open("/signin/")
    rosa.page.get_by_role("link", name="Forgot your password?").click()
    rosa.page.get_by_label("E-mail").fill(user.email)
    rosa.shot("password-forgot")
    rosa.page.get_by_role("button", name="Send the link").click()
    expect(rosa.page.get_by_role("status")).to_contain_text("is on its way")
    rosa.shot("password-forgot-sent")
    (message,) = mail.outbox

    rosa.open(_path_of_link(message, live_server))
    expect(rosa.page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    rosa.page.get_by_label("New password", exact=True).fill("short")
    rosa.page.get_by_label("New password, again").fill("short")
    rosa.page.get_by_role("button", name="Set the new password").click()
    expect(rosa.page.locator("#id_new_password_error")).to_contain_text("too short")
    rosa.shot("password-reset-error")
    rosa.page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    rosa.page.get_by_label("New password, again").fill(NEW_PASSWORD)
    rosa.page.get_by_role("button", name="Set the new password").click()

    expect(rosa.page.get_by_text("Your password is changed.")).to_be_visible()
    expect(rosa.page.get_by_label("E-mail")).to_have_value(user.email)
    rosa.page.get_by_label("Password").fill(TEST_PASSWORD)  # the old one: refused
    rosa.page.get_by_role("button", name="Sign in").click()
    expect(rosa.page.get_by_role("alert")).to_be_visible()
    rosa.sign_in(user.email, NEW_PASSWORD)
    expect(rosa.page.get_by_role("heading", level=1, name="Reset Ltd")).to_be_visible()

    rosa.open(_path_of_link(message, live_server))  # used: the link works once
    expect(rosa.page.get_by_text("This link is invalid or has expired")).to_be_visible()
    rosa.shot("password-reset-used-link")


def _invite(tenant: Any, inviter: Any, email: str, live_server: Any) -> str:
    with tenant_context(tenant):
        invite_create(tenant=tenant, actor=inviter, email=email, role=system_role("member"))
    (message,) = mail.outbox
    assert "Initrode" in message.subject
    return _path_of_link(message, live_server)


def test_invite__newcomer_on_a_phone__signs_up_from_the_emailed_link_and_lands_in_the_tenant(
    people: Any, live_server: Any
) -> None:
    tenant = TenantFactory.create(name="Initrode")
    owner = member(tenant, "owner", user__email="bill@initrode.example")
    link = _invite(tenant, owner, "nina@newcomer.example", live_server)
    nina = people(viewport=PHONE)

    nina.open(link)
    expect(nina.page.get_by_role("heading", name="Join Initrode")).to_be_visible()
    expect(nina.page.get_by_text("nina@newcomer.example").first).to_be_visible()
    nina.shot("invite-accept-new-phone")
    nina.page.get_by_label("Your name").fill("Nina Newcomer")
    nina.page.get_by_label("Choose a password").fill(NEW_PASSWORD)
    nina.page.get_by_label("Password, again").fill(NEW_PASSWORD)
    nina.page.get_by_role("button", name="Create my account and join").click()

    expect(nina.page.get_by_role("heading", level=1, name="Initrode")).to_be_visible()
    expect(nina.page.get_by_text("Welcome to Initrode.")).to_be_visible()
    nina.shot("invite-accepted-overview-phone")
    width = nina.page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways at 390 px ({width} px wide)"


def test_invite__existing_account__signs_in_then_accepts_and_switches_between_tenants(
    people: Any, live_server: Any
) -> None:
    home = TenantFactory.create(name="Home Base")
    tenant = TenantFactory.create(name="Initrode")
    owner = member(tenant, "owner", user__email="bill@initrode.example")
    known = member(home, "owner", user__email="kim@known.example")
    link = _invite(tenant, owner, known.email, live_server)
    kim = people()

    kim.open(link)
    kim.page.get_by_role("link", name="Sign in as kim@known.example").click()
    expect(kim.page.get_by_label("E-mail")).to_have_value(known.email)
    kim.page.get_by_label("Password").fill(TEST_PASSWORD)
    kim.page.get_by_role("button", name="Sign in").click()
    kim.shot("invite-accept-existing")
    kim.page.get_by_role("button", name="Accept and join Initrode").click()

    expect(kim.page.get_by_role("heading", level=1, name="Initrode")).to_be_visible()
    kim.page.get_by_label(re.compile("Switch tenant")).click()
    expect(kim.page.locator(".switcher .menu-list").get_by_role("link")).to_have_text(
        ["Home Base", "Initrode"]
    )


def test_invite__signed_in_as_someone_else__told_to_sign_out(people: Any, live_server: Any) -> None:
    tenant = TenantFactory.create(name="Initrode")
    owner = member(tenant, "owner", user__email="bill@initrode.example")
    link = _invite(tenant, owner, "someone@else.example", live_server)
    stranger = UserFactory.create(email="sam@stranger.example")
    sam = people()
    sam.sign_in(stranger.email, TEST_PASSWORD)
    expect(sam.page.get_by_role("heading", level=1, name="Tenants")).to_be_visible()

    sam.open(link)
    expect(sam.page.get_by_text("You are signed in as sam@stranger.example")).to_be_visible()
    assert sam.page.get_by_role("button", name=re.compile("Accept")).count() == 0
    sam.shot("invite-accept-other-account")


def test_section_tabs__phone__shown_current_marked_page_does_not_scroll_sideways(people: Any) -> None:
    tenant = TenantFactory.create(name="Tabs & Co")
    owner = member(tenant, "owner", user__email="tess@tabs.example")
    tess = people(viewport=PHONE)
    tess.sign_in(owner.email, TEST_PASSWORD)

    tabs = tess.page.get_by_role("navigation", name="Sections of Tabs & Co")
    expect(tabs).to_be_visible()
    expect(tabs.locator('[aria-current="page"]')).to_have_text("Overview")
    width = tess.page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways at 390 px ({width} px wide)"
    tess.shot("section-tabs-phone")
    labels = tabs.get_by_role("link").all_inner_texts()
    if len(labels) > 1:  # another section's page exists: the tab opens it, marked current there
        tabs.get_by_role("link", name=labels[1]).click()
        expect(
            tess.page.get_by_role("navigation", name="Sections of Tabs & Co").locator('[aria-current="page"]')
        ).to_have_text(labels[1])
