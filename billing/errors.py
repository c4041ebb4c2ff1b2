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
