"""The price table: model prices with the moment each takes effect."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from audit.models import Severity
from audit.services import audit_record
from billing.errors import invalid
from billing.models import ModelPrice
from billing.services.common import fmt
from core.errors import Conflict


@transaction.atomic
def model_price_add(
    *,
    actor: User | None,
    provider: str,
    model: str,
    tier: str,
    input_usd_per_mtok: Decimal,
    output_usd_per_mtok: Decimal,
    effective_from: datetime,
) -> ModelPrice:
    """Platform admins: a new price for a model from `effective_from` on (now or later: charges
    already made were priced by the rows in force then, and history is not rewritten)."""
    if effective_from < timezone.now() - timedelta(minutes=1):
        raise invalid("effective_from", "A new price takes effect now or later, never in the past.")
    if input_usd_per_mtok < 0 or output_usd_per_mtok < 0:
        raise invalid("input_usd_per_mtok", "Prices cannot be negative.")
    price = ModelPrice(
        provider=provider,
        model=model,
        tier=tier,
        input_usd_per_mtok=input_usd_per_mtok,
        output_usd_per_mtok=output_usd_per_mtok,
        effective_from=effective_from,
    )
    try:
        with transaction.atomic():
            price.save()
    except IntegrityError:
        raise Conflict("This model has a price from that moment already.", code="price_exists") from None
    audit_record(
        action="billing.price_added",
        target=price,
        severity=Severity.WARNING,
        details={
            "model": model,
            "tier": tier,
            "input_usd_per_mtok": fmt(input_usd_per_mtok),
            "output_usd_per_mtok": fmt(output_usd_per_mtok),
            "effective_from": effective_from,
        },
        actor=actor,
    )
    return price
