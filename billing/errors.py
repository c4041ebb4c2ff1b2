"""The domain errors of billing. core.errors' handler maps them to HTTP like every DomainError.

They live here, not in core: only billing raises them, and core knows no domain.
"""

from __future__ import annotations

from decimal import Decimal

from rest_framework import status

from core.errors import Conflict, DomainError, InvalidInput


class InsufficientCredits(DomainError):
    """Not enough available credit for a charge or a hold: 402, and nothing was written."""

    status_code = status.HTTP_402_PAYMENT_REQUIRED
    code = "insufficient_credits"
    default_detail = "Not enough credits."

    def __init__(self, *, required: Decimal, available: Decimal | None = None):
        detail = f"Not enough credits: this needs {required}"
        detail += f", {available} available." if available is not None else "."
        super().__init__(detail)
        self.required = required
        self.available = available


class MonthlyCreditCapExceeded(DomainError):
    """The charge would take this month's usage past the tenant's monthly credit cap: 402, and
    nothing was written. The month is the calendar month in the tenant's time zone."""

    status_code = status.HTTP_402_PAYMENT_REQUIRED
    code = "monthly_credit_cap_exceeded"
    default_detail = "The tenant's monthly credit cap is reached."

    def __init__(self, *, required: Decimal, used: Decimal, cap: Decimal):
        super().__init__(
            f"This charge ({required} credits) would take this month's usage to {used + required}, "
            f"past the tenant's monthly credit cap of {cap}."
        )
        self.required, self.used, self.cap = required, used, cap


def refusal(
    *, required: Decimal, available: Decimal | None, used: Decimal | None, cap: Decimal | None
) -> DomainError:
    """Why a charge that wrote nothing was refused: the monthly cap, else the balance."""
    if cap is not None and used is not None and used + required > cap:
        return MonthlyCreditCapExceeded(required=required, used=used, cap=cap)
    return InsufficientCredits(required=required, available=available)


class IdempotencyKeyReused(Conflict):
    """The Idempotency-Key was first used with another request: 409."""

    code = "idempotency_key_reused"
    default_detail = (
        "This Idempotency-Key was already used with a different request; use a new key for a new request."
    )


class ReservationClosed(Conflict):
    code = "reservation_closed"
    default_detail = "This reservation is no longer open."


def invalid(field: str, message: str, *, code: str = "validation_error") -> InvalidInput:
    """A 400 naming the field, in the API's error format."""
    return InvalidInput("Some fields are invalid.", code=code, errors={field: [message]})
