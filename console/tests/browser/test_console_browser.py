"""The console in a real browser (Chromium through Playwright), against the live server: signing
in with a second factor, enrolling one, signing out, switching tenants, the overview with data,
a tenant's page opened by someone from another tenant, and what a viewer may press.

Each test saves full-page screenshots of what it saw in .data/screenshots/.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import TEST_PASSWORD, UserFactory
from billing.tests.factories import fund
from console.tests.browser.conftest import PHONE
from console.tests.conftest import enrol, totp_code
from console.tests.data import prices, usage_history
from core.tenancy import platform_bypass
from tenants.models import Tenant
from tenants.tests.factories import TenantFactory, member

pytestmark = pytest.mark.django_db(transaction=True)


def test_sign_in__password_then_totp_code__lands_on_the_tenant_overview(people: Any) -> None:
    tenant = TenantFactory.create(name="Initech")
    user = member(tenant, "owner", user__email="ada@initech.example")
    enrol(user)
    ada = people()

    ada.sign_in(user.email, TEST_PASSWORD, shot="signin")
    expect(ada.page.get_by_role("heading", name="Two-factor check")).to_be_visible()
    ada.page.get_by_label("Code").fill("000000")
    ada.page.get_by_role("button", name="Verify").click()
    expect(ada.page.locator("#id_code_error")).to_contain_text("wrong")
    ada.shot("signin-verify-wrong-code")
    # Right after a wrong code, django-otp holds the device back a moment: the page says how long.
    code = totp_code(user, steps_ahead=1)
    ada.page.get_by_label("Code").fill(code)
    ada.page.get_by_role("button", name="Verify").click()
    expect(ada.page.locator("#id_code_error")).to_contain_text("Too many wrong codes. Try again in")
    wait = re.search(r"in (\d+) second", ada.page.locator("#id_code_error").inner_text())
    assert wait is not None
    seconds = int(wait[1])
    ada.shot("signin-verify-wait")
    ada.page.wait_for_timeout((seconds + 1) * 1000)
    ada.page.get_by_label("Code").fill(code)
    ada.page.get_by_role("button", name="Verify").click()

    expect(ada.page.get_by_role("heading", level=1, name="Initech")).to_be_visible()
    assert ada.page.url.endswith(f"/t/{tenant.pk}/")
    ada.shot("overview-empty")


def test_enrol_totp__from_the_user_menu__backup_codes_shown_then_sign_out_and_in_with_one(
    people: Any,
) -> None:
    tenant = TenantFactory.create(name="Hooli")
    user = member(tenant, "admin", user__email="grace@hooli.example")
    grace = people()
    grace.sign_in(user.email, TEST_PASSWORD)
    expect(grace.page.get_by_role("heading", level=1, name="Hooli")).to_be_visible()

    grace.page.get_by_label(re.compile("Account menu")).click()
    grace.page.get_by_role("link", name="Two-factor authentication").click()
    expect(grace.page.get_by_text("Your password alone signs you in.")).to_be_visible()
    grace.shot("two-factor-off")
    grace.page.get_by_role("button", name="Set up an authenticator app").click()
    expect(grace.page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    assert len(grace.page.get_by_test_id("manual-key").inner_text().replace(" ", "")) >= 32
    grace.shot("two-factor-enrol")
    grace.page.get_by_label("Code from the app").fill(totp_code(user, confirmed=False))
    grace.page.get_by_role("button", name="Turn on").click()

    codes = grace.page.get_by_test_id("backup-codes").locator("code").all_inner_texts()
    assert len(codes) == 10
    grace.shot("two-factor-backup-codes")

    grace.page.get_by_label(re.compile("Account menu")).click()
    grace.page.get_by_role("button", name="Sign out").click()
    expect(grace.page.get_by_text("You are signed out.")).to_be_visible()
    grace.open(f"/t/{tenant.pk}/")  # signed out: the page asks to sign in first
    expect(grace.page.get_by_role("heading", name="Sign in")).to_be_visible()

    grace.sign_in(user.email, TEST_PASSWORD)
    grace.page.get_by_label("Code").fill(codes[0])
    grace.page.get_by_role("button", name="Verify").click()
    expect(grace.page.get_by_role("heading", level=1, name="Hooli")).to_be_visible()
    expect(grace.page.get_by_text("You signed in with a backup code")).to_be_visible()


def test_forced_enrolment__tenant_requires_2fa__set_up_at_sign_in(people: Any) -> None:
    tenant = TenantFactory.create(name="Vandelay", require_2fa=True)
    user = member(tenant, "member", user__email="art@vandelay.example")
    art = people(viewport=PHONE)

    art.sign_in(user.email, TEST_PASSWORD)
    expect(art.page.get_by_role("heading", name="Set up two-factor authentication")).to_be_visible()
    art.shot("signin-enrol-phone")
    art.page.get_by_label("Code from the app").fill(totp_code(user, confirmed=False))
    art.page.get_by_role("button", name="Turn on and sign in").click()
    expect(art.page.get_by_test_id("backup-codes").locator("code")).to_have_count(10)
    art.page.get_by_role("link", name="I have saved them: continue").click()
    expect(art.page.get_by_role("heading", level=1, name="Vandelay")).to_be_visible()


def test_switch_tenant__member_of_two__switcher_lists_both_and_opens_the_other(people: Any) -> None:
    first = TenantFactory.create(name="Alpha Labs")
    second = TenantFactory.create(name="Beta Works")
    TenantFactory.create(name="Gamma Not Mine")
    user = member(first, "owner", user__email="lin@alpha.example")
    member(second, "viewer", user=user)
    lin = people()
    lin.sign_in(user.email, TEST_PASSWORD)
    expect(lin.page.get_by_role("heading", level=1, name="Tenants")).to_be_visible()  # two: choose

    lin.page.get_by_role("link", name="Alpha Labs").click()
    expect(lin.page.get_by_role("heading", level=1, name="Alpha Labs")).to_be_visible()
    lin.page.get_by_label(re.compile("Switch tenant")).click()
    switcher = lin.page.locator(".switcher .menu-list")
    expect(switcher.get_by_role("link")).to_have_text(["Alpha Labs", "Beta Works"])
    lin.shot("switcher-open")
    switcher.get_by_role("link", name="Beta Works").click()
    expect(lin.page.get_by_role("heading", level=1, name="Beta Works")).to_be_visible()
    assert lin.page.url.endswith(f"/t/{second.pk}/")
    lin.open("/tenants/")
    lin.shot("tenant-list")


def test_overview__with_a_week_of_usage__shows_balance_runway_chart_models_keys_and_activity(
    people: Any,
) -> None:
    prices()
    tenant = TenantFactory.create(name="Umbrella Analytics", timezone="America/New_York")
    owner = member(tenant, "owner", user__email="alice@umbrella.example")
    for role in ("admin", "member", "viewer"):
        member(tenant, role)
    usage_history(tenant, creator=owner, days=6)
    for desktop_or_phone, viewport in (("desktop", None), ("phone", PHONE)):
        alice = people(**({"viewport": viewport} if viewport else {}))
        alice.sign_in(owner.email, TEST_PASSWORD)
        page = alice.page
        expect(page.get_by_role("heading", level=1, name="Umbrella Analytics")).to_be_visible()
        # 1,000 granted; 2+3+...+7 = 27 credits on the test model and 6 x 1 on the large one.
        expect(page.get_by_test_id("kpi-balance")).to_contain_text("967.00")
        expect(page.get_by_test_id("kpi-runway")).to_contain_text("days")
        expect(page.get_by_test_id("kpi-spend")).to_contain_text("33.00")
        expect(page.get_by_test_id("kpi-members")).to_contain_text("4")
        expect(page.get_by_role("img", name="Credits used per day, last 30 days")).to_be_visible()
        expect(page.get_by_test_id("by-model").locator("tbody tr")).to_have_count(2)
        expect(page.get_by_test_id("by-model").locator("tbody tr").first).to_contain_text("test-model")
        expect(page.get_by_test_id("by-key")).to_contain_text("Production runtime")
        expect(page.get_by_test_id("audit")).to_contain_text("Credits grant")
        alice.shot(f"overview-{desktop_or_phone}")
        if desktop_or_phone == "phone":
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"the page scrolls sideways at 390 px ({width} px wide)"

    # An alert, added without leaving the page (htmx swaps the panel), and the crossing shown.
    page.get_by_label("Alert when the balance falls below").fill("5000")
    page.get_by_role("button", name="Add alert").click()
    expect(page.locator("#alerts")).to_contain_text("Added: you will be alerted")
    expect(page.get_by_test_id("alert-list")).to_contain_text("Balance below it")
    page.get_by_label("Alert when the balance falls below").fill("-1")
    page.get_by_role("button", name="Add alert").click()
    expect(page.locator("#id_threshold_error")).to_contain_text("greater than or equal to 0")
    alice.shot("overview-alert-added-phone")


def test_other_tenant__member_edits_the_url__refused_page_shows_none_of_its_data(people: Any) -> None:
    mine = TenantFactory.create(name="Own Corp")
    theirs = TenantFactory.create(name="Secret Rival Inc")
    fund(theirs, 4242)
    user = member(mine, "owner", user__email="eve@own.example")
    eve = people()
    eve.sign_in(user.email, TEST_PASSWORD)
    expect(eve.page.get_by_role("heading", level=1, name="Own Corp")).to_be_visible()

    response = eve.open(f"/t/{theirs.pk}/")
    assert response.status == 403
    expect(eve.page.get_by_role("heading", level=1, name="No access")).to_be_visible()
    content = eve.page.content()
    assert "Secret Rival" not in content
    assert "4,242" not in content
    eve.shot("refused-other-tenant")
    with platform_bypass(reason="test", log=False):
        assert Tenant.objects.filter(pk=theirs.pk).exists()


def test_viewer__overview__no_buttons_it_may_not_press(people: Any) -> None:
    tenant = TenantFactory.create(name="Read Only Ltd")
    fund(tenant, 100)
    owner = member(tenant, "owner", user__email="olga@readonly.example")
    viewer = member(tenant, "viewer", user__email="vic@readonly.example")
    vic, olga = people(), people()

    olga.sign_in(owner.email, TEST_PASSWORD)
    olga.page.get_by_label("Alert when the balance falls below").fill("50")
    olga.page.get_by_role("button", name="Add alert").click()
    expect(olga.page.get_by_role("button", name=re.compile("Remove the alert"))).to_be_visible()

    vic.sign_in(viewer.email, TEST_PASSWORD)
    expect(vic.page.get_by_role("heading", level=1, name="Read Only Ltd")).to_be_visible()
    expect(vic.page.get_by_test_id("alert-list")).to_contain_text("50.00")
    buttons = vic.page.locator("main").get_by_role("button").all_inner_texts()
    assert buttons == [], f"a viewer sees buttons: {buttons}"
    assert "Recent activity" not in vic.page.content()  # audit:read is not a viewer's
    assert "Back office" not in vic.page.content()
    vic.shot("overview-viewer")


def test_platform_operator__not_a_member__opens_any_tenant_read_only(people: Any) -> None:
    tenant = TenantFactory.create(name="Customer Co")
    fund(tenant, 10)
    operator = UserFactory.create(platform_operator=True, email="op@platform.example")
    op = people()
    op.sign_in(operator.email, TEST_PASSWORD)
    op.open(f"/t/{tenant.pk}/")
    expect(op.page.get_by_role("heading", level=1, name="Customer Co")).to_be_visible()
    expect(op.page.get_by_text("viewing as platform staff")).to_be_visible()
    assert op.page.locator("main").get_by_role("button").count() == 0  # operators only look
