"""Charging usage: pricing, markup, idempotency, refusals, unlimited accounts, thresholds."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from agents.tests.factories import AgentFactory
from audit.models import AuditLogEntry
from billing import services
from billing.errors import IdempotencyKeyReused, InsufficientCredits
from billing.models import IdempotencyRecord, Plan, Subscription
from billing.tests.factories import (
    ONE_CREDIT_TOKENS,
    TEST_MODEL,
    account,
    balance,
    charge,
    create_test_price,
    entries,
    fund,
    records,
    url,
    usage,
    with_key,
)
from core.errors import InvalidInput
from core.tenancy import platform_bypass, tenant_context
from tenants.tests.factories import member

USAGE = {"model": TEST_MODEL, "input_tokens": ONE_CREDIT_TOKENS, "output_tokens": 0}


def audit_actions(tenant: Any, action: str) -> list[AuditLogEntry]:
    with platform_bypass(reason="test", log=False):
        return list(AuditLogEntry.objects.filter(tenant=tenant, action=action).order_by("created_at"))


def subscribe(tenant: Any, plan: str = "starter", override: str | None = None) -> None:
    now = timezone.now()
    with platform_bypass(reason="test", log=False):
        Subscription.objects.create(
            tenant=tenant,
            plan=Plan.objects.get(code=plan),
            current_period_start=now,
            current_period_end=now + timedelta(days=30),
            markup_multiplier_override=Decimal(override) if override else None,
        )


# --- Pricing ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_charge__tokens_of_a_priced_model__credits_are_cost_times_markup_and_balance_moves(tenant, price):
    fund(tenant, 10)

    result = charge(tenant, "k1", input_tokens=1000, output_tokens=500, credits=0)

    # (1000 x 1 + 500 x 2) / 1e6 = 0.002 USD; x 5 = 0.01 credits
    body = result.json()
    assert result.status_code == 201
    assert body["amount"] == "-0.010000"
    assert body["provider_cost_usd"] == "0.002000000000"
    assert body["markup_multiplier"] == "5.0000"
    assert body["balance_after"] == "9.990000"
    assert balance(tenant) == Decimal("9.990000")
    entry = entries(tenant, kind="usage")[0]
    assert (entry.amount, entry.balance_after, entry.idempotency_key) == (
        Decimal("-0.010000"),
        Decimal("9.990000"),
        "k1",
    )


@pytest.mark.django_db
def test_charge__amounts__are_decimal_strings_in_json_never_floats(tenant, price):
    fund(tenant, 10)

    body = json.loads(charge(tenant, credits=1).body, parse_float=lambda s: pytest.fail(f"float {s}"))

    assert isinstance(body["amount"], str)
    assert isinstance(body["balance_after"], str)


@pytest.mark.django_db
def test_charge__rounding__half_up_to_six_decimals(tenant, price):
    fund(tenant, 1)

    # 1 token: 0.000001 USD x 5 = 0.000005; 3 output tokens: 0.000006 x 5 = 0.00003
    result = charge(tenant, input_tokens=1, output_tokens=0, credits=0)

    assert result.json()["amount"] == "-0.000005"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("plan", "override", "expected_markup", "expected_amount"),
    [
        (None, None, "5.0000", "-1.000000"),  # no subscription: the default
        ("starter", None, "5.0000", "-1.000000"),  # the plan's
        ("enterprise", None, "4.0000", "-0.800000"),  # the enterprise plan's volume markup
        ("starter", "7.5", "7.5000", "-1.500000"),  # the tenant's override wins
    ],
)
def test_charge__markup__tenant_override_else_plan_else_default(
    tenant, price, plan, override, expected_markup, expected_amount
):
    if plan:
        subscribe(tenant, plan, override)
    fund(tenant, 10)

    body = charge(tenant, credits=1).json()

    assert (body["markup_multiplier"], body["amount"]) == (expected_markup, expected_amount)


@pytest.mark.django_db
def test_charge__price_changed__the_price_in_force_at_the_usage_time_applies(tenant, price):
    now = timezone.now()
    create_test_price(effective_from=now - timedelta(hours=1), input_usd_per_mtok=Decimal("2.000000"))
    fund(tenant, 10)

    before = charge(tenant, credits=1, occurred_at=(now - timedelta(hours=2)).isoformat()).json()
    after = charge(tenant, credits=1).json()

    assert (before["amount"], after["amount"]) == ("-1.000000", "-2.000000")


@pytest.mark.django_db
def test_charge__seeded_price_table__realistic_tiers_with_effective_dates(tenant):
    fund(tenant, 100)

    with tenant_context(tenant):
        event = services.usage_event(model="claude-sonnet-4-5", input_tokens=1_000_000, output_tokens=100_000)
        body = services.credits_charge(tenant=tenant, event=event, idempotency_key="sonnet").json()

    # 1M input x $3 + 0.1M output x $15 = $4.50; x 5 = 22.5 credits
    assert (body["provider_cost_usd"], body["amount"]) == ("4.500000000000", "-22.500000")


@pytest.mark.django_db
def test_charge__model_without_a_price__400_unknown_model_nothing_written(tenant, price):
    fund(tenant, 10)

    with pytest.raises(InvalidInput) as raised, tenant_context(tenant):
        services.credits_charge(
            tenant=tenant, event=usage(model="no-such-model"), idempotency_key="k-unknown"
        )

    assert raised.value.code == "unknown_model"
    assert entries(tenant, kind="usage") == []
    assert records(tenant) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"input_tokens": -1}, "input_tokens"),
        ({"input_tokens": 1.5}, "input_tokens"),
        ({"input_tokens": True}, "input_tokens"),
        ({"input_tokens": 0, "output_tokens": 0}, "input_tokens"),
        ({"model": ""}, "model"),
        ({"agent_id": "not-a-uuid"}, "agent_id"),
        ({"metadata": [1]}, "metadata"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"occurred_at": "2999-01-01T00:00:00Z"}, "occurred_at"),
        ({"occurred_at": "2000-01-01T00:00:00Z"}, "occurred_at"),
    ],
)
def test_usage_event__bad_field__400_naming_it(fields, field):
    with pytest.raises(InvalidInput) as raised:
        services.usage_event(**{**USAGE, **fields})

    assert list(raised.value.errors) == [field]


# --- Refusals -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_charge__more_than_the_balance__insufficient_credits_and_nothing_written(tenant, price):
    fund(tenant, 1)
    before = (balance(tenant), len(entries(tenant)), len(records(tenant)))

    with pytest.raises(InsufficientCredits) as raised:
        charge(tenant, "too-much", credits=2)

    assert raised.value.status_code == 402
    assert raised.value.code == "insufficient_credits"
    assert "2.000000" in raised.value.detail
    assert "1.000000 available" in raised.value.detail
    assert (balance(tenant), len(entries(tenant)), len(records(tenant))) == before


@pytest.mark.django_db
def test_charge__refused_then_funded__the_same_key_charges(tenant, price):
    fund(tenant, 1)
    with pytest.raises(InsufficientCredits):
        charge(tenant, "retry-me", credits=2)
    fund(tenant, 5)

    result = charge(tenant, "retry-me", credits=2)

    assert result.status_code == 201
    assert not result.replayed
    assert balance(tenant) == Decimal(4)


@pytest.mark.django_db
def test_charge__exactly_the_balance__succeeds_down_to_zero(tenant, price):
    fund(tenant, 2)

    charge(tenant, credits=2)

    assert balance(tenant) == 0


@pytest.mark.django_db
def test_charge__overdraft_limit__may_go_negative_down_to_it_not_beyond(tenant, price, platform_admin):
    fund(tenant, 1)
    with tenant_context(tenant):
        services.credit_account_update(tenant=tenant, actor=platform_admin, overdraft_limit=Decimal(2))

    charge(tenant, credits=3)
    with pytest.raises(InsufficientCredits):
        charge(tenant, credits=1)

    assert balance(tenant) == Decimal(-2)


@pytest.mark.django_db
def test_charge__credits_held_by_reservations__are_not_available(tenant, price):
    fund(tenant, 5)
    with tenant_context(tenant):
        services.reservation_hold(tenant=tenant, idempotency_key="hold", amount=Decimal(4))

    with pytest.raises(InsufficientCredits):
        charge(tenant, credits=2)
    charge(tenant, credits=1)

    assert (balance(tenant), account(tenant).held) == (Decimal(4), Decimal(4))


# --- Idempotency --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_charge__same_key_same_payload__replays_the_first_answer_byte_for_byte_charges_once(tenant, price):
    fund(tenant, 10)
    first = charge(tenant, "same", credits=2)
    charge(tenant, credits=1)  # the balance moves on; the replay must still show the first answer

    again = charge(tenant, "same", credits=2)

    assert again.body == first.body
    assert (again.status_code, again.replayed, first.replayed) == (201, True, False)
    assert balance(tenant) == Decimal(7)
    assert len(entries(tenant, idempotency_key="same")) == 1


@pytest.mark.django_db
def test_charge__same_key_different_payload__409_idempotency_key_reused(tenant, price):
    fund(tenant, 10)
    charge(tenant, "reused", credits=1)

    with pytest.raises(IdempotencyKeyReused) as raised:
        charge(tenant, "reused", credits=2)

    assert (raised.value.status_code, raised.value.code) == (409, "idempotency_key_reused")
    assert balance(tenant) == Decimal(9)


@pytest.mark.django_db
def test_charge__same_key_in_another_tenant__is_another_request(tenant, other_tenant, price):
    fund(tenant, 10)
    fund(other_tenant, 10)

    charge(tenant, "shared-key", credits=1)
    other = charge(other_tenant, "shared-key", credits=3)

    assert not other.replayed
    assert (balance(tenant), balance(other_tenant)) == (Decimal(9), Decimal(7))


@pytest.mark.django_db
def test_charge__key_used_for_a_hold__409_on_a_charge(tenant, price):
    fund(tenant, 10)
    with tenant_context(tenant):
        services.reservation_hold(tenant=tenant, idempotency_key="one-key", amount=Decimal(1))

    with pytest.raises(IdempotencyKeyReused):
        charge(tenant, "one-key", credits=1)


@pytest.mark.django_db
def test_charge__stored_response_pruned__the_ledger_still_refuses_a_second_charge(tenant, price):
    fund(tenant, 10)
    charge(tenant, "old-key", credits=1)
    with platform_bypass(reason="test", log=False):
        IdempotencyRecord.objects.filter(tenant=tenant).update(created_at=timezone.now() - timedelta(days=90))
    assert services.idempotency_records_prune() >= 1

    with pytest.raises(IdempotencyKeyReused):
        charge(tenant, "old-key", credits=1)

    assert balance(tenant) == Decimal(9)


@pytest.mark.django_db
def test_charge__no_idempotency_key__400_idempotency_key_required(tenant, price):
    fund(tenant, 10)

    with pytest.raises(InvalidInput) as raised, tenant_context(tenant):
        services.credits_charge(tenant=tenant, event=usage(), idempotency_key=None)

    assert raised.value.code == "idempotency_key_required"


# --- Unlimited accounts --------------------------------------------------------------------------


@pytest.mark.django_db
def test_charge__unlimited_account__bypass_entry_amount_zero_shadow_cost_in_metadata(
    tenant, price, platform_admin
):
    fund(tenant, 1)
    with tenant_context(tenant):
        services.credit_account_update(tenant=tenant, actor=platform_admin, unlimited=True)

    body = charge(tenant, credits=3).json()

    assert (body["kind"], body["amount"], body["balance_after"]) == ("bypass", "0.000000", "1.000000")
    assert body["metadata"] == {"shadow_amount": "-3.000000"}
    assert body["provider_cost_usd"] == "0.600000000000"
    assert balance(tenant) == Decimal(1)


@pytest.mark.django_db
def test_charge_api__platform_admin_signed_in__bypass_their_usage_is_not_deducted(
    tenant, price, platform_admin, as_user
):
    fund(tenant, 1)

    response = as_user(platform_admin).post(url(tenant, "usage"), USAGE, HTTP_IDEMPOTENCY_KEY="admin-run")

    assert response.status_code == 201, response.content
    assert response.json()["kind"] == "bypass"
    assert balance(tenant) == Decimal(1)


@pytest.mark.django_db
def test_charge_api__api_key_of_a_platform_admin__is_charged_keys_never_widen(tenant, price, platform_admin):
    fund(tenant, 5)
    client = with_key(tenant, platform_admin)

    response = client.post(url(tenant, "usage"), USAGE, format="json", HTTP_IDEMPOTENCY_KEY="key-run")

    assert response.json()["kind"] == "usage"
    assert balance(tenant) == Decimal(4)


@pytest.mark.django_db
def test_tenant_create__owned_by_a_platform_admin__unlimited_account(platform_admin):
    from tenants.services import tenant_create

    created = tenant_create(
        actor=platform_admin, owner=platform_admin, name="Platform Ops", admin_email="ops@qm.example"
    )

    assert account(created).unlimited


# --- Low-balance thresholds ----------------------------------------------------------------------


@pytest.mark.django_db
def test_thresholds__balance_falls_below__one_alert_per_crossing_rearmed_by_credits(tenant, price):
    fund(tenant, 10)
    with tenant_context(tenant):
        services.threshold_create(tenant=tenant, actor=None, threshold=Decimal(5))
        services.threshold_create(tenant=tenant, actor=None, threshold=Decimal(2))

    charge(tenant, credits=4)  # 6: above both
    charge(tenant, credits=2)  # 4: crosses 5
    charge(tenant, credits=1)  # 3: still below 5, no new alert
    charge(tenant, credits=2)  # 1: crosses 2
    fund(tenant, 10)  # 11: re-arms both
    charge(tenant, credits=7)  # 4: crosses 5 again

    alerts = audit_actions(tenant, "billing.low_balance")
    assert [a.details["threshold"] for a in alerts] == ["5.000000", "2.000000", "5.000000"]
    assert [a.details["balance"] for a in alerts] == ["4.000000", "1.000000", "4.000000"]
    assert {a.severity for a in alerts} == {"warning"}


@pytest.mark.django_db
def test_thresholds__created_while_already_below__no_alert_until_the_next_crossing(tenant, price):
    fund(tenant, 1)
    with tenant_context(tenant):
        row = services.threshold_create(tenant=tenant, actor=None, threshold=Decimal(5))

    charge(tenant, credits=1)

    assert row.below
    assert audit_actions(tenant, "billing.low_balance") == []


# --- Over HTTP --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_usage_api__api_key_with_credits_write__201_the_entry(tenant, owner, price):
    fund(tenant, 10)
    client = with_key(tenant, owner, ["credits:write"])
    agent = AgentFactory.create(tenant=tenant).pk  # the ledger's agent_id is a foreign key

    response = client.post(
        url(tenant, "usage"),
        {**USAGE, "agent_id": str(agent), "metadata": {"run": 7}},
        format="json",
        HTTP_IDEMPOTENCY_KEY="http-1",
    )

    assert response.status_code == 201, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert (body["agent_id"], body["metadata"], body["balance_after"]) == (str(agent), {"run": 7}, "9.000000")
    assert entries(tenant, kind="usage")[0].actor_api_key_id is not None


@pytest.mark.django_db
def test_usage_api__retry__same_bytes_and_idempotent_replayed_header(tenant, owner, price, as_user):
    fund(tenant, 10)
    client = as_user(owner)

    first = client.post(url(tenant, "usage"), USAGE, HTTP_IDEMPOTENCY_KEY="http-retry")
    again = client.post(url(tenant, "usage"), USAGE, HTTP_IDEMPOTENCY_KEY="http-retry")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert balance(tenant) == Decimal(9)


@pytest.mark.django_db
def test_usage_api__key_in_the_body__works_like_the_header(tenant, owner, price, as_user):
    fund(tenant, 10)

    response = as_user(owner).post(url(tenant, "usage"), {**USAGE, "idempotency_key": "in-body"})

    assert response.status_code == 201
    assert response.json()["idempotency_key"] == "in-body"


@pytest.mark.django_db
def test_usage_api__header_and_body_keys_differ__400(tenant, owner, price, as_user):
    fund(tenant, 10)

    response = as_user(owner).post(
        url(tenant, "usage"), {**USAGE, "idempotency_key": "a"}, HTTP_IDEMPOTENCY_KEY="b"
    )

    assert response.status_code == 400
    assert balance(tenant) == Decimal(10)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fund_with", "headers", "status", "code"),
    [
        (0, {"HTTP_IDEMPOTENCY_KEY": "k"}, 402, "insufficient_credits"),
        (10, {}, 400, "idempotency_key_required"),
        (10, {"HTTP_IDEMPOTENCY_KEY": "x" * 256}, 400, "validation_error"),
    ],
)
def test_usage_api__refused__error_format_and_nothing_written(
    tenant, owner, price, as_user, fund_with, headers, status, code
):
    if fund_with:
        fund(tenant, fund_with)
    before = (len(entries(tenant)), len(records(tenant)))

    response = as_user(owner).post(url(tenant, "usage"), USAGE, **headers)

    assert response.status_code == status
    assert set(response.json()) == {"type", "code", "detail", "errors"}
    assert response.json()["code"] == code
    assert (len(entries(tenant)), len(records(tenant))) == before


@pytest.mark.django_db
def test_usage_api__member_of_another_tenant__403_not_a_member(tenant, other_tenant, price, as_user):
    fund(tenant, 10)

    response = as_user(member(other_tenant, "owner")).post(
        url(tenant, "usage"), USAGE, HTTP_IDEMPOTENCY_KEY="x"
    )

    assert (response.status_code, response.json()["code"]) == (403, "not_a_member")
    assert balance(tenant) == Decimal(10)


@pytest.mark.django_db
def test_usage_api__viewer__403_missing_permission(tenant, price, as_user):
    fund(tenant, 10)

    response = as_user(member(tenant, "viewer")).post(url(tenant, "usage"), USAGE, HTTP_IDEMPOTENCY_KEY="x")

    assert (response.status_code, response.json()["code"]) == (403, "missing_permission")


@pytest.mark.django_db
def test_usage_api__query_count__pinned(tenant, owner, price, as_user, django_assert_num_queries):
    fund(tenant, 10)
    client = as_user(owner)
    client.post(url(tenant, "usage"), USAGE, HTTP_IDEMPOTENCY_KEY="warm")

    # savepoint, read settings, tenant, set settings, membership, context+claim, the charge,
    # restore settings, release
    with django_assert_num_queries(8):
        response = client.post(url(tenant, "usage"), USAGE, HTTP_IDEMPOTENCY_KEY="counted")

    assert response.status_code == 201


@pytest.mark.django_db
def test_ledger_entries__timestamps__aware_utc(tenant, price):
    fund(tenant, 10)
    charge(tenant, credits=1)

    entry = entries(tenant, kind="usage")[0]

    assert entry.created_at.tzinfo is not None
    assert entry.created_at.utcoffset() == timedelta(0)
    assert abs(entry.created_at - datetime.now(UTC)) < timedelta(minutes=1)


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"agent_id": uuid.uuid4(), "session_id": uuid.uuid4()},
        {"description": 'über "quoted" \\ line\nbreak', "metadata": {"b": [1, 2.5, None], "a": "ü"}},
        {"kind": "bypass", "amount": Decimal("0.000000"), "metadata": {"shadow_amount": "-3.000000"}},
        {"model": 'odd"model', "key": "key with spaces & 'quotes'"},
    ],
)
def test_usage_prefix__same_bytes_as_the_generic_entry_body(fields):
    from billing.services.common import entry_fields, split_body, usage_prefix

    now = timezone.now()
    values = {
        "entry_id": uuid.uuid4(),
        "kind": "usage",
        "amount": Decimal("-1.250000"),
        "cost": Decimal("0.250000000000"),
        "markup": Decimal("5.0000"),
        "model": TEST_MODEL,
        "input_tokens": 10,
        "output_tokens": 20,
        "agent_id": None,
        "session_id": None,
        "key": "k",
        "description": "",
        "metadata": {},
        "occurred_at": now - timedelta(minutes=3),
        "created_at": now,
        **fields,
    }
    generic = dict(values)
    generic["reservation_id"] = generic["refund_of"] = None

    assert usage_prefix(**values) == split_body(entry_fields(**generic))[0]


# --- Issue 10, findings 6 and 7: a missing model, NUL and lone surrogates answer 400, never 500 ---


@pytest.mark.django_db
def test_usage_api__no_model__400_naming_model_nothing_charged(tenant, owner, price, as_user):
    fund(tenant, 10)
    before = (balance(tenant), len(entries(tenant)), len(records(tenant)))

    response = as_user(owner).post(
        url(tenant, "usage"),
        {"input_tokens": ONE_CREDIT_TOKENS, "output_tokens": 0},
        format="json",
        HTTP_IDEMPOTENCY_KEY="no-model",
    )

    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"type", "code", "detail", "errors"}
    assert body["code"] == "validation_error"
    assert body["errors"] == {"model": ["This field is required."]}
    assert (balance(tenant), len(entries(tenant)), len(records(tenant))) == before


# `json.dumps` writes "\u0000" and "\ud800" as escapes, so the raw body carries them to the server.
BAD_TEXT = [
    pytest.param({"model": TEST_MODEL + "\x00"}, "model", id="model-nul"),
    pytest.param({"model": "\ud800"}, "model", id="model-surrogate"),
    pytest.param({"description": "a\x00b"}, "description", id="description-nul"),
    pytest.param({"description": "lone \udfff"}, "description", id="description-surrogate"),
    pytest.param({"metadata": {"run\x00": 1}}, "metadata", id="metadata-key-nul"),
    pytest.param({"metadata": {"\ud800": 1}}, "metadata", id="metadata-key-surrogate"),
    pytest.param({"metadata": {"run": "7\x00"}}, "metadata.run", id="metadata-value-nul"),
    pytest.param({"metadata": {"run": "\udbff"}}, "metadata.run", id="metadata-value-surrogate"),
    pytest.param({"metadata": {"runs": [{"id": "\x00"}]}}, "metadata.runs.0.id", id="metadata-nested-nul"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("fields", "field"), BAD_TEXT)
def test_usage_api__nul_or_lone_surrogate__400_invalid_characters_naming_the_field_nothing_charged(
    tenant, owner, price, as_user, fields, field
):
    fund(tenant, 10)
    before = (balance(tenant), len(entries(tenant)), len(records(tenant)))
    raw = json.dumps({**USAGE, **fields})
    assert "\\u0000" in raw or "\\ud" in raw  # the escape itself is what the server receives

    response = as_user(owner).post(
        url(tenant, "usage"), raw, content_type="application/json", HTTP_IDEMPOTENCY_KEY="bad-text"
    )

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid_characters"
    assert list(body["errors"]) == [field]
    assert (balance(tenant), len(entries(tenant)), len(records(tenant))) == before


@pytest.mark.django_db
def test_usage_api__same_text_without_the_bad_character__201(tenant, owner, price, as_user):
    """The control for the test above: the same body, minus the NUL, is charged (an emoji, a
    surrogate pair in JSON, is not a lone surrogate)."""
    fund(tenant, 10)
    raw = json.dumps({**USAGE, "description": "ab \U0001f600", "metadata": {"run": "7"}})

    response = as_user(owner).post(
        url(tenant, "usage"), raw, content_type="application/json", HTTP_IDEMPOTENCY_KEY="good-text"
    )

    assert response.status_code == 201, response.content
    assert response.json()["description"] == "ab \U0001f600"
    assert balance(tenant) == Decimal(9)
