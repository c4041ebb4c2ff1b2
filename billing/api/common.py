"""What billing's views share: credit amounts, the Idempotency-Key header, and the idempotent
writes' answers (the exact bytes the service stored, or replays).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers
from rest_framework.request import Request

from billing.errors import invalid
from billing.services.common import ApiResult
from core.hygiene import DecimalField


def credit_field(**kwargs: Any) -> serializers.DecimalField:
    """A credit amount in the API: 6 decimals, a string in JSON."""
    return DecimalField(max_digits=20, decimal_places=6, **kwargs)


IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description=(
        "A unique value per request (a UUID will do). A retry with the same key and the same "
        "request gets the first answer again, byte for byte, and is never charged twice; the same "
        "key with a different request is refused (409 idempotency_key_reused). Keys are scoped to "
        "the tenant. May also be sent as `idempotency_key` in the body."
    ),
)
REPLAYED_HEADER = "Idempotent-Replayed"
ERRORS = {
    400: OpenApiResponse(
        description="Invalid fields, a missing Idempotency-Key, or a model without a price."
    ),
    402: OpenApiResponse(description="insufficient_credits: nothing was written."),
    409: OpenApiResponse(description="idempotency_key_reused, or the reservation is closed."),
}


def respond(result: ApiResult) -> HttpResponse:
    """The stored bytes, as they are: a replay is identical to the first answer."""
    response = HttpResponse(result.body, status=result.status_code, content_type="application/json")
    if result.replayed:
        response[REPLAYED_HEADER] = "true"
    return response


def body_of(request: Request) -> dict[str, Any]:
    """The request's JSON object (a list or a scalar is a 400)."""
    data = request.data
    if not isinstance(data, dict):
        raise invalid("non_field_errors", "A JSON object is required.")
    return data


def idempotency_key_of(request: Request, data: dict[str, Any]) -> str | None:
    """The Idempotency-Key header, or the body's `idempotency_key` (both: they must agree)."""
    header = request.headers.get("Idempotency-Key")
    body = data.get("idempotency_key")
    if header and body and header != body:
        raise invalid(
            "idempotency_key", "The body's idempotency_key differs from the Idempotency-Key header."
        )
    if body is not None and not isinstance(body, str):
        raise invalid("idempotency_key", "A string is required.")
    return header or body
