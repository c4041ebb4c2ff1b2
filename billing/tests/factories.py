"""Helpers for billing tests: accounts funded through the services, ledger reads, API calls."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from rest_framework.test import APIClient

from accounts.api_key_auth import hash_key
from accounts.services.api_keys import generate_key
from accounts.tests.factories import ApiKeyFactory
from billing import services
from billing.models import CreditAccount, CreditTransaction, IdempotencyRecord, ModelPrice, Reservation
from core.tenancy import platform_bypass, tenant_context

# A model whose price makes the arithmetic easy: 1 USD per million input tokens, 2 per million
# output tokens. At the default markup of 5, 200,000 input tokens cost exactly 1 credit.
TEST_MODEL = "test-model"
ONE_CREDIT_TOKENS = 200_000


def create_test_price(**fields: Any) -> ModelPrice:
    fields = {
        "provider": "test",
        "model": TEST_MODEL,
        "tier": "sonnet",
        "input_usd_per_mtok": Decimal("1.000000"),
        "output_usd_per_mtok": Decimal("2.000000"),
        "effective_from": datetime(2020, 1, 1, tzinfo=UTC),
        **fields,
    }
    return ModelPrice.objects.create(**fields)


def fund(tenant: Any, amount: Any, *, kind: str = "grant") -> None:
    """Put credits on the tenant's account (creating it), as platform staff would."""
    with tenant_context(tenant):
        services.credits_post(
            tenant=tenant, kind=kind, amount=Decimal(str(amount)), reason="test", actor=None
        )


def account(tenant: Any) -> CreditAccount:
    with platform_bypass(reason="test", log=False):
        return CreditAccount.objects.get(tenant=tenant)


def balance(tenant: Any) -> Decimal:
    return account(tenant).balance


def entries(tenant: Any, **filters: Any) -> list[CreditTransaction]:
    with platform_bypass(reason="test", log=False):
        return list(CreditTransaction.objects.filter(tenant=tenant, **filters).order_by("seq"))


def records(tenant: Any) -> list[IdempotencyRecord]:
    with platform_bypass(reason="test", log=False):
        return list(IdempotencyRecord.objects.filter(tenant=tenant))


def reservations(tenant: Any, **filters: Any) -> list[Reservation]:
    with platform_bypass(reason="test", log=False):
        return list(Reservation.objects.filter(tenant=tenant, **filters).order_by("created_at"))


def usage(credits: int = 1, **fields: Any) -> services.UsageEvent:
    """A usage event of the test model costing `credits` credits at markup 5."""
    return services.usage_event(
        **{"model": TEST_MODEL, "input_tokens": credits * ONE_CREDIT_TOKENS, "output_tokens": 0, **fields}
    )


def charge(tenant: Any, key: str | None = None, credits: int = 1, **fields: Any) -> services.ApiResult:
    with tenant_context(tenant):
        return services.credits_charge(
            tenant=tenant, event=usage(credits, **fields), idempotency_key=key or str(uuid.uuid4())
        )


def with_key(tenant: Any, creator: Any, scopes: list[str] | None = None) -> APIClient:
    """A client authenticating with a fresh API key of `tenant` made by `creator`."""
    raw = generate_key()
    ApiKeyFactory.create(
        tenant=tenant,
        created_by=creator,
        prefix=raw[:12],
        key_hash=hash_key(raw),
        scopes=scopes or ["credits:write", "credits:read"],
        rate_limit_per_minute=100_000,
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


def url(tenant: Any, rest: str) -> str:
    return f"/api/v1/tenants/{tenant.pk}/{rest}"


# --- One row of each billing table, for the tenancy tests in core/tests -------------------------


def make_account(tenant: Any) -> uuid.UUID:
    from billing.services.common import ensure_account

    with tenant_context(tenant):
        return ensure_account(tenant.pk)[0]


def make_entry(tenant: Any) -> uuid.UUID:
    fund(tenant, 100)
    return entries(tenant)[-1].pk


def make_subscription(tenant: Any) -> uuid.UUID:
    from datetime import timedelta

    from django.utils import timezone

    from billing.models import Plan, Subscription

    with tenant_context(tenant):
        found = Subscription.objects.filter(tenant=tenant).first()
        if found is None:
            now = timezone.now()
            found = Subscription.objects.create(
                tenant=tenant,
                plan=Plan.objects.get(code="starter"),
                current_period_start=now,
                current_period_end=now + timedelta(days=30),
            )
        return found.pk


def make_reservation(tenant: Any) -> uuid.UUID:
    fund(tenant, 100)
    with tenant_context(tenant):
        result = services.reservation_hold(
            tenant=tenant, idempotency_key=str(uuid.uuid4()), amount=Decimal(1), model=""
        )
    return uuid.UUID(result.json()["id"])


def make_idempotency_record(tenant: Any) -> uuid.UUID:
    make_reservation(tenant)
    return records(tenant)[-1].pk


def make_threshold(tenant: Any) -> uuid.UUID:
    with tenant_context(tenant):
        return services.threshold_create(
            tenant=tenant, actor=None, threshold=Decimal(len(str(uuid.uuid4())))
        ).pk
