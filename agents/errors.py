"""The agents app's domain errors (mapped to HTTP by core.errors' one handler)."""

from __future__ import annotations

from rest_framework import status

from core.errors import Conflict, DomainError, InvalidInput, LimitExceeded


class IllegalTransition(Conflict):
    """A status change the status machine does not allow (409)."""

    code = "illegal_transition"
    default_detail = "That status change is not allowed from the current status."


class SessionBudgetExceeded(DomainError):
    """Usage that would take a session tree past its root's credit budget (402)."""

    status_code = status.HTTP_402_PAYMENT_REQUIRED
    code = "session_budget_exceeded"
    default_detail = "This session tree's credit budget does not cover the usage."


class SessionLimit(LimitExceeded):
    """A spawn or start past max depth, max children or max concurrent sessions (422)."""


def invalid(field: str, message: str, *, code: str = "validation_error") -> InvalidInput:
    return InvalidInput(message, code=code, errors={field: [message]})


__all__ = ["IllegalTransition", "SessionBudgetExceeded", "SessionLimit", "invalid"]
