"""Data for the console's tests, written through the real services: credits granted, usage
charged over several days and models with an API key, the way agent runtimes report it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
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


# --- A/B results ----------------------------------------------------------------------------------

AB_START = datetime(2026, 11, 2, 9, tzinfo=UTC)
AB_WEEK = timedelta(days=7)


def ab_demo_results(recipe: Any = None) -> Any:
    """The demo's A/B results (console.demo.telemetry.AB_FIGURES: two weekly periods, two
    variants, success_rate and duration_ms) recorded through the service, as the demo does; a
    new `weekly-status` recipe unless one is given."""
    from agents import services as agents_services
    from agents.tests.factories import RecipeFactory
    from console.demo.telemetry import AB_FIGURES

    recipe = recipe or RecipeFactory.create(name="weekly-status")
    for variant, rows in AB_FIGURES.items():
        for n, (runs, successes, mean, variance) in enumerate(rows):
            start, end = AB_START + n * AB_WEEK, AB_START + (n + 1) * AB_WEEK
            agents_services.ab_result_record(
                recipe=recipe, variant=variant, metric="success_rate", sample_size=runs,
                successes=successes, period_start=start, period_end=end, actor=None,
            )  # fmt: skip
            agents_services.ab_result_record(
                recipe=recipe, variant=variant, metric="duration_ms", sample_size=runs,
                mean=mean, variance=variance, period_start=start, period_end=end, actor=None,
            )  # fmt: skip
    return recipe
