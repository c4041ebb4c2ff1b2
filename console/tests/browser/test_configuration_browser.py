"""The configuration pages in a real browser (Chromium through Playwright) against the live
server: a setting changed and rolled back (the value returns), a flag switched on at a rollout
and evaluated for a subject, a secret stored and revealed with a reason (shown once, audited).

Each test saves full-page screenshots of every page it opens in .data/screenshots/.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import TEST_PASSWORD
from audit.models import AuditLogEntry
from console.tests.browser.conftest import PHONE
from core.tenancy import platform_bypass
from tenants.tests.factories import FeatureFlagFactory, SecretFactory, TenantFactory, member, setting_value

pytestmark = pytest.mark.django_db(transaction=True)

DORMANT = "console.dormant_after_days"
CANARY = "sk-live-browser-canary-4c1d9e77"


def _owner_of(name: str, email: str, **tenant: Any) -> tuple[Any, Any]:
    place = TenantFactory.create(name=name, timezone="Europe/Berlin", **tenant)
    return place, member(place, "owner", user__email=email)


def test_setting__changed_then_rolled_back__the_old_value_returns(people: Any) -> None:
    tenant, owner = _owner_of("Cyberdyne", "miles@cyberdyne.example")
    setting_value(tenant, DORMANT, 30)  # version 1
    setting_value(tenant, "providers.anthropic_api_key", "sk-ant-browser-000000000")
    miles = people()
    miles.sign_in(owner.email, TEST_PASSWORD)
    expect(miles.page.get_by_role("heading", level=1, name="Cyberdyne")).to_be_visible()

    miles.open(f"/t/{tenant.pk}/settings/")
    expect(miles.page.get_by_role("heading", level=1, name="Settings")).to_be_visible()
    row = miles.page.locator(f'tr[data-key="{DORMANT}"]')
    expect(row).to_contain_text("30")
    expect(row).to_contain_text("This tenant")
    expect(miles.page.locator('tr[data-key="providers.anthropic_api_key"]')).to_contain_text("********")
    assert "sk-ant-browser" not in miles.page.content()
    miles.shot("configuration-settings")

    row.get_by_role("link", name=f"Change {DORMANT}").click()
    expect(miles.page.get_by_role("heading", level=1, name=DORMANT)).to_be_visible()
    form = miles.page.get_by_test_id("setting-form")
    form.get_by_label("Value").fill("0")
    form.get_by_role("button", name="Save").click()
    expect(miles.page.locator("#id_value_error")).to_contain_text("Must be at least 1.")
    miles.shot("configuration-setting-error")

    form = miles.page.get_by_test_id("setting-form")
    form.get_by_label("Value").fill("45")
    form.get_by_label("Reason").fill("Longer grace period")
    form.get_by_role("button", name="Save").click()
    expect(miles.page.get_by_text(f"Saved {DORMANT}.")).to_be_visible()
    expect(miles.page.get_by_test_id("setting-value")).to_contain_text("45")
    expect(miles.page.get_by_test_id("versions")).to_contain_text("Longer grace period")
    expect(miles.page.get_by_test_id("versions")).to_contain_text(re.compile(r"CES?T"))  # Berlin time
    miles.shot("configuration-setting")

    miles.page.get_by_role("button", name="Roll back to version 1").click()
    expect(miles.page.get_by_text(f"Rolled {DORMANT} back to version 1.")).to_be_visible()
    expect(miles.page.get_by_test_id("setting-value")).to_contain_text("30")
    expect(miles.page.get_by_test_id("versions").locator("tbody tr").first).to_contain_text(
        "rolled back to v1"
    )
    miles.shot("configuration-setting-rolled-back")

    phone = people(viewport=PHONE)
    phone.sign_in(owner.email, TEST_PASSWORD)
    expect(phone.page.get_by_role("heading", level=1, name="Cyberdyne")).to_be_visible()
    for path, name in (
        (f"/t/{tenant.pk}/settings/", "settings"),
        (f"/t/{tenant.pk}/settings/{DORMANT}/", "setting"),
    ):
        phone.open(path)
        phone.shot(f"configuration-{name}-phone")
        width = phone.page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{path} scrolls sideways at 390 px ({width} px wide)"


def test_flag__enabled_at_a_rollout__evaluated_for_a_subject(people: Any) -> None:
    tenant, owner = _owner_of("Tyrell", "rachael@tyrell.example")
    flag = FeatureFlagFactory.create(
        tenant=tenant, key="new-planner", enabled=False, description="The new planner"
    )
    FeatureFlagFactory.create(tenant=tenant, key="admins-first", target_roles=["admin"])
    rachael = people()
    rachael.sign_in(owner.email, TEST_PASSWORD)
    expect(rachael.page.get_by_role("heading", level=1, name="Tyrell")).to_be_visible()

    rachael.open(f"/t/{tenant.pk}/flags/")
    expect(rachael.page.get_by_role("heading", level=1, name="Feature flags")).to_be_visible()
    row = rachael.page.locator('tr[data-key="new-planner"]')
    expect(row).to_contain_text("Disabled")
    row.get_by_role("button", name="Enable new-planner").click()  # htmx swaps the row
    row = rachael.page.locator('tr[data-key="new-planner"]')
    expect(row).to_contain_text("new-planner is on.")
    expect(row).to_contain_text("Enabled")
    row.get_by_label("Rollout % of new-planner").fill("100")
    row.get_by_role("button", name="Set the rollout of new-planner").click()
    expect(rachael.page.locator('tr[data-key="new-planner"]')).to_contain_text(
        "new-planner rolls out to 100.00% of subjects."
    )

    evaluation = rachael.page.locator("#evaluation")
    evaluation.get_by_label("Subject").fill("agent-7")
    evaluation.get_by_role("button", name="Evaluate").click()
    results = rachael.page.get_by_test_id("evaluation")
    expect(results.locator("tr", has_text="new-planner")).to_contain_text("On")
    expect(results.locator("tr", has_text="new-planner")).to_contain_text("Rollout")
    expect(results.locator("tr", has_text="admins-first")).to_contain_text("Not in rollout")
    rachael.shot("configuration-flags")

    rachael.page.locator('tr[data-key="new-planner"]').get_by_role(
        "link", name="new-planner", exact=True
    ).click()
    expect(rachael.page.get_by_role("heading", level=1, name="new-planner")).to_be_visible()
    expect(rachael.page.get_by_test_id("flag-facts")).to_contain_text("The new planner")
    rachael.page.get_by_label("Admin", exact=True).check()
    rachael.page.get_by_role("button", name="Save").click()
    expect(rachael.page.get_by_text("Saved the flag new-planner.")).to_be_visible()
    expect(rachael.page.get_by_test_id("flag-facts")).to_contain_text("admin")
    rachael.shot("configuration-flag")
    with platform_bypass(reason="test", log=False):
        flag.refresh_from_db()
        assert (flag.enabled, flag.rollout_percentage, flag.target_roles) == (True, 100, ["admin"])
        assert AuditLogEntry.objects.filter(tenant=tenant, action="flag.updated").count() == 3


def test_secret__stored_then_revealed_with_a_reason__shown_once_and_audited(people: Any) -> None:
    tenant, owner = _owner_of("Wallace Corp", "niander@wallace.example")
    SecretFactory.create(tenant=tenant, name="Slack bot", provider="slack", value="xoxb-browser-000000000000")
    niander = people()
    niander.sign_in(owner.email, TEST_PASSWORD)
    expect(niander.page.get_by_role("heading", level=1, name="Wallace Corp")).to_be_visible()

    niander.open(f"/t/{tenant.pk}/secrets/")
    expect(niander.page.get_by_role("heading", level=1, name="Secret locker")).to_be_visible()
    expect(niander.page.get_by_test_id("secrets")).to_contain_text("…0000")
    niander.shot("configuration-secrets")
    create = niander.page.get_by_test_id("secret-create")
    create.get_by_label("Name").fill("OpenAI production")
    create.get_by_label("Provider").fill("openai")
    create.get_by_label("Value").fill(CANARY)
    create.get_by_role("button", name="Store secret").click()
    expect(niander.page.get_by_text("Stored the secret OpenAI production.")).to_be_visible()
    expect(niander.page.get_by_test_id("secret-facts")).to_contain_text(CANARY[-4:])
    assert CANARY not in niander.page.content()
    niander.shot("configuration-secret")

    niander.page.get_by_role("button", name="Reveal").click()  # no reason: refused in place
    expect(niander.page.locator("#id_reason_error")).to_contain_text("This field is required.")
    niander.page.get_by_label("Why do you need to see it?").fill("Checking the key at the provider")
    niander.page.get_by_role("button", name="Reveal").click()
    expect(niander.page.get_by_test_id("revealed")).to_contain_text(CANARY)
    expect(niander.page.get_by_test_id("revealed")).to_contain_text("Shown this once.")
    expect(niander.page.get_by_test_id("last-revealed")).to_contain_text(
        re.compile(r"CES?T")
    )  # swapped in with it
    niander.shot("configuration-secret-revealed")
    with platform_bypass(reason="test", log=False):
        (entry,) = AuditLogEntry.objects.filter(tenant=tenant, action="secret.revealed")
    assert entry.details["reason"] == "Checking the key at the provider"
    assert entry.actor_user_id == owner.pk

    niander.page.reload()  # the page itself: the value is not on it
    expect(niander.page.get_by_test_id("last-revealed")).not_to_contain_text("Never")
    assert CANARY not in niander.page.content()
