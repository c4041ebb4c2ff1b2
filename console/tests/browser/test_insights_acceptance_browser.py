"""Issue 14's acceptance story on the console, in Chromium, over the demo data (`seed_demo`, as a
fresh `make run` loads it): the platform admin accepts one of a tenant's open recommendations (the
intervention runs), reverses that intervention from the interventions page, sees both in the audit
log with the chain verified whole and downloads the JSON Lines export, then (after the periodic
roll-up) sees today's figures and charts on the analytics page. Screenshots acceptance-insights-*.png.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from audit.models import AuditLogEntry
from console.tests.browser.demo import seed_demo
from core.tenancy import platform_bypass
from insights.models import Intervention, Recommendation
from insights.tasks import refresh_recommendations, rollup_daily_analytics

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _staff_without_second_factor(settings: Any) -> None:
    # The demo admin has no second factor until they enrol (make run's banner says so).
    settings.QM_STAFF_REQUIRE_2FA = False


def test_acceptance__demo_admin__recommendation_accepted_reversed_audited_exported_analytics(
    people: Any, tmp_path: Path
) -> None:
    logins = seed_demo(tmp_path)
    admin_email = next(email for email in logins if email.startswith("admin@"))
    # The demo leaves no recommendation open (its one is dismissed): the periodic refresh, as
    # `make run`'s worker runs it, finds what still holds.
    refresh_recommendations()
    with platform_bypass(reason="test", log=False):
        rec = (
            Recommendation.objects.filter(status="open")
            .select_related("tenant")
            .order_by("-confidence", "target_label", "id")
            .first()
        )
        assert rec is not None, list(Recommendation.objects.values_list("suggested_action", "status"))
        tenant = rec.tenant
        interventions_before = Intervention.objects.filter(tenant=tenant).count()

    admin = people()
    admin.sign_in(admin_email, logins[admin_email])
    admin.page.wait_for_load_state()

    # Accept: the intervention runs.
    admin.open(f"/t/{tenant.pk}/recommendations/")
    expect(admin.page.get_by_role("heading", level=1, name="Recommendations")).to_be_visible()
    table = admin.page.get_by_test_id("recommendations")
    expect(table).to_contain_text(rec.target_label)
    admin.shot("acceptance-insights-recommendations")
    row = table.locator("tbody tr").filter(has_text=rec.target_label).first
    row.get_by_role("button", name=re.compile("^Accept: ")).click()
    expect(table.get_by_role("status")).to_contain_text("Accepted")
    admin.shot("acceptance-insights-accepted")
    with platform_bypass(reason="test", log=False):
        ran = Intervention.objects.get(recommendation=rec)
        assert Intervention.objects.filter(tenant=tenant).count() == interventions_before + 1
        assert ran.new_state != ran.previous_state

    # Reverse it from the interventions page.
    table.get_by_role("link", name="See the intervention").click()
    expect(admin.page.get_by_role("heading", level=1, name="Interventions")).to_be_visible()
    ran_row = admin.page.locator(f"#intervention-{ran.pk}")
    ran_row.get_by_text("Reverse…").click()
    ran_row.get_by_label("Reason for reversing").fill("The key feeds the nightly export")
    ran_row.get_by_role("button", name="Reverse").click()
    expect(admin.page.get_by_test_id("reversal").get_by_role("status")).to_contain_text("Reversed")
    admin.shot("acceptance-insights-reversed")
    with platform_bypass(reason="test", log=False):
        ran.refresh_from_db()
        assert ran.reversed_at is not None

    # The audit log: both there, the chain whole, the export the same entries.
    admin.open(f"/t/{tenant.pk}/audit/")
    entries = admin.page.get_by_test_id("audit-list")
    expect(entries).to_contain_text("Intervention reversed")
    expect(entries).to_contain_text("Recommendation accepted")
    admin.page.get_by_role("button", name="Verify the chain").click()
    expect(admin.page.get_by_test_id("chain-state")).to_contain_text("The chain is whole")
    admin.shot("acceptance-insights-audit")
    href = admin.page.get_by_role("link", name="Export JSON Lines").get_attribute("href")
    assert href is not None
    export = admin.page.request.get(href)
    assert export.status == 200
    lines = [json.loads(line) for line in export.text().splitlines() if line]
    with platform_bypass(reason="test", log=False):
        stored = list(
            AuditLogEntry.objects.filter(tenant=tenant).order_by("chain_seq").values_list("id", "hash")
        )
    assert [(line["id"], line["hash"]) for line in lines] == [(str(pk), digest) for pk, digest in stored]
    assert {"recommendation.accepted", "intervention.reversed"} <= {line["action"] for line in lines}

    # Analytics: the periodic roll-up, then today's figures and charts.
    rollup_daily_analytics()
    today = datetime.now(UTC).date()
    admin.open(f"/t/{tenant.pk}/analytics/?start={today}&end={today}")
    expect(admin.page.get_by_role("heading", level=1, name="Analytics")).to_be_visible()
    expect(admin.page.get_by_test_id("analytics-empty")).to_have_count(0)
    expect(admin.page.get_by_test_id("analytics-days").locator("tbody tr")).to_have_count(1)
    expect(admin.page.get_by_test_id("analytics-days")).to_contain_text(today.strftime("%a %-d %b"))
    expect(admin.page.get_by_test_id("chart-credits_charged")).to_be_visible()
    expect(admin.page.get_by_test_id("chart-sessions_started")).to_be_visible()
    admin.shot("acceptance-insights-analytics")
