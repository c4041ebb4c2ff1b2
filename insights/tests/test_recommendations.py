"""Recommendations: the rules, the refresh (no duplicates, expiry), the task, and the API (list,
detail, accept runs the intervention, dismiss needs a reason, refusals, query counts)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import ApiKey, User
from accounts.tests.factories import ApiKeyFactory
from audit.models import AuditLogEntry
from billing import services as billing
from billing.tests.factories import balance, fund, usage
from core.tenancy import platform_bypass, tenant_context
from insights import services, tasks
from insights.models import Intervention, Recommendation
from insights.tests.factories import dormant_key, make_recommendation
from tenants.tests.factories import TenantFactory, member

pytestmark = pytest.mark.django_db


def url(tenant: Any, suffix: str = "") -> str:
    return f"/api/v1/tenants/{tenant.pk}/recommendations{suffix}"


def refresh(tenant: Any) -> services.recommendations.RefreshResult:
    with tenant_context(tenant):
        return services.recommendations_refresh(tenant=tenant)


def recs(tenant: Any, **filters: Any) -> list[Recommendation]:
    with platform_bypass(reason="test", log=False):
        return list(Recommendation.objects.filter(tenant=tenant, **filters).order_by("created_at"))


def actions(tenant: Any) -> list[str]:
    with platform_bypass(reason="test", log=False):
        return list(AuditLogEntry.objects.filter(tenant=tenant).values_list("action", flat=True))


def revoked(key: Any) -> bool:
    with platform_bypass(reason="test", log=False):
        return ApiKey.objects.get(pk=key.pk).revoked_at is not None


def spend(tenant: Any, user: Any, credits: int) -> None:
    with tenant_context(tenant):
        billing.credits_charge(
            tenant=tenant, event=usage(credits), idempotency_key=str(uuid.uuid4()), actor=user
        )


# --- Rules and refresh ---------------------------------------------------------------------------


def test_dormant_key_rule__dormant_creators_live_key__one_open_with_reason_and_confidence(tenant, owner):
    key = dormant_key(tenant)
    dormant_key(tenant, days=90)
    gone = dormant_key(tenant)
    with platform_bypass(reason="test", log=False):
        ApiKey.objects.filter(pk=gone.pk).update(revoked_at=timezone.now())
    expired = dormant_key(tenant)
    with platform_bypass(reason="test", log=False):
        ApiKey.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(days=1))
    ApiKeyFactory.create(tenant=tenant, created_by=owner)  # the owner joined today: not dormant

    result = refresh(tenant)

    rows = recs(tenant, rule="dormant_member_api_key")
    assert result.created == 2
    assert result.expired == 0
    assert len(rows) == 2
    first = next(r for r in rows if r.target_id == str(key.pk))
    assert first.suggested_action == "revoke_api_key"
    assert first.target_type == "accounts.apikey"
    assert first.status == "open"
    assert first.confidence == Decimal("0.80")
    assert "never been used" in first.reason
    assert "recommendations.refreshed" in actions(tenant)


def test_low_runway_rule__burn_outpaces_balance__grant_for_seven_days(tenant, owner, price):
    fund(tenant, 30)
    spend(tenant, owner, 21)  # 3 a day; 9 left: 3 days

    refresh(tenant)

    (rec,) = recs(tenant, rule="low_credit_runway")
    assert rec.suggested_action == "grant_credits"
    assert rec.target_id == str(tenant.pk)
    assert rec.params == {"amount": "21"}
    assert rec.confidence == Decimal("0.70")
    assert "3.0 days" in rec.reason


def test_refresh__run_twice__no_duplicates_nothing_audited_second_time(tenant):
    dormant_key(tenant)
    refresh(tenant)
    entries = len(actions(tenant))

    again = refresh(tenant)

    assert (again.created, again.expired) == (0, 0)
    assert len(recs(tenant)) == 1
    assert len(actions(tenant)) == entries


def test_refresh__condition_gone__expired_then_a_new_one_when_it_returns(tenant):
    key = dormant_key(tenant)
    refresh(tenant)
    User.objects.filter(pk=key.created_by_id).update(last_seen_at=timezone.now())

    result = refresh(tenant)

    assert result.expired == 1
    (rec,) = recs(tenant)
    assert rec.status == "expired"
    assert rec.decided_at is not None
    User.objects.filter(pk=key.created_by_id).update(last_seen_at=timezone.now() - timedelta(days=60))
    assert refresh(tenant).created == 1
    assert [r.status for r in recs(tenant)] == ["expired", "open"]


def test_refresh__dismissed_stays_dismissed_a_new_open_one_is_made(tenant, owner):
    """Dismissing closes this recommendation; the rule still holds, so the next refresh suggests
    it again (one open at most)."""
    pk = make_recommendation(tenant)
    with tenant_context(tenant):
        rec = Recommendation.objects.get(pk=pk)
        services.recommendation_dismiss(
            recommendation=rec, operator=services.Operator.platform(owner), reason="known"
        )

    refresh(tenant)
    refresh(tenant)

    assert sorted(r.status for r in recs(tenant)) == ["dismissed", "open"]


def test_refresh__query_count__independent_of_rows(tenant, django_assert_num_queries):
    dormant_key(tenant)
    with tenant_context(tenant), CaptureQueriesContext(connection) as one:
        services.recommendations_refresh(tenant=tenant)
    for _ in range(4):
        dormant_key(tenant)
    with tenant_context(tenant), django_assert_num_queries(len(one.captured_queries)):
        assert services.recommendations_refresh(tenant=tenant).created == 4


def test_task__every_active_tenant_refreshed_in_its_own_context(tenant, other_tenant):
    a, b = dormant_key(tenant), dormant_key(other_tenant)

    got = tasks.refresh_recommendations()

    assert got == {
        str(tenant.pk): {"created": 1, "expired": 0},
        str(other_tenant.pk): {"created": 1, "expired": 0},
    }
    assert recs(tenant)[0].target_id == str(a.pk)
    assert recs(other_tenant)[0].target_id == str(b.pk)
    assert tasks.refresh_recommendations() == {}


# --- API -----------------------------------------------------------------------------------------


def test_list__status_filter__only_that_status_paginated(tenant, owner, as_user):
    make_recommendation(tenant)
    dismissed = make_recommendation(tenant)
    with platform_bypass(reason="test", log=False):
        Recommendation.objects.filter(pk=dismissed).update(status="dismissed")
    client = as_user(owner)

    r = client.get(url(tenant), {"status": "open"})

    assert r.status_code == 200, r.content
    assert [row["status"] for row in r.json()["results"]] == ["open"]
    assert r.json()["results"][0]["suggested_action"] == "revoke_api_key"
    assert len(client.get(url(tenant)).json()["results"]) == 2
    bad = client.get(url(tenant), {"status": "nope"})
    assert bad.status_code == 400
    assert bad.json()["code"]


def test_detail__owner__the_recommendation(tenant, owner, as_user):
    pk = make_recommendation(tenant)

    r = as_user(owner).get(url(tenant, f"/{pk}"))

    assert r.status_code == 200
    assert r.json()["id"] == str(pk)
    assert r.json()["confidence"] == "0.80"


def test_accept__owner__key_revoked_intervention_linked_status_accepted_audited(tenant, owner, as_user):
    pk = make_recommendation(tenant)
    rec = recs(tenant)[0]

    r = as_user(owner).post(url(tenant, f"/{pk}/accept"), {}, format="json")

    assert r.status_code == 200, r.content
    body = r.json()
    assert body["recommendation"]["status"] == "accepted"
    assert body["recommendation"]["decided_by"] == owner.email
    assert body["intervention"]["type"] == "revoke_api_key"
    assert body["intervention"]["recommendation_id"] == str(pk)
    assert body["intervention"]["target_ids"] == [rec.target_id]
    with platform_bypass(reason="test", log=False):
        assert ApiKey.objects.get(pk=rec.target_id).revoked_at is not None
        assert Intervention.objects.get(recommendation_id=pk).reason.startswith("Recommendation")
    got = actions(tenant)
    assert {"api_key.revoked", "intervention.applied", "recommendation.accepted"} <= set(got)
    again = as_user(owner).post(url(tenant, f"/{pk}/accept"), {}, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "not_open"


def test_accept__key_revoked_since__409_target_changed_still_open(tenant, owner, as_user):
    pk = make_recommendation(tenant)
    with platform_bypass(reason="test", log=False):
        ApiKey.objects.filter(pk=recs(tenant)[0].target_id).update(revoked_at=timezone.now())

    r = as_user(owner).post(url(tenant, f"/{pk}/accept"), {"reason": "go"}, format="json")

    assert r.status_code == 409
    assert r.json()["code"] == "target_changed"
    assert recs(tenant)[0].status == "open"
    with platform_bypass(reason="test", log=False):
        assert not Intervention.objects.filter(tenant=tenant).exists()


def test_accept__grant_by_owner_403_by_operator_credits_granted(tenant, owner, operator, as_user, price):
    fund(tenant, 30)
    spend(tenant, owner, 21)
    refresh(tenant)
    (rec,) = recs(tenant, rule="low_credit_runway")

    refused = as_user(owner).post(url(tenant, f"/{rec.pk}/accept"), {}, format="json")
    assert refused.status_code == 403
    assert refused.json()["code"] == "platform_staff_only"
    assert recs(tenant)[0].status == "open"

    r = as_user(operator).post(url(tenant, f"/{rec.pk}/accept"), {"reason": "top up"}, format="json")

    assert r.status_code == 200, r.content
    assert Decimal(r.json()["intervention"]["params"]["amount"]) == 21
    assert balance(tenant) == Decimal(30)


def test_dismiss__no_reason_400_with_reason_recorded(tenant, owner, as_user):
    pk = make_recommendation(tenant)
    client = as_user(owner)

    for body in ({}, {"reason": "  "}, {"reason": "a\x00b"}):
        r = client.post(url(tenant, f"/{pk}/dismiss"), body, format="json")
        assert r.status_code == 400, (body, r.content)
        assert r.json()["code"]
    assert recs(tenant)[0].status == "open"

    r = client.post(url(tenant, f"/{pk}/dismiss"), {"reason": "a service account"}, format="json")

    assert r.status_code == 200, r.content
    assert r.json()["status"] == "dismissed"
    assert r.json()["decision_reason"] == "a service account"
    assert r.json()["decided_by"] == owner.email
    assert not revoked(ApiKey(pk=recs(tenant)[0].target_id))
    assert "recommendation.dismissed" in actions(tenant)


def test_routes__other_tenants_recommendation__404_untouched(tenant, other_tenant, owner, as_user):
    theirs = make_recommendation(other_tenant)
    client = as_user(owner)

    assert client.get(url(tenant, f"/{theirs}")).status_code == 404
    r = client.post(url(tenant, f"/{theirs}/accept"), {}, format="json")
    assert r.status_code == 404
    assert client.post(url(tenant, f"/{theirs}/dismiss"), {"reason": "x"}, format="json").status_code == 404
    assert recs(other_tenant)[0].status == "open"


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_routes__lower_role__403(tenant, as_user, role):
    pk = make_recommendation(tenant)
    client = as_user(member(tenant, role))

    assert client.get(url(tenant)).status_code == 403
    r = client.post(url(tenant, f"/{pk}/accept"), {}, format="json")
    assert r.status_code == 403
    assert r.json()["code"]
    assert recs(tenant)[0].status == "open"


def test_list__query_count__independent_of_rows(tenant, owner, as_user, django_assert_num_queries):
    client = as_user(owner)
    make_recommendation(tenant)
    with CaptureQueriesContext(connection) as one:
        assert client.get(url(tenant)).status_code == 200
    for _ in range(3):
        make_recommendation(tenant)
    with platform_bypass(reason="test", log=False):
        Recommendation.objects.filter(tenant=tenant).update(decided_by=owner)
    with django_assert_num_queries(len(one.captured_queries)):
        assert len(client.get(url(tenant)).json()["results"]) == 4


def test_other_tenant_untouched__refresh_of_one_tenant(tenant):
    other = TenantFactory.create()
    dormant_key(other)

    refresh(tenant)

    assert recs(other) == []


def _agent_in_error(tenant: Any, *, hours: int) -> Any:
    from agents.tests.factories import AgentFactory

    with platform_bypass(reason="test", log=False):
        return AgentFactory.create(
            tenant=tenant,
            status="error",
            status_reason="model provider unreachable",
            status_changed_at=timezone.now() - timedelta(hours=hours),
        )


def test_agent_in_error_rule__one_open_pause_surer_after_a_day_accept_pauses_it(tenant, owner, as_user):
    settled, recent = _agent_in_error(tenant, hours=30), _agent_in_error(tenant, hours=1)

    with tenant_context(tenant):
        assert services.recommendations_refresh(tenant=tenant).created == 2
        assert services.recommendations_refresh(tenant=tenant).created == 0  # no duplicates
    found = {r.target_id: r for r in recs(tenant) if r.suggested_action == "pause_agent"}
    assert set(found) == {str(settled.pk), str(recent.pk)}
    assert (found[str(settled.pk)].confidence, found[str(recent.pk)].confidence) == (
        Decimal("0.80"),
        Decimal("0.60"),
    )
    assert "model provider unreachable" in found[str(settled.pk)].reason

    r = as_user(owner).post(url(tenant, f"/{found[str(settled.pk)].pk}/accept"), {}, format="json")

    assert r.status_code == 200, r.content
    assert r.json()["intervention"]["type"] == "pause_agent"
    with platform_bypass(reason="test", log=False):
        settled.refresh_from_db()
    assert settled.status == "paused"
