"""Data for the console's tests, written through the real services: credits granted, usage
charged over several days and models with an API key, the way agent runtimes report it."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from accounts.tests.factories import ApiKeyFactory
from billing import services
from billing.tests.factories import ONE_CREDIT_TOKENS, TEST_MODEL, create_test_price, fund
from core.tenancy import tenant_context

LARGE_MODEL = "test-model-large"


def prices() -> None:
    """Two models: the test model (1 credit per 200,000 input tokens) and one twice as dear."""
    create_test_price()
    create_test_price(
        model=LARGE_MODEL, input_usd_per_mtok=Decimal("2.000000"), output_usd_per_mtok=Decimal("4.000000")
    )


def usage_history(tenant: Any, *, creator: Any, days: int = 6, key_name: str = "Production runtime") -> Any:
    """Grant 1,000 credits, then charge usage on each of the last `days` days (both models,
    through one API key). Returns the key."""
    fund(tenant, 1000)
    key = ApiKeyFactory.create(tenant=tenant, created_by=creator, name=key_name, prefix="qm_live_prod")
    now = timezone.now()
    with tenant_context(tenant):
        for day in range(days):
            for model, credits in ((TEST_MODEL, day + 2), (LARGE_MODEL, 1)):
                tokens = credits * ONE_CREDIT_TOKENS // (2 if model == LARGE_MODEL else 1)
                event = services.usage_event(
                    model=model, input_tokens=tokens, output_tokens=0, occurred_at=now - timedelta(days=day)
                )
                services.credits_charge(
                    tenant=tenant, event=event, idempotency_key=str(uuid.uuid4()), api_key=key
                )
    return key
