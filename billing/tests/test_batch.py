"""The batch endpoint: up to 1,000 events in one round trip, each with its own key and result."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from billing.tests.factories import (
    ONE_CREDIT_TOKENS,
    TEST_MODEL,
    balance,
    charge,
    entries,
    fund,
    records,
    url,
)


def event(key: str, credits: int = 1, **fields: Any) -> dict[str, Any]:
    return {
        "idempotency_key": key,
        "model": TEST_MODEL,
        "input_tokens": credits * ONE_CREDIT_TOKENS,
        "output_tokens": 0,
        **fields,
    }


def post_batch(client: Any, tenant: Any, events: list[Any]) -> Any:
    return client.post(url(tenant, "usage/batch"), {"events": events}, format="json")


@pytest.mark.django_db
def test_batch__all_fit__each_charged_in_order_with_running_balances(tenant, owner, price, as_user):
    fund(tenant, 10)

    response = post_batch(as_user(owner), tenant, [event(f"e{i}", credits=i + 1) for i in range(3)])

    assert response.status_code == 200, response.content
    body = response.json()
    assert [r["status"] for r in body["results"]] == [201, 201, 201]
    assert [r["body"]["balance_after"] for r in body["results"]] == ["9.000000", "7.000000", "4.000000"]
    assert [r["idempotency_key"] for r in body["results"]] == ["e0", "e1", "e2"]
    assert body["summary"] == {"charged": 3, "replayed": 0, "refused": 0}
    assert balance(tenant) == Decimal(4)
    assert [e.balance_after for e in entries(tenant, kind="usage")] == [Decimal(9), Decimal(7), Decimal(4)]


@pytest.mark.django_db
def test_batch__credits_run_out__each_event_judged_as_if_sent_alone_in_order(tenant, owner, price, as_user):
    fund(tenant, 5)

    body = post_batch(
        as_user(owner), tenant, [event("a", 3), event("b", 3), event("c", 2), event("d", 1)]
    ).json()

    # a fits (2 left), b does not, c fits (0 left), d does not
    assert [r["status"] for r in body["results"]] == [201, 402, 201, 402]
    assert body["results"][1]["body"]["code"] == "insufficient_credits"
    assert balance(tenant) == 0
    assert sorted(r.key for r in records(tenant)) == ["a", "c"]  # refused events keep no claim


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("credits", "statuses", "final"),
    [
        ([3, 2, 1], [201, 201, 201], 4),  # exactly the available 6: the whole batch fits at once
        ([3, 3, 1], [201, 201, 402], 4),  # one credit over: judged event by event
    ],
)
def test_batch__open_hold__only_the_available_balance_is_spent(
    tenant, owner, price, as_user, credits, statuses, final
):
    from billing import services
    from core.tenancy import tenant_context

    fund(tenant, 10)
    with tenant_context(tenant):
        services.reservation_hold(tenant=tenant, idempotency_key="hold", amount=Decimal(4))

    body = post_batch(as_user(owner), tenant, [event(f"e{i}", n) for i, n in enumerate(credits)]).json()

    assert [r["status"] for r in body["results"]] == statuses
    assert balance(tenant) == Decimal(final)


@pytest.mark.django_db
def test_batch__mixed__bad_event_replay_and_reused_key_each_get_their_own_answer(
    tenant, owner, price, as_user
):
    fund(tenant, 10)
    first = charge(tenant, "done-before", credits=2)
    charge(tenant, "other-payload", credits=1)

    body = post_batch(
        as_user(owner),
        tenant,
        [
            event("new"),
            event("done-before", 2),
            event("other-payload", 3),
            {"idempotency_key": "bad", "model": TEST_MODEL, "input_tokens": -5, "output_tokens": 0},
            event("unknown-model", model="nope"),
            "not an object",
            {"model": TEST_MODEL, "input_tokens": 1, "output_tokens": 0},
        ],
    ).json()

    statuses = [(r["status"], r["replayed"]) for r in body["results"]]
    assert statuses == [
        (201, False),
        (201, True),
        (409, False),
        (400, False),
        (400, False),
        (400, False),
        (400, False),
    ]
    assert body["results"][1]["body"] == first.json()
    assert body["results"][2]["body"]["code"] == "idempotency_key_reused"
    assert body["results"][4]["body"]["code"] == "unknown_model"
    assert body["results"][6]["body"]["code"] == "idempotency_key_required"
    assert body["summary"] == {"charged": 1, "replayed": 1, "refused": 5}
    assert balance(tenant) == Decimal(6)
    assert {r.key for r in records(tenant)} == {"done-before", "other-payload", "new"}


@pytest.mark.django_db
def test_batch__event_bodies__identical_to_a_single_charges_replay(tenant, owner, price, as_user):
    fund(tenant, 10)
    client = as_user(owner)

    batch = post_batch(client, tenant, [event("x1"), event("x2")])
    single = client.post(url(tenant, "usage"), event("x2"), format="json")

    raw = batch.content.decode()
    assert single.status_code == 201
    assert single["Idempotent-Replayed"] == "true"
    assert f'"body":{single.content.decode()}' in raw  # the very bytes


@pytest.mark.django_db
def test_batch__sent_twice__second_time_all_replayed_nothing_charged(tenant, owner, price, as_user):
    fund(tenant, 10)
    client = as_user(owner)
    events = [event(f"r{i}") for i in range(5)]

    first = post_batch(client, tenant, events).json()
    again = post_batch(client, tenant, events).json()

    assert again["summary"] == {"charged": 0, "replayed": 5, "refused": 0}
    assert [r["body"] for r in again["results"]] == [r["body"] for r in first["results"]]
    assert balance(tenant) == Decimal(5)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payload",
    [
        {"events": []},
        {"events": "x"},
        {"nope": 1},
        {"events": [event("dup"), event("dup")]},
        {"events": [event(f"k{i}") for i in range(1001)]},
    ],
)
def test_batch__malformed__400_and_nothing_written(tenant, owner, price, as_user, payload):
    fund(tenant, 10_000)

    response = as_user(owner).post(url(tenant, "usage/batch"), payload, format="json")

    assert response.status_code == 400
    assert balance(tenant) == Decimal(10_000)
    assert records(tenant) == []


@pytest.mark.django_db
def test_batch__thousand_events__one_call_all_charged(tenant, owner, price, as_user):
    fund(tenant, 2000)

    body = post_batch(as_user(owner), tenant, [event(f"t{i}") for i in range(1000)]).json()

    assert body["summary"]["charged"] == 1000
    assert balance(tenant) == Decimal(1000)
    ledger = entries(tenant, kind="usage")
    assert [e.balance_after for e in ledger] == [Decimal(1999 - i) for i in range(1000)]


@pytest.mark.django_db
def test_batch__query_count__the_same_for_2_and_200_events(
    tenant, owner, price, as_user, django_assert_num_queries
):
    fund(tenant, 1000)
    client = as_user(owner)
    post_batch(client, tenant, [event("warm")])

    # savepoint, read settings, tenant, set settings, membership, context, claims, the charge,
    # restore settings, release
    with django_assert_num_queries(9):
        post_batch(client, tenant, [event(f"a{i}") for i in range(2)])
    with django_assert_num_queries(9):
        post_batch(client, tenant, [event(f"b{i}") for i in range(200)])

    assert balance(tenant) == Decimal(1000 - 203)


@pytest.mark.django_db
def test_batch__unlimited_account__bypass_entries_balance_untouched(
    tenant, owner, price, as_user, platform_admin
):
    from billing import services
    from core.tenancy import tenant_context

    fund(tenant, 1)
    with tenant_context(tenant):
        services.credit_account_update(tenant=tenant, actor=platform_admin, unlimited=True)

    body = post_batch(as_user(owner), tenant, [event("u1", 5), event("u2", 5)]).json()

    assert [r["body"]["kind"] for r in body["results"]] == ["bypass", "bypass"]
    assert [r["body"]["metadata"]["shadow_amount"] for r in body["results"]] == ["-5.000000", "-5.000000"]
    assert balance(tenant) == Decimal(1)


# --- Issue 10, finding 7: one event with a NUL or a lone surrogate gets its own 400 --------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field"),
    [
        pytest.param({"model": TEST_MODEL + "\x00"}, "model", id="model-nul"),
        pytest.param({"model": "\ud800"}, "model", id="model-surrogate"),
        pytest.param({"description": "a\x00b"}, "description", id="description-nul"),
        pytest.param({"description": "\udc00"}, "description", id="description-surrogate"),
        pytest.param({"metadata": {"k\x00": 1}}, "metadata", id="metadata-key-nul"),
        pytest.param({"metadata": {"\ud800": 1}}, "metadata", id="metadata-key-surrogate"),
        pytest.param({"metadata": {"k": "\x00"}}, "metadata.k", id="metadata-value-nul"),
        pytest.param({"metadata": {"k": "\ud800"}}, "metadata.k", id="metadata-value-surrogate"),
    ],
)
def test_batch__middle_event_with_nul_or_lone_surrogate__its_own_400_the_others_charged(
    tenant, owner, price, as_user, fields, field
):
    fund(tenant, 10)
    # Raw JSON, so that the escape (\u0000, \ud800) is what reaches the server.
    raw = json.dumps({"events": [event("a"), event("b", **fields), event("c")]})

    response = as_user(owner).post(url(tenant, "usage/batch"), raw, content_type="application/json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert [r["status"] for r in body["results"]] == [201, 400, 201]
    assert [r["idempotency_key"] for r in body["results"]] == ["a", "b", "c"]
    refused = body["results"][1]["body"]
    assert refused["code"] == "invalid_characters"
    assert list(refused["errors"]) == [field]
    assert body["summary"] == {"charged": 2, "replayed": 0, "refused": 1}
    assert [e.idempotency_key for e in entries(tenant, kind="usage")] == ["a", "c"]
    assert balance(tenant) == Decimal(8)
    assert {r.key for r in records(tenant)} == {"a", "c"}


@pytest.mark.django_db
def test_batch__middle_event_key_is_a_lone_surrogate__its_own_400_key_echoed_replaced(
    tenant, owner, price, as_user
):
    fund(tenant, 10)
    raw = json.dumps({"events": [event("a"), event("\ud800"), event("c")]})

    response = as_user(owner).post(url(tenant, "usage/batch"), raw, content_type="application/json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert [r["status"] for r in body["results"]] == [201, 400, 201]
    assert body["results"][1]["idempotency_key"] == "\ufffd"
    assert list(body["results"][1]["body"]["errors"]) == ["Idempotency-Key"]
    assert [e.idempotency_key for e in entries(tenant, kind="usage")] == ["a", "c"]
