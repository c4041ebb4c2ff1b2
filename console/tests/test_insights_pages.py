"""The console's insights pages (issue 14): analytics (tenant and platform), segments,
recommendations (accept runs the intervention, dismiss with a reason, in place with htmx) and
interventions (run, reverse, a conflicting change shown as 409 in place): what each role sees and
may press, other tenants' ids 404, query counts pinned and independent of rows."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import ApiKey
from audit.models import AuditLogEntry
from core.tenancy import platform_bypass
from insights.models import Intervention, Recommendation
from insights.tests.factories import DailyAnalyticsFactory, make_intervention, make_recommendation
from tenants.models import FeatureFlag
from tenants.tests.factories import FeatureFlagFactory, TenantFactory, member

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def price(db: Any) -> Any:
    from billing.tests.factories import create_test_price

    return create_test_price()


def _statements(client: Client, url: str) -> int:
    client.get(url)  # warm: sessions, configuration cache
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return len([q for q in captured.captured_queries if "SAVEPOINT" not in (q["sql"] or "")])


def _days(tenant: Any, n: int, **fields: Any) -> None:
    today = datetime.now(UTC).date()
    for offset in range(n):
        DailyAnalyticsFactory.create(tenant=tenant, date=today - timedelta(days=offset), **fields)


def _actions(tenant: Any) -> list[str]:
    with platform_bypass(reason="test", log=False):
        return list(AuditLogEntry.objects.filter(tenant=tenant).values_list("action", flat=True))


def _rec(pk: Any) -> Recommendation:
    with platform_bypass(reason="test", log=False):
        return Recommendation.objects.get(pk=pk)


def _intervention(pk: Any) -> Intervention:
    with platform_bypass(reason="test", log=False):
        return Intervention.objects.get(pk=pk)


# --- Analytics ---------------------------------------------------------------------------------


def test_analytics__viewer_with_rows__charts_kpis_and_table_no_buttons(
    signed_in: Any, tenant: Any, viewer: Any
) -> None:
    _days(tenant, 3, sessions_started=4, sessions_failed=1, errors=2, credits_charged=Decimal("10"))
    body = signed_in(viewer).get(f"/t/{tenant.pk}/analytics/").content.decode()
    for key in ("active_users", "sessions_started", "tokens", "credits_charged", "margin_usd", "errors"):
        assert f'data-testid="chart-{key}"' in body
    assert body.count("<rect ") >= 3 * 6  # bars drawn for the three days
    assert "30.00" in body  # credits charged over the period
    assert "$25.50" in body  # margin: 30 credits (a credit is a dollar) less 3 x $1.50 cost
    assert 'data-testid="analytics-days"' in body
    assert "<button" not in body.split('data-testid="period-form"')[1].split("</form>")[1]
    assert f'href="/t/{tenant.pk}/analytics/" aria-current="page"' in body  # its nav section


def test_analytics__no_rows__says_what_to_do(signed_in: Any, tenant: Any, owner: Any) -> None:
    body = signed_in(owner).get(f"/t/{tenant.pk}/analytics/").content.decode()
    assert "manage.py rollup_analytics" in body
    assert 'data-testid="analytics-empty"' in body


def test_analytics__chosen_period__only_those_days(signed_in: Any, tenant: Any, owner: Any) -> None:
    _days(tenant, 10)
    today = datetime.now(UTC).date()
    start = today - timedelta(days=2)
    body = signed_in(owner).get(f"/t/{tenant.pk}/analytics/?start={start}&end={today}").content.decode()
    table = body.split('data-testid="analytics-days"')[1].split("</table>")[0]
    assert table.count("<tr>") == 1 + 3  # the head and three days


def test_analytics__bad_period__400_error_in_place(signed_in: Any, tenant: Any, owner: Any) -> None:
    response = signed_in(owner).get(f"/t/{tenant.pk}/analytics/?start=2026-05-01&end=2026-04-01")
    assert response.status_code == 400
    assert "The period ends before it starts." in response.content.decode()


def test_analytics__another_tenants_member__403_page(signed_in: Any, tenant: Any, other_tenant: Any) -> None:
    stranger = member(other_tenant, "owner")
    _days(tenant, 2, credits_charged=Decimal("77"))
    response = signed_in(stranger).get(f"/t/{tenant.pk}/analytics/")
    assert response.status_code == 403
    assert "77" not in response.content.decode()


def test_analytics__query_count__same_for_few_and_many_days(signed_in: Any, tenant: Any, owner: Any) -> None:
    client = signed_in(owner)
    url = f"/t/{tenant.pk}/analytics/"
    _days(tenant, 1)
    few = _statements(client, url)
    with platform_bypass(reason="test", log=False):
        from insights.models import DailyAnalytics

        DailyAnalytics.objects.filter(tenant=tenant).delete()
    _days(tenant, 30)
    assert _statements(client, url) == few


def test_platform_analytics__staff__platform_rows_and_top_tenants(
    signed_in: Any, platform_operator: Any, tenant: Any, other_tenant: Any
) -> None:
    _days(None, 2, credits_charged=Decimal("500"), provider_cost_usd=Decimal("100"))
    _days(tenant, 2, credits_charged=Decimal("300"))
    _days(other_tenant, 2, credits_charged=Decimal("200"))
    body = signed_in(platform_operator).get("/platform/analytics/").content.decode()
    assert "1,000.00" in body  # the platform rows' credits, two days
    top = body.split('data-testid="top-tenants"')[1]
    assert top.index("Acme Robotics") < top.index("Globex Secret Projects")
    assert 'href="/platform/analytics/" aria-current="page"' in body


def test_platform_analytics__not_staff__403(signed_in: Any, owner: Any) -> None:
    assert signed_in(owner).get("/platform/analytics/").status_code == 403


def test_platform_analytics__query_count__same_for_more_tenants(
    signed_in: Any, platform_operator: Any, tenant: Any
) -> None:
    client = signed_in(platform_operator)
    _days(tenant, 3)
    few = _statements(client, "/platform/analytics/")
    for _ in range(4):
        _days(TenantFactory.create(), 3)
    _days(None, 10)
    assert _statements(client, "/platform/analytics/") == few


# --- Segments ------------------------------------------------------------------------------------


def test_segments__owner__each_with_count_and_description(signed_in: Any, tenant: Any, owner: Any) -> None:
    make_recommendation(tenant)  # a dormant admin with a live key
    body = signed_in(owner).get(f"/t/{tenant.pk}/segments/").content.decode()
    row = body.split('data-segment="dormant_members"')[1].split("</tr>")[0]
    assert '<td class="num" data-testid="count">1</td>' in row
    assert "no activity for 30 days" in row
    assert 'data-segment="agents_in_error"' in body


def test_segments__viewer__403_page(signed_in: Any, tenant: Any, viewer: Any) -> None:
    response = signed_in(viewer).get(f"/t/{tenant.pk}/segments/")
    assert response.status_code == 403
    assert "interventions:admin" in response.content.decode()


def test_segment__members_with_interventions_that_apply(
    signed_in: Any, tenant: Any, owner: Any, platform_operator: Any, price: Any
) -> None:
    from billing.tests.factories import charge, fund

    fund(tenant, 5)
    charge(tenant, credits=4)
    owner_body = signed_in(owner).get(f"/t/{tenant.pk}/segments/low_credit_runway/").content.decode()
    assert "Acme Robotics" in owner_body
    assert "None you may run" in owner_body  # a grant is platform staff's
    staff_body = (
        signed_in(platform_operator).get(f"/t/{tenant.pk}/segments/low_credit_runway/").content.decode()
    )
    assert f"/t/{tenant.pk}/interventions/new/?type=grant_credits&amp;target={tenant.pk}" in staff_body
    assert "type=suspend_tenant" in staff_body


def test_segment__unknown__404(signed_in: Any, tenant: Any, owner: Any) -> None:
    assert signed_in(owner).get(f"/t/{tenant.pk}/segments/no_such/").status_code == 404


def test_segment__query_count__same_for_one_and_many_members(signed_in: Any, tenant: Any, owner: Any) -> None:
    client = signed_in(owner)
    url = f"/t/{tenant.pk}/segments/dormant_members/"
    old = datetime.now(UTC) - timedelta(days=90)
    member(tenant, "member", joined_at=old)
    few = _statements(client, url)
    for _ in range(5):
        member(tenant, "member", joined_at=old)
    assert _statements(client, url) == few
    assert _statements(client, f"/t/{tenant.pk}/segments/") == _statements(
        client, f"/t/{tenant.pk}/segments/"
    )


# --- Recommendations ----------------------------------------------------------------------------


def test_recommendations__owner__open_one_with_reason_confidence_target_and_buttons(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    pk = make_recommendation(tenant)
    rec = _rec(pk)
    body = signed_in(owner).get(f"/t/{tenant.pk}/recommendations/").content.decode()
    assert html.escape(rec.reason) in body
    assert "80%" in body
    assert f'href="/t/{tenant.pk}/api-keys/"' in body or rec.target_label in body
    assert f"/t/{tenant.pk}/recommendations/{pk}/accept/" in body
    assert f"/t/{tenant.pk}/recommendations/{pk}/dismiss/" in body


def test_recommendations__accept_htmx__row_swapped_key_revoked_intervention_linked(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    pk = make_recommendation(tenant)
    response = signed_in(owner).post(f"/t/{tenant.pk}/recommendations/{pk}/accept/", {}, **HTMX)
    body = response.content.decode()
    assert response.status_code == 200, body[:500]
    assert body.lstrip().startswith(f'<tr id="recommendation-{pk}"')
    assert "Accepted: Revoke API key" in body
    assert "See the intervention" in body
    rec = _rec(pk)
    assert (rec.status, rec.decided_by_id) == ("accepted", owner.pk)
    with platform_bypass(reason="test", log=False):
        assert ApiKey.objects.get(pk=rec.target_id).revoked_at is not None
        assert Intervention.objects.get(recommendation=rec).type == "revoke_api_key"
    assert {"recommendation.accepted", "intervention.applied"} <= set(_actions(tenant))


def test_recommendations__accept_target_changed__409_in_place_still_open(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    pk = make_recommendation(tenant)
    with platform_bypass(reason="test", log=False):
        ApiKey.objects.filter(pk=_rec(pk).target_id).update(revoked_at=datetime.now(UTC))
    response = signed_in(owner).post(f"/t/{tenant.pk}/recommendations/{pk}/accept/", {}, **HTMX)
    assert response.status_code == 409
    assert "The target has changed since this was recommended" in response.content.decode()
    assert _rec(pk).status == "open"


def test_recommendations__dismiss__reason_required_then_recorded(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    pk = make_recommendation(tenant)
    client = signed_in(owner)
    url = f"/t/{tenant.pk}/recommendations/{pk}/dismiss/"
    refused = client.post(url, {"reason": ""}, **HTMX)
    assert refused.status_code == 400
    assert "This field is required." in refused.content.decode()
    assert _rec(pk).status == "open"

    done = client.post(url, {"reason": "The key feeds a nightly job"}, **HTMX)
    assert done.status_code == 200
    assert "Dismissed" in done.content.decode()
    rec = _rec(pk)
    assert (rec.status, rec.decision_reason) == ("dismissed", "The key feeds a nightly job")
    history = client.get(f"/t/{tenant.pk}/recommendations/?tab=history").content.decode()
    assert "The key feeds a nightly job" in history
    assert "recommendation-" in history
    assert f"/recommendations/{pk}/accept/" not in history


def test_recommendations__no_htmx_accept__redirect_with_notice(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    pk = make_recommendation(tenant)
    client = signed_in(owner)
    response = client.post(f"/t/{tenant.pk}/recommendations/{pk}/accept/", {})
    assert response.status_code == 302
    assert "Accepted: Revoke API key" in client.get(response["Location"]).content.decode()


def test_recommendations__other_tenants_id__404(
    signed_in: Any, tenant: Any, owner: Any, other_tenant: Any
) -> None:
    theirs = make_recommendation(other_tenant)
    client = signed_in(owner)
    assert client.post(f"/t/{tenant.pk}/recommendations/{theirs}/accept/", {}).status_code == 404
    assert (
        client.post(f"/t/{tenant.pk}/recommendations/{theirs}/dismiss/", {"reason": "x"}).status_code == 404
    )
    assert _rec(theirs).status == "open"


def test_recommendations__viewer__403_page(signed_in: Any, tenant: Any, viewer: Any) -> None:
    pk = make_recommendation(tenant)
    client = signed_in(viewer)
    assert client.get(f"/t/{tenant.pk}/recommendations/").status_code == 403
    assert client.post(f"/t/{tenant.pk}/recommendations/{pk}/accept/", {}).status_code == 403
    assert _rec(pk).status == "open"


def test_recommendations__query_count__same_for_one_and_many(signed_in: Any, tenant: Any, owner: Any) -> None:
    client = signed_in(owner)
    url = f"/t/{tenant.pk}/recommendations/"
    make_recommendation(tenant)
    few = _statements(client, url)
    for _ in range(4):
        make_recommendation(tenant)
    assert _statements(client, url) == few


# --- Interventions ------------------------------------------------------------------------------


def test_interventions__run_from_form__flag_disabled_listed_with_states(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    flag = FeatureFlagFactory.create(tenant=tenant, key="beta.search", enabled=True)
    client = signed_in(owner)
    form = client.get(
        f"/t/{tenant.pk}/interventions/new/?type=disable_flag&target={flag.pk}"
    ).content.decode()
    assert f"{flag.pk}</textarea>" in form
    assert 'value="grant_credits"' not in form  # platform staff's only
    response = client.post(
        f"/t/{tenant.pk}/interventions/new/",
        {"type": "disable_flag", "target_ids": str(flag.pk), "reason": "Breaks checkout"},
    )
    assert response.status_code == 302, response.content[:500]
    body = client.get(response["Location"]).content.decode()
    assert "Disable feature flag: done on 1 target." in body
    assert "Breaks checkout" in body
    assert "enabled: true → enabled: false" in body
    with platform_bypass(reason="test", log=False):
        assert FeatureFlag.objects.get(pk=flag.pk).enabled is False


def test_interventions__form_without_reason__400_in_place(signed_in: Any, tenant: Any, owner: Any) -> None:
    flag = FeatureFlagFactory.create(tenant=tenant)
    response = signed_in(owner).post(
        f"/t/{tenant.pk}/interventions/new/",
        {"type": "disable_flag", "target_ids": str(flag.pk), "reason": ""},
    )
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()


def test_interventions__service_refusal__shown_on_the_form(signed_in: Any, tenant: Any, owner: Any) -> None:
    response = signed_in(owner).post(
        f"/t/{tenant.pk}/interventions/new/", {"type": "disable_flag", "target_ids": "nope", "reason": "x"}
    )
    assert response.status_code == 400
    assert "UUIDs only." in response.content.decode()


def test_interventions__reverse_htmx__row_shows_reversed(signed_in: Any, tenant: Any, owner: Any) -> None:
    pk = make_intervention(tenant)
    client = signed_in(owner)
    listed = client.get(f"/t/{tenant.pk}/interventions/").content.decode()
    assert f"/t/{tenant.pk}/interventions/{pk}/reverse/" in listed
    response = client.post(f"/t/{tenant.pk}/interventions/{pk}/reverse/", {"reason": "False alarm"}, **HTMX)
    body = response.content.decode()
    assert response.status_code == 200, body[:500]
    assert body.lstrip().startswith(f'<tr id="intervention-{pk}"')
    assert "Reversed" in body
    assert "False alarm" in body
    assert _intervention(pk).reversed_by_id == owner.pk


def test_interventions__reverse_after_conflicting_change__409_message_in_place(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    pk = make_intervention(tenant)
    with platform_bypass(reason="test", log=False):
        FeatureFlag.objects.filter(pk=_intervention(pk).target_ids[0]).update(enabled=True)
    response = signed_in(owner).post(
        f"/t/{tenant.pk}/interventions/{pk}/reverse/", {"reason": "Undo"}, **HTMX
    )
    assert response.status_code == 409
    assert "A target has changed since the intervention; nothing was reversed." in response.content.decode()
    assert _intervention(pk).reversed_at is None


def test_interventions__reverse_without_reason__400(signed_in: Any, tenant: Any, owner: Any) -> None:
    pk = make_intervention(tenant)
    response = signed_in(owner).post(f"/t/{tenant.pk}/interventions/{pk}/reverse/", {"reason": ""}, **HTMX)
    assert response.status_code == 400
    assert _intervention(pk).reversed_at is None


def test_interventions__other_tenants_id__404(
    signed_in: Any, tenant: Any, owner: Any, other_tenant: Any
) -> None:
    theirs = make_intervention(other_tenant)
    response = signed_in(owner).post(f"/t/{tenant.pk}/interventions/{theirs}/reverse/", {"reason": "x"})
    assert response.status_code == 404
    assert _intervention(theirs).reversed_at is None


def test_interventions__member_without_the_permission__403_page(signed_in: Any, tenant: Any) -> None:
    plain = member(tenant, "member")
    client = signed_in(plain)
    for url in ("interventions/", "interventions/new/", "segments/", "recommendations/"):
        response = client.get(f"/t/{tenant.pk}/{url}")
        assert response.status_code == 403, url
        assert "interventions:admin" in response.content.decode()


def test_interventions__empty__says_what_to_do(signed_in: Any, tenant: Any, owner: Any) -> None:
    body = signed_in(owner).get(f"/t/{tenant.pk}/interventions/").content.decode()
    assert "No interventions yet." in body
    assert "Run an intervention" in body


def test_interventions__query_count__same_for_one_and_many(signed_in: Any, tenant: Any, owner: Any) -> None:
    client = signed_in(owner)
    url = f"/t/{tenant.pk}/interventions/"
    make_intervention(tenant)
    few = _statements(client, url)
    for _ in range(4):
        make_intervention(tenant)
    assert _statements(client, url) == few
