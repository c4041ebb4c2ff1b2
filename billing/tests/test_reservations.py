"""Reservations: hold, settle, release, expiry (exactly once)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from billing import services, tasks
from billing.errors import InsufficientCredits, ReservationClosed
from billing.models import Reservation
from billing.tests.factories import (
    ONE_CREDIT_TOKENS,
    TEST_MODEL,
    account,
    balance,
    entries,
    fund,
    records,
    reservations,
    url,
)
from core.errors import InvalidInput, NotFound
from core.tenancy import platform_bypass, tenant_context


def hold(tenant: Any, key: str = "h", amount: Any = 4, **fields: Any) -> dict[str, Any]:
    with tenant_context(tenant):
        return services.reservation_hold(
            tenant=tenant,
            idempotency_key=key,
            amount=Decimal(amount) if amount is not None else None,
            **fields,
        ).json()


def settle(tenant: Any, reservation_id: Any, credits: int, **fields: Any) -> dict[str, Any]:
    with tenant_context(tenant):
        return services.reservation_settle(
            tenant=tenant,
            reservation_id=reservation_id,
            model=TEST_MODEL,
            input_tokens=credits * ONE_CREDIT_TOKENS,
            output_tokens=0,
            **fields,
        ).json()


def release(tenant: Any, reservation_id: Any) -> dict[str, Any]:
    with tenant_context(tenant):
        return services.reservation_release(tenant=tenant, reservation_id=reservation_id).json()


@pytest.mark.django_db
def test_hold__fits__held_not_charged_and_available_shrinks(tenant, price):
    fund(tenant, 10)

    body = hold(tenant, amount=4)

    assert (body["status"], body["amount"], body["settled_amount"]) == ("open", "4.000000", None)
    acct = account(tenant)
    assert (acct.balance, acct.held, acct.available) == (Decimal(10), Decimal(4), Decimal(6))
    assert entries(tenant, kind="usage") == []


@pytest.mark.django_db
def test_hold__no_ttl_given__the_tenants_reservation_ttl_setting_then_the_default(tenant, price):
    from accounts.tests.factories import UserFactory
    from tenants.services import setting_set

    fund(tenant, 10)
    default = hold(tenant, key="default", amount=1)
    admin = UserFactory.create(platform_role="platform_admin", is_staff=True)
    with tenant_context(tenant):
        setting_set(tenant=tenant, key="billing.reservation_ttl_seconds", value=120, actor=admin)
    short = hold(tenant, key="short", amount=1)
    explicit = hold(tenant, key="explicit", amount=1, ttl_seconds=600)

    def lifetime(body: dict[str, Any]) -> float:
        with tenant_context(tenant):
            row = Reservation.objects.get(pk=body["id"])
        return (row.expires_at - row.created_at).total_seconds()

    assert round(lifetime(default)) == 900
    assert round(lifetime(short)) == 120
    assert round(lifetime(explicit)) == 600


@pytest.mark.django_db
def test_hold__estimate_from_a_model_and_maximum_tokens(tenant, price):
    fund(tenant, 10)

    body = hold(tenant, amount=None, model=TEST_MODEL, input_tokens=2 * ONE_CREDIT_TOKENS, output_tokens=0)

    assert body["amount"] == "2.000000"


@pytest.mark.django_db
def test_hold__more_than_available__402_nothing_held(tenant, price):
    fund(tenant, 10)
    hold(tenant, "first", amount=7)

    with pytest.raises(InsufficientCredits):
        hold(tenant, "second", amount=4)

    assert account(tenant).held == Decimal(7)
    assert len(reservations(tenant)) == 1
    assert [r.key for r in records(tenant)] == ["first"]


@pytest.mark.django_db
def test_hold__same_key__replayed_one_hold(tenant, price):
    fund(tenant, 10)

    first = hold(tenant, "same", amount=3)
    again = hold(tenant, "same", amount=3)

    assert again == first
    assert account(tenant).held == Decimal(3)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields",
    [
        {"amount": None},  # neither amount nor model
        {"amount": 0},
        {"amount": -1},
        {"amount": "1.0000001"},
        {"ttl_seconds": 0},
        {"ttl_seconds": 10**9},
        {"amount": None, "model": "no-such-model", "input_tokens": 10},
    ],
)
def test_hold__bad_request__400(tenant, price, fields):
    fund(tenant, 10)

    with pytest.raises(InvalidInput), tenant_context(tenant):
        services.reservation_hold(tenant=tenant, idempotency_key="k", **{"amount": Decimal(1), **fields})


@pytest.mark.django_db
def test_settle__less_than_held__charges_actual_frees_the_rest(tenant, price):
    fund(tenant, 10)
    held = hold(tenant, amount=4)

    body = settle(tenant, held["id"], credits=3)

    assert body["reservation"]["status"] == "settled"
    assert body["reservation"]["settled_amount"] == "3.000000"
    assert (body["transaction"]["amount"], body["transaction"]["balance_after"]) == ("-3.000000", "7.000000")
    assert body["transaction"]["reservation_id"] == held["id"]
    acct = account(tenant)
    assert (acct.balance, acct.held) == (Decimal(7), Decimal(0))


@pytest.mark.django_db
def test_settle__more_than_held_and_available_covers_it__charged(tenant, price):
    fund(tenant, 10)
    held = hold(tenant, amount=2)

    settle(tenant, held["id"], credits=5)

    assert (balance(tenant), account(tenant).held) == (Decimal(5), Decimal(0))


@pytest.mark.django_db
def test_settle__beyond_hold_and_available__402_hold_stays_open(tenant, price):
    fund(tenant, 5)
    held = hold(tenant, amount=4)

    with pytest.raises(InsufficientCredits):
        settle(tenant, held["id"], credits=6)

    assert reservations(tenant)[0].status == "open"
    assert (balance(tenant), account(tenant).held) == (Decimal(5), Decimal(4))


@pytest.mark.django_db
def test_settle__twice__409_reservation_closed_charged_once(tenant, price):
    fund(tenant, 10)
    held = hold(tenant, amount=4)
    settle(tenant, held["id"], credits=1)

    with pytest.raises(ReservationClosed):
        settle(tenant, held["id"], credits=1)

    assert balance(tenant) == Decimal(9)


@pytest.mark.django_db
def test_settle__with_an_idempotency_key__retry_replays(tenant, price):
    fund(tenant, 10)
    held = hold(tenant, amount=4)

    first = settle(tenant, held["id"], credits=1, idempotency_key="settle-1")
    again = settle(tenant, held["id"], credits=1, idempotency_key="settle-1")

    assert again == first
    assert balance(tenant) == Decimal(9)


@pytest.mark.django_db
def test_settle__no_model_given__the_holds_model_is_priced(tenant, price):
    fund(tenant, 10)
    held = hold(tenant, amount=None, model=TEST_MODEL, input_tokens=3 * ONE_CREDIT_TOKENS)

    with tenant_context(tenant):
        body = services.reservation_settle(
            tenant=tenant, reservation_id=held["id"], input_tokens=ONE_CREDIT_TOKENS, output_tokens=0
        ).json()

    assert (body["transaction"]["model"], body["transaction"]["amount"]) == (TEST_MODEL, "-1.000000")


@pytest.mark.django_db
def test_settle__other_tenants_hold__404_like_unknown(tenant, other_tenant, price):
    fund(other_tenant, 10)
    theirs = hold(other_tenant, amount=1)

    with pytest.raises(NotFound):
        settle(tenant, theirs["id"], credits=1)


@pytest.mark.django_db
def test_release__frees_everything_charges_nothing(tenant, price):
    fund(tenant, 10)
    held = hold(tenant, amount=4)

    body = release(tenant, held["id"])

    assert body["status"] == "released"
    assert (balance(tenant), account(tenant).held) == (Decimal(10), Decimal(0))
    with pytest.raises(ReservationClosed):
        release(tenant, held["id"])


@pytest.mark.django_db
def test_expiry__task_run_twice__each_expired_hold_released_exactly_once(tenant, other_tenant, price):
    fund(tenant, 10)
    fund(other_tenant, 10)
    old = hold(tenant, "old", amount=3, ttl_seconds=60)
    fresh = hold(tenant, "fresh", amount=2, ttl_seconds=3600)
    theirs = hold(other_tenant, "theirs", amount=1, ttl_seconds=60)
    with platform_bypass(reason="test", log=False):
        Reservation.objects.filter(pk__in=[old["id"], theirs["id"]]).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )

    first = tasks.expire_reservations.delay().get()
    second = tasks.expire_reservations.delay().get()

    assert (first, second) == (2, 0)
    statuses = {str(r.pk): r.status for r in reservations(tenant) + reservations(other_tenant)}
    assert statuses == {old["id"]: "expired", fresh["id"]: "open", theirs["id"]: "expired"}
    assert (account(tenant).held, account(other_tenant).held) == (Decimal(2), Decimal(0))
    with pytest.raises(ReservationClosed):
        settle(tenant, old["id"], credits=1)


@pytest.mark.django_db
def test_expiry__past_expiry_but_not_yet_collected__can_still_be_settled(tenant, price):
    fund(tenant, 10)
    held = hold(tenant, amount=3, ttl_seconds=60)
    with platform_bypass(reason="test", log=False):
        Reservation.objects.filter(pk=held["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))

    settle(tenant, held["id"], credits=2)
    released = services.reservations_expire()

    assert released == 0
    assert (balance(tenant), account(tenant).held) == (Decimal(8), Decimal(0))


# --- Over HTTP --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_reservations_api__hold_settle_list_get(tenant, owner, price, as_user):
    fund(tenant, 10)
    client = as_user(owner)

    created = client.post(url(tenant, "usage/reservations"), {"amount": "4"}, HTTP_IDEMPOTENCY_KEY="api-hold")
    hold_id = created.json()["id"]
    settled = client.post(
        url(tenant, f"usage/reservations/{hold_id}/settle"),
        {"model": TEST_MODEL, "input_tokens": ONE_CREDIT_TOKENS, "output_tokens": 0},
    )
    listed = client.get(url(tenant, "usage/reservations?status=settled"))
    one = client.get(url(tenant, f"usage/reservations/{hold_id}"))

    assert created.status_code == 201, created.content
    assert settled.status_code == 200, settled.content
    assert settled.json()["transaction"]["balance_after"] == "9.000000"
    assert [r["id"] for r in listed.json()["results"]] == [hold_id]
    assert one.json()["status"] == "settled"
    assert one.json()["settled_amount"] == "1.000000"


@pytest.mark.django_db
def test_reservations_api__hold_beyond_available__402(tenant, owner, price, as_user):
    fund(tenant, 1)

    response = as_user(owner).post(
        url(tenant, "usage/reservations"), {"amount": "4"}, HTTP_IDEMPOTENCY_KEY="k"
    )

    assert (response.status_code, response.json()["code"]) == (402, "insufficient_credits")


@pytest.mark.django_db
def test_reservations_api__release__200_then_409(tenant, owner, price, as_user):
    fund(tenant, 10)
    client = as_user(owner)
    hold_id = client.post(
        url(tenant, "usage/reservations"), {"amount": "4"}, HTTP_IDEMPOTENCY_KEY="k"
    ).json()["id"]

    first = client.post(url(tenant, f"usage/reservations/{hold_id}/release"))
    second = client.post(url(tenant, f"usage/reservations/{hold_id}/release"))

    assert first.status_code == 200
    assert (second.status_code, second.json()["code"]) == (409, "reservation_closed")


@pytest.mark.django_db
def test_reservations_api__list__query_count_pinned(tenant, owner, price, as_user, django_assert_num_queries):
    fund(tenant, 100)
    client = as_user(owner)
    hold(tenant, "r0", amount=1)
    with django_assert_num_queries(7):
        client.get(url(tenant, "usage/reservations"))
    for i in range(1, 6):
        hold(tenant, f"r{i}", amount=1)

    with django_assert_num_queries(7):
        response = client.get(url(tenant, "usage/reservations"))

    assert len(response.json()["results"]) == 6


@pytest.mark.django_db
def test_unlimited_account__hold_beyond_balance_admitted_settled_as_bypass(tenant, price, platform_admin):
    fund(tenant, 1)
    with tenant_context(tenant):
        services.credit_account_update(tenant=tenant, actor=platform_admin, unlimited=True)
    held = hold(tenant, amount=50)

    body = settle(tenant, held["id"], credits=30)

    assert (body["transaction"]["kind"], body["transaction"]["amount"]) == ("bypass", "0.000000")
    assert body["transaction"]["metadata"]["shadow_amount"] == "-30.000000"
    assert (balance(tenant), account(tenant).held) == (Decimal(1), Decimal(0))


@pytest.mark.django_db
def test_beat_schedule__billing_tasks_are_scheduled_and_registered(settings):
    from config.celery import app

    app.loader.import_default_modules()
    scheduled = {
        name: entry["task"]
        for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
        if name.startswith("billing-")
    }

    assert scheduled == {
        "billing-expire-reservations": "billing.expire_reservations",
        "billing-renew-subscriptions": "billing.renew_subscriptions",
        "billing-prune-idempotency-records": "billing.prune_idempotency_records",
    }
    assert set(scheduled.values()) <= set(app.tasks)
    assert settings.CELERY_BEAT_SCHEDULE["billing-expire-reservations"]["schedule"] == 60.0


# --- Issue 10, finding 10: holds past what the account's columns hold are a 422, never a 500 ------


@pytest.mark.django_db
def test_reservations_api__unlimited_account_second_huge_hold__422_credit_limit_exceeded_held_unchanged(
    tenant, owner, price, platform_admin, as_user
):
    made_unlimited = as_user(platform_admin).patch(url(tenant, "credits"), {"unlimited": True}, format="json")
    assert made_unlimited.status_code == 200, made_unlimited.content
    client = as_user(owner)

    first = client.post(
        url(tenant, "usage/reservations"), {"amount": "99999999999999"}, HTTP_IDEMPOTENCY_KEY="huge-1"
    )
    held = account(tenant).held
    second = client.post(
        url(tenant, "usage/reservations"), {"amount": "99999999999999"}, HTTP_IDEMPOTENCY_KEY="huge-2"
    )

    assert first.status_code == 201, first.content
    assert held == Decimal("99999999999999")
    assert second.status_code == 422, second.content
    assert set(second.json()) == {"type", "code", "detail", "errors"}
    assert second.json()["code"] == "credit_limit_exceeded"
    assert account(tenant).held == held
    assert [r.idempotency_key for r in reservations(tenant)] == ["huge-1"]
    assert {r.key for r in records(tenant)} == {"huge-1"}


# --- Issue 10, finding 11: a hold's amount is digits, one point, a sign; nothing else ------------


@pytest.mark.django_db
@pytest.mark.parametrize("amount", ["1_000", "1e3", " 5", "5 ", "NaN", "Infinity"])
def test_reservations_api__amount_not_in_the_decimal_grammar__400_on_amount_nothing_held(
    tenant, owner, price, as_user, amount
):
    fund(tenant, 5000)

    response = as_user(owner).post(
        url(tenant, "usage/reservations"), {"amount": amount}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "validation_error"
    assert list(response.json()["errors"]) == ["amount"]
    assert reservations(tenant) == []
    assert records(tenant) == []
    assert account(tenant).held == Decimal(0)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("amount", "held"), [("1000", "1000.000000"), ("10.5", "10.500000"), (10, "10.000000")]
)
def test_reservations_api__amount_in_the_decimal_grammar__201(tenant, owner, price, as_user, amount, held):
    fund(tenant, 5000)

    response = as_user(owner).post(
        url(tenant, "usage/reservations"), {"amount": amount}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )

    assert response.status_code == 201, response.content
    assert response.json()["amount"] == held
    assert account(tenant).held == Decimal(held)
