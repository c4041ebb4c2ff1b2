"""Credits over HTTP: summary and runway, the ledger, staff transactions, statements, spend,
thresholds, subscriptions, the catalogue."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from agents.tests.factories import AgentFactory
from audit.models import AuditLogEntry
from billing.models import CreditTransaction, Subscription
from billing.tests.factories import (
    ONE_CREDIT_TOKENS,
    TEST_MODEL,
    balance,
    charge,
    entries,
    fund,
    make_subscription,
    records,
    url,
)
from core.tenancy import platform_bypass
from tenants.tests.factories import member


def audit(tenant: Any, action: str) -> list[AuditLogEntry]:
    with platform_bypass(reason="test", log=False):
        return list(AuditLogEntry.objects.filter(tenant=tenant, action=action))


def age_entries(tenant: Any, days: int) -> None:
    """Move the tenant's usage entries into the past (a test-only rewrite past the trigger)."""
    import pgtrigger

    with (
        platform_bypass(reason="test", log=False),
        pgtrigger.ignore("billing.CreditTransaction:credit_tx_insert_only"),
    ):
        CreditTransaction.objects.filter(tenant=tenant, kind="usage").update(
            created_at=timezone.now() - timedelta(days=days),
            occurred_at=timezone.now() - timedelta(days=days),
        )


# --- Summary -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_credits_get__balance_held_available_burn_rate_and_runway(tenant, owner, price, as_user):
    fund(tenant, 100)
    make_subscription(tenant)
    for _ in range(7):
        charge(tenant, credits=2)  # 14 credits in the last 7 days: 2 a day
    from billing import services
    from core.tenancy import tenant_context

    with tenant_context(tenant):
        services.reservation_hold(tenant=tenant, idempotency_key="h", amount=Decimal(6))

    body = as_user(owner).get(url(tenant, "credits")).json()

    assert body["balance"] == "86.000000"
    assert body["held"] == "6.000000"
    assert body["available"] == "80.000000"
    assert body["burn_rate_per_day"] == "2.000000"
    assert body["runway_days"] == "40.0"
    assert body["markup_multiplier"] == "5.0000"
    assert body["subscription"]["plan"]["code"] == "starter"
    assert body["unlimited"] is False


@pytest.mark.django_db
def test_credits_get__no_usage__runway_null(tenant, owner, as_user):
    fund(tenant, 5)

    body = as_user(owner).get(url(tenant, "credits")).json()

    assert (body["runway_days"], body["burn_rate_per_day"]) == (None, "0.000000")


@pytest.mark.django_db
def test_credits_get__usage_older_than_7_days__not_in_the_burn_rate(tenant, owner, price, as_user):
    fund(tenant, 100)
    charge(tenant, credits=70)
    age_entries(tenant, days=8)

    body = as_user(owner).get(url(tenant, "credits")).json()

    assert body["burn_rate_per_day"] == "0.000000"


@pytest.mark.django_db
def test_credits_get__query_count_pinned(tenant, owner, price, as_user, django_assert_num_queries):
    fund(tenant, 100)
    make_subscription(tenant)
    client = as_user(owner)
    # savepoint, read settings, tenant, set settings, membership, account, subscription+plan,
    # burn rate, thresholds, restore settings, release
    with django_assert_num_queries(10):
        client.get(url(tenant, "credits"))
    for _ in range(5):
        charge(tenant, credits=1)

    with django_assert_num_queries(10):
        client.get(url(tenant, "credits"))


@pytest.mark.django_db
def test_credits_patch__platform_admin__overdraft_and_unlimited_audited(tenant, platform_admin, as_user):
    fund(tenant, 5)

    response = as_user(platform_admin).patch(
        url(tenant, "credits"), {"overdraft_limit": "10", "unlimited": True}
    )

    assert response.status_code == 200, response.content
    assert (response.json()["overdraft_limit"], response.json()["unlimited"]) == ("10.000000", True)
    assert response.json()["available"] == "15.000000"
    (entry,) = audit(tenant, "credits.account_updated")
    assert set(entry.details["changes"]) == {"overdraft_limit", "unlimited"}


@pytest.mark.django_db
def test_credits_patch__tenant_owner__403(tenant, owner, as_user):
    response = as_user(owner).patch(url(tenant, "credits"), {"unlimited": True})

    assert (response.status_code, response.json()["code"]) == (403, "missing_permission")


# --- Staff transactions ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "amount", "after"),
    [("grant", "25", "35.000000"), ("topup", "5.5", "15.500000"), ("adjustment", "-3", "7.000000")],
)
def test_transactions_post__platform_staff__entry_and_audit_with_reason(
    tenant, platform_operator, as_user, kind, amount, after
):
    fund(tenant, 10)

    response = as_user(platform_operator).post(
        url(tenant, "credits/transactions"), {"kind": kind, "amount": amount, "reason": "goodwill"}
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["balance_after"], body["description"]) == (kind, after, "goodwill")
    (entry,) = [e for e in audit(tenant, f"credits.{kind}") if e.details["reason"] == "goodwill"]
    assert entry.actor_user_id == platform_operator.pk
    assert entry.target_id == body["id"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"kind": "grant", "amount": "10"}, 400),  # no reason
        ({"kind": "grant", "amount": "10", "reason": "  "}, 400),
        ({"kind": "grant", "amount": "-10", "reason": "x"}, 400),
        ({"kind": "adjustment", "amount": "0", "reason": "x"}, 400),
        ({"kind": "usage", "amount": "1", "reason": "x"}, 400),
        ({"kind": "adjustment", "amount": "-11", "reason": "x"}, 402),  # below the floor
    ],
)
def test_transactions_post__invalid__refused_nothing_written(
    tenant, platform_admin, as_user, payload, status
):
    fund(tenant, 10)
    before = len(entries(tenant))

    response = as_user(platform_admin).post(url(tenant, "credits/transactions"), payload)

    assert response.status_code == status, response.content
    assert len(entries(tenant)) == before


@pytest.mark.django_db
def test_transactions_post__tenant_owner__403_only_platform_staff_move_credits(tenant, owner, as_user):
    response = as_user(owner).post(
        url(tenant, "credits/transactions"), {"kind": "grant", "amount": "1", "reason": "x"}
    )

    assert (response.status_code, response.json()["code"]) == (403, "missing_permission")


@pytest.mark.django_db
def test_transactions_post__idempotency_key__retry_replays_one_grant(tenant, platform_admin, as_user):
    client = as_user(platform_admin)
    payload = {"kind": "grant", "amount": "10", "reason": "promo"}

    first = client.post(url(tenant, "credits/transactions"), payload, HTTP_IDEMPOTENCY_KEY="grant-1")
    again = client.post(url(tenant, "credits/transactions"), payload, HTTP_IDEMPOTENCY_KEY="grant-1")

    assert again.content == first.content
    assert balance(tenant) == Decimal(10)
    assert len([e for e in audit(tenant, "credits.grant") if e.details["reason"] == "promo"]) == 1


@pytest.mark.django_db
def test_refund__of_a_usage_entry__at_most_what_it_charged(tenant, price, platform_admin, as_user):
    fund(tenant, 10)
    usage_id = charge(tenant, credits=4).json()["id"]
    client = as_user(platform_admin)

    def refund(amount: str) -> Any:
        return client.post(
            url(tenant, "credits/transactions"),
            {"kind": "refund", "amount": amount, "reason": "bad run", "refund_of": usage_id},
        )

    first, second, too_much = refund("3"), refund("1"), refund("0.000001")

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["refund_of"] == usage_id
    assert (too_much.status_code, too_much.json()["code"]) == (409, "refund_exceeds_charge")
    assert balance(tenant) == Decimal(10)


@pytest.mark.django_db
def test_refund__of_another_tenants_entry__400(tenant, other_tenant, price, platform_admin, as_user):
    fund(other_tenant, 10)
    theirs = charge(other_tenant, credits=1).json()["id"]

    response = as_user(platform_admin).post(
        url(tenant, "credits/transactions"),
        {"kind": "refund", "amount": "1", "reason": "x", "refund_of": theirs},
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {"refund_of": ["No such entry in this tenant's ledger."]}


# --- The ledger ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_transactions_list__newest_first_cursor_pages_and_filters(tenant, owner, price, as_user):
    fund(tenant, 100)
    agent = AgentFactory.create(tenant=tenant).pk  # the ledger's agent_id is a foreign key
    for i in range(5):
        charge(tenant, f"u{i}", credits=1, agent_id=str(agent) if i % 2 else None)
    client = as_user(owner)

    page1 = client.get(url(tenant, "credits/transactions?page_size=4")).json()
    page2 = client.get(page1["next"]).json()
    by_agent = client.get(url(tenant, f"credits/transactions?agent_id={agent}")).json()
    grants = client.get(url(tenant, "credits/transactions?kind=grant")).json()

    keys = [e["idempotency_key"] for e in page1["results"] + page2["results"]]
    assert keys == ["u4", "u3", "u2", "u1", "u0", ""]
    assert page2["next"] is None
    assert [e["idempotency_key"] for e in by_agent["results"]] == ["u3", "u1"]
    assert [e["kind"] for e in grants["results"]] == ["grant"]


@pytest.mark.django_db
def test_transactions_list__bad_filter__400(tenant, owner, as_user):
    response = as_user(owner).get(url(tenant, "credits/transactions?created_after=yesterday"))

    assert response.status_code == 400


@pytest.mark.django_db
def test_transactions_list__query_count_pinned(tenant, owner, price, as_user, django_assert_num_queries):
    fund(tenant, 100)
    client = as_user(owner)
    with django_assert_num_queries(7):
        client.get(url(tenant, "credits/transactions"))
    for _ in range(10):
        charge(tenant, credits=1)

    with django_assert_num_queries(7):
        response = client.get(url(tenant, "credits/transactions"))

    assert len(response.json()["results"]) == 11


@pytest.mark.django_db
def test_transaction_get__own_and_another_tenants(tenant, other_tenant, owner, price, as_user):
    fund(tenant, 10)
    fund(other_tenant, 10)
    mine = entries(tenant)[0].pk
    theirs = entries(other_tenant)[0].pk
    client = as_user(owner)

    assert client.get(url(tenant, f"credits/transactions/{mine}")).json()["id"] == str(mine)
    assert client.get(url(tenant, f"credits/transactions/{theirs}")).status_code == 404


# --- Statements and spend --------------------------------------------------------------------------


def read_csv(response: Any) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.mark.django_db
def test_statement_csv__period__streamed_opening_entries_closing(tenant, owner, price, as_user):
    fund(tenant, 10)
    charge(tenant, "s1", credits=2)
    charge(tenant, "s2", credits=3)
    today = timezone.now().date()

    response = as_user(owner).get(
        url(tenant, f"credits/statement.csv?start={today}&end={today + timedelta(days=1)}")
    )

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f"statement-{tenant.slug}-{today}-{today}.csv" in response["Content-Disposition"]
    rows = read_csv(response)
    assert rows[0][:6] == ["row", "seq", "created_at", "occurred_at", "kind", "amount"]
    assert rows[1][0] == "opening_balance"
    assert rows[1][6] == "0.000000"
    assert [(r[4], r[5], r[6]) for r in rows[2:-1]] == [
        ("grant", "10.000000", "10.000000"),
        ("usage", "-2.000000", "8.000000"),
        ("usage", "-3.000000", "5.000000"),
    ]
    assert rows[-1][0] == "closing_balance"
    assert rows[-1][6] == "5.000000"


@pytest.mark.django_db
def test_statement_csv__later_period__opening_balance_carried(tenant, owner, price, as_user):
    fund(tenant, 10)
    tomorrow = timezone.now().date() + timedelta(days=1)

    rows = read_csv(as_user(owner).get(url(tenant, f"credits/statement.csv?start={tomorrow}")))

    assert [r[0] for r in rows[1:]] == ["opening_balance", "closing_balance"]
    assert rows[1][6] == rows[2][6] == "10.000000"


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["start=bad", "month=2026-13", "start=2026-02-01&end=2026-01-01"])
def test_statement_csv__bad_period__400(tenant, owner, as_user, query):
    response = as_user(owner).get(url(tenant, f"credits/statement.csv?{query}"))

    assert response.status_code == 400


@pytest.mark.django_db
def test_statement_csv__viewer_of_another_tenant__403(tenant, other_tenant, as_user):
    response = as_user(member(other_tenant, "viewer")).get(url(tenant, "credits/statement.csv"))

    assert response.status_code == 403


@pytest.mark.django_db
def test_spend__by_model_agent_and_day(tenant, owner, price, as_user):
    from billing.tests.factories import create_test_price

    create_test_price(model="other-model")
    fund(tenant, 100)
    agent_a, agent_b = (AgentFactory.create(tenant=tenant).pk for _ in range(2))
    charge(tenant, credits=3, agent_id=str(agent_a))
    charge(tenant, credits=2, agent_id=str(agent_b))
    charge(tenant, credits=1, agent_id=str(agent_a), model="other-model")
    client = as_user(owner)

    by_model = client.get(url(tenant, "credits/spend?group_by=model")).json()
    by_agent = client.get(url(tenant, "credits/spend?group_by=agent")).json()
    by_day = client.get(url(tenant, "credits/spend?group_by=day")).json()

    assert [(r["key"], r["credits"], r["events"]) for r in by_model["results"]] == [
        (TEST_MODEL, "5.000000", 2),
        ("other-model", "1.000000", 1),
    ]
    assert [(r["key"], r["credits"]) for r in by_agent["results"]] == [
        (str(agent_a), "4.000000"),
        (str(agent_b), "2.000000"),
    ]
    assert [(r["key"], r["credits"], r["input_tokens"]) for r in by_day["results"]] == [
        (str(timezone.now().date()), "6.000000", 6 * ONE_CREDIT_TOKENS)
    ]


@pytest.mark.django_db
def test_spend__unknown_group__400(tenant, owner, as_user):
    assert as_user(owner).get(url(tenant, "credits/spend?group_by=planet")).status_code == 400


# --- Thresholds -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_thresholds_api__owner_creates_lists_deletes_audited(tenant, owner, as_user):
    fund(tenant, 10)
    client = as_user(owner)

    created = client.post(url(tenant, "credits/thresholds"), {"threshold": "5"})
    duplicate = client.post(url(tenant, "credits/thresholds"), {"threshold": "5"})
    listed = client.get(url(tenant, "credits/thresholds")).json()
    deleted = client.delete(url(tenant, f"credits/thresholds/{created.json()['id']}"))

    assert created.status_code == 201
    assert (duplicate.status_code, duplicate.json()["code"]) == (409, "threshold_exists")
    assert [(t["threshold"], t["below"]) for t in listed] == [("5.000000", False)]
    assert deleted.status_code == 204
    assert len(audit(tenant, "credits.threshold_created")) == 1
    assert len(audit(tenant, "credits.threshold_deleted")) == 1


@pytest.mark.django_db
def test_thresholds_api__member__403(tenant, as_user):
    response = as_user(member(tenant, "member")).post(url(tenant, "credits/thresholds"), {"threshold": "5"})

    assert response.status_code == 403


# --- Subscription ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_subscription__staff_change_plan_slots_markup__audited_and_tenant_plan_follows(
    tenant, platform_admin, price, as_user
):
    make_subscription(tenant)
    fund(tenant, 100)
    client = as_user(platform_admin)

    response = client.patch(
        url(tenant, "subscription"),
        {"plan": "growth", "purchased_agent_slots": 5, "markup_multiplier_override": "3.5"},
    )
    body = charge(tenant, credits=1).json()

    assert response.status_code == 200, response.content
    assert response.json()["plan"]["code"] == "growth"
    assert response.json()["agent_slots"] == 25 + 5
    assert body["markup_multiplier"] == "3.5000"
    tenant.refresh_from_db()
    assert tenant.plan == "growth"
    assert len(audit(tenant, "subscription.updated")) == 1


@pytest.mark.django_db
def test_subscription__owner_reads_cannot_change(tenant, owner, as_user):
    make_subscription(tenant)
    client = as_user(owner)

    assert client.get(url(tenant, "subscription")).json()["plan"]["code"] == "starter"
    assert client.patch(url(tenant, "subscription"), {"plan": "enterprise"}).status_code == 403


@pytest.mark.django_db
def test_subscription__unknown_plan__400(tenant, platform_admin, as_user):
    make_subscription(tenant)

    response = as_user(platform_admin).patch(url(tenant, "subscription"), {"plan": "platinum"})

    assert response.status_code == 400


# --- The catalogue ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_plans__seeded_three_tiers(owner, as_user):
    body = as_user(owner).get("/api/v1/billing/plans").json()

    assert [p["code"] for p in body] == ["starter", "growth", "enterprise"]
    assert all(isinstance(p["monthly_price"], str) for p in body)


@pytest.mark.django_db
def test_prices__every_tier_with_effective_dates(owner, as_user):
    body = as_user(owner).get("/api/v1/billing/prices").json()

    assert {p["tier"] for p in body} == {"haiku", "sonnet", "opus"}
    haiku35 = [p for p in body if p["model"] == "claude-3-5-haiku-20241022"]
    assert [p["input_usd_per_mtok"] for p in haiku35] == ["0.800000", "1.000000"]  # newest first


@pytest.mark.django_db
def test_prices__anonymous__401(api_client):
    assert api_client.get("/api/v1/billing/prices").status_code == 401


# --- Tenants get their billing at creation; periods renew ---------------------------------------------


@pytest.mark.django_db
def test_register__new_tenant__account_subscription_and_included_credits(api_client):
    response = api_client.post(
        "/api/v1/auth/register",
        {
            "email": "ada@example.com",
            "password": "correct-horse-battery-staple-42",
            "tenant_name": "Ada Labs",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    from tenants.models import Tenant

    tenant = Tenant.objects.get(name="Ada Labs")

    assert balance(tenant) == Decimal(50)
    (grant,) = entries(tenant)
    assert (grant.kind, grant.metadata["plan"]) == ("grant", "starter")
    with platform_bypass(reason="test", log=False):
        assert Subscription.objects.get(tenant=tenant).plan.code == "starter"


@pytest.mark.django_db
def test_renew__run_twice_in_a_period__included_credits_granted_once_per_period(platform_admin):
    from billing import tasks
    from tenants.services import tenant_create

    tenant = tenant_create(actor=platform_admin, name="Growth Co", admin_email="g@example.com", plan="growth")
    assert balance(tenant) == Decimal(600)

    assert tasks.renew_subscriptions.delay().get() == 0  # this period is granted already
    with platform_bypass(reason="test", log=False):
        sub = Subscription.objects.get(tenant=tenant)
        Subscription.objects.filter(pk=sub.pk).update(
            current_period_start=sub.current_period_start - timedelta(days=31),
            current_period_end=timezone.now() - timedelta(seconds=1),
        )
    first = tasks.renew_subscriptions.delay().get()
    second = tasks.renew_subscriptions.delay().get()

    assert (first, second) == (1, 0)
    assert balance(tenant) == Decimal(1200)
    with platform_bypass(reason="test", log=False):
        renewed = Subscription.objects.get(tenant=tenant)
    assert renewed.current_period_end > timezone.now()
    assert [e.idempotency_key.startswith("included:") for e in entries(tenant)] == [True, True]


@pytest.mark.django_db
def test_agent_slot_check__plan_slots_plus_bought__then_422_agent_slots_exhausted(tenant):
    from billing import services
    from core.errors import LimitExceeded
    from core.tenancy import tenant_context

    make_subscription(tenant)  # starter: 3 agents
    with platform_bypass(reason="test", log=False):
        Subscription.objects.filter(tenant=tenant).update(purchased_agent_slots=2)

    with tenant_context(tenant):
        services.agent_slot_check(tenant=tenant, allocated=4)
        with pytest.raises(LimitExceeded) as raised:
            services.agent_slot_check(tenant=tenant, allocated=5)

    assert (raised.value.status_code, raised.value.code) == (422, "agent_slots_exhausted")


# --- Issue 10, finding 10: a balance past what the columns hold is a 422, never a 500 -------------


@pytest.mark.django_db
def test_transactions_post__grant_overflowing_the_balance__422_credit_limit_exceeded_nothing_written(
    tenant, platform_admin, as_user
):
    fund(tenant, 50)
    before = (
        balance(tenant),
        len(entries(tenant)),
        len(records(tenant)),
        len(audit(tenant, "credits.grant")),
    )

    response = as_user(platform_admin).post(
        url(tenant, "credits/transactions"),
        {"kind": "grant", "amount": "99999999999999", "reason": "x"},
        HTTP_IDEMPOTENCY_KEY="huge-grant",
    )

    assert response.status_code == 422, response.content
    body = response.json()
    assert set(body) == {"type", "code", "detail", "errors"}
    assert body["code"] == "credit_limit_exceeded"
    assert balance(tenant) == Decimal(50)
    assert (
        balance(tenant),
        len(entries(tenant)),
        len(records(tenant)),
        len(audit(tenant, "credits.grant")),
    ) == before


@pytest.mark.django_db
def test_transactions_post__grant_up_to_just_below_the_limit__201(tenant, platform_admin, as_user):
    """The control: the same amount on an empty account fits (the bound is on the result)."""
    response = as_user(platform_admin).post(
        url(tenant, "credits/transactions"), {"kind": "grant", "amount": "99999999999999", "reason": "x"}
    )

    assert response.status_code == 201, response.content
    assert response.json()["balance_after"] == "99999999999999.000000"


# --- Issue 10, finding 11: decimals are digits, one point, a sign; nothing else ------------------

NOT_DECIMALS = ["1_000", "1e3", " 5", "5 ", "NaN", "Infinity", "0x10"]


@pytest.mark.django_db
@pytest.mark.parametrize("amount", NOT_DECIMALS)
def test_transactions_post__amount_not_in_the_decimal_grammar__400_on_amount_nothing_written(
    tenant, platform_admin, as_user, amount
):
    fund(tenant, 10)
    before = (balance(tenant), len(entries(tenant)), len(audit(tenant, "credits.grant")))

    response = as_user(platform_admin).post(
        url(tenant, "credits/transactions"), {"kind": "grant", "amount": amount, "reason": "x"}, format="json"
    )

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "validation_error"
    assert list(response.json()["errors"]) == ["amount"]
    assert (balance(tenant), len(entries(tenant)), len(audit(tenant, "credits.grant"))) == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("amount", "after"), [("1000", "1010.000000"), ("10.5", "20.500000"), (10, "20.000000")]
)
def test_transactions_post__amount_in_the_decimal_grammar__201(
    tenant, platform_admin, as_user, amount, after
):
    fund(tenant, 10)

    response = as_user(platform_admin).post(
        url(tenant, "credits/transactions"), {"kind": "grant", "amount": amount, "reason": "x"}, format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["balance_after"] == after


@pytest.mark.django_db
@pytest.mark.parametrize("threshold", NOT_DECIMALS)
def test_thresholds_api__threshold_not_in_the_decimal_grammar__400_on_threshold_nothing_written(
    tenant, owner, as_user, threshold
):
    client = as_user(owner)

    response = client.post(url(tenant, "credits/thresholds"), {"threshold": threshold}, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "validation_error"
    assert list(response.json()["errors"]) == ["threshold"]
    assert client.get(url(tenant, "credits/thresholds")).json() == []
    assert audit(tenant, "credits.threshold_created") == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("threshold", "stored"), [("1000", "1000.000000"), ("10.5", "10.500000"), (10, "10.000000")]
)
def test_thresholds_api__threshold_in_the_decimal_grammar__201(tenant, owner, as_user, threshold, stored):
    response = as_user(owner).post(url(tenant, "credits/thresholds"), {"threshold": threshold}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["threshold"] == stored


# --- Issue 10, finding 12: periods outside 2000-01-01..2999-12-31 are a 400 saying so ------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("credits/statement.csv?month=9999-12", "month"),
        ("credits/statement.csv?month=1999-12", "month"),
        ("credits/statement.csv?start=9999-12-31", "start"),
        ("credits/statement.csv?start=2026-01-01&end=9999-12-31", "end"),
        ("credits/spend?start=9999-12-31", "start"),
        ("credits/spend?end=9999-12-31", "end"),
        ("credits/spend?start=1999-12-31", "start"),
        ("credits/spend?month=9999-12", "month"),
        ("credits/spend?month=1999-12", "month"),
    ],
)
def test_period__outside_the_accepted_range__400_stating_the_range(tenant, owner, as_user, path, field):
    response = as_user(owner).get(url(tenant, path))

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["errors"] == {field: ["Between 2000-01-01 and 2999-12-31."]}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "credits/statement.csv?month=2999-12",
        "credits/statement.csv?month=2000-01",
        "credits/spend?start=2000-01-01&end=2999-12-31",
    ],
)
def test_period__at_the_edges_of_the_range__200(tenant, owner, as_user, path):
    fund(tenant, 10)

    response = as_user(owner).get(url(tenant, path))

    assert response.status_code == 200
    if "statement" in path:
        rows = read_csv(response)
        assert [r[0] for r in rows[1:]] == ["opening_balance", "closing_balance"]
    else:
        assert response.json()["results"] == []
