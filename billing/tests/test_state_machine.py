"""A hypothesis state machine over charge, grant, refund, replay, reserve, settle and release.

After every step: the balance equals the sum of the ledger entries, each entry's balance_after is
the running sum, held equals the open holds, nothing is negative, and the database agrees with
a plain Python model of the account.
"""

from __future__ import annotations

import uuid
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from django.db import connection
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
    run_state_machine_as_test,
)

from billing import services
from billing.errors import IdempotencyKeyReused, InsufficientCredits, ReservationClosed
from billing.models import CreditAccount, CreditTransaction, Reservation
from billing.tests.factories import TEST_MODEL, create_test_price
from core.errors import Conflict
from core.tenancy import tenant_context
from tenants.tests.factories import TenantFactory

MICRO = Decimal("0.000001")
tokens = st.integers(min_value=1, max_value=2_000_000)
amounts = st.integers(min_value=1, max_value=5_000_000).map(lambda n: Decimal(n) * MICRO)


def credits_for(input_tokens: int) -> Decimal:
    """The test model at markup 5: 1 USD per million input tokens."""
    return (Decimal(input_tokens) * 5 / 1_000_000).quantize(MICRO, rounding=ROUND_HALF_UP)


class LedgerMachine(RuleBasedStateMachine):
    charges = Bundle("charges")
    holds = Bundle("holds")

    def __init__(self) -> None:
        super().__init__()
        self.tenant = TenantFactory.create()
        self.balance = Decimal(0)
        self.held = Decimal(0)
        self.refundable: dict[str, Decimal] = {}

    def _call(self, fn: Any, **kwargs: Any) -> Any:
        with tenant_context(self.tenant):
            return fn(tenant=self.tenant, **kwargs)

    @rule(amount=amounts)
    def grant(self, amount: Decimal) -> None:
        self._call(services.credits_post, kind="grant", amount=amount, reason="state machine", actor=None)
        self.balance += amount

    @rule(target=charges, input_tokens=tokens)
    def charge(self, input_tokens: int) -> Any:
        key = str(uuid.uuid4())
        event = services.usage_event(model=TEST_MODEL, input_tokens=input_tokens, output_tokens=0)
        cost = credits_for(input_tokens)
        try:
            result = self._call(services.credits_charge, event=event, idempotency_key=key)
        except InsufficientCredits:
            assert self.balance - self.held < cost
            return (key, input_tokens, None)
        assert self.balance - self.held >= cost
        self.balance -= cost
        self.refundable[result.json()["id"]] = cost
        return (key, input_tokens, result.body)

    @rule(charged=charges)
    def replay(self, charged: tuple[str, int, str | None]) -> None:
        key, input_tokens, body = charged
        if body is None:
            return  # refused: a retry is a new attempt (covered by charge)
        event = services.usage_event(model=TEST_MODEL, input_tokens=input_tokens, output_tokens=0)
        again = self._call(services.credits_charge, event=event, idempotency_key=key)
        assert again.replayed
        assert again.body == body
        other = services.usage_event(model=TEST_MODEL, input_tokens=input_tokens + 1, output_tokens=0)
        with pytest.raises(IdempotencyKeyReused):
            self._call(services.credits_charge, event=other, idempotency_key=key)

    @rule(data=st.data())
    def refund(self, data: st.DataObject) -> None:
        # In the order charged (not by id: ids are random, and a replayed example must draw alike).
        open_refunds = [k for k, v in self.refundable.items() if v > 0]
        if not open_refunds:
            return
        entry = data.draw(st.sampled_from(open_refunds))
        amount = data.draw(
            st.integers(min_value=1, max_value=int(self.refundable[entry] / MICRO)).map(
                lambda n: Decimal(n) * MICRO
            )
        )
        self._call(
            services.credits_post, kind="refund", amount=amount, reason="sm", actor=None, refund_of=entry
        )
        self.refundable[entry] -= amount
        self.balance += amount

    @rule(target=holds, amount=amounts)
    def reserve(self, amount: Decimal) -> Any:
        try:
            body = self._call(
                services.reservation_hold, idempotency_key=str(uuid.uuid4()), amount=amount
            ).json()
        except InsufficientCredits:
            assert self.balance - self.held < amount
            return None
        self.held += amount
        return (body["id"], amount)

    @rule(hold=consumes(holds), input_tokens=tokens)
    def settle(self, hold: tuple[str, Decimal] | None, input_tokens: int) -> None:
        if hold is None:
            return
        hold_id, amount = hold
        cost = credits_for(input_tokens)
        try:
            self._call(
                services.reservation_settle,
                reservation_id=hold_id,
                model=TEST_MODEL,
                input_tokens=input_tokens,
                output_tokens=0,
            )
        except InsufficientCredits:
            assert self.balance - (self.held - amount) < cost
            self._call(services.reservation_release, reservation_id=hold_id)  # the run gives up
        else:
            self.balance -= cost
        self.held -= amount

    @rule(hold=consumes(holds))
    def release(self, hold: tuple[str, Decimal] | None) -> None:
        if hold is None:
            return
        self._call(services.reservation_release, reservation_id=hold[0])
        self.held -= hold[1]
        with pytest.raises((ReservationClosed, Conflict)):
            self._call(services.reservation_release, reservation_id=hold[0])

    @invariant()
    def ledger_adds_up(self) -> None:
        with tenant_context(self.tenant):
            account = CreditAccount.objects.filter(tenant=self.tenant).first()
            if account is None:
                return
            amounts_in_order = list(
                CreditTransaction.objects.filter(tenant=self.tenant)
                .order_by("seq")
                .values_list("amount", "balance_after")
            )
            open_holds = sum(
                Reservation.objects.filter(tenant=self.tenant, status="open").values_list(
                    "amount", flat=True
                ),
                Decimal(0),
            )
        running = Decimal(0)
        for amount, balance_after in amounts_in_order:
            running += amount
            assert balance_after == running
            assert balance_after >= 0
        assert account.balance == running == self.balance
        assert account.held == open_holds == self.held
        assert account.balance >= 0
        assert account.held >= 0


@pytest.mark.django_db
def test_ledger_state_machine__every_step__balance_is_the_sum_of_entries_never_negative():
    create_test_price()
    assert connection.in_atomic_block  # each example's tenant is its own; the test rolls back all
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
