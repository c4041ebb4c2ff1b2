"""The one error format of the API, and the domain errors services raise.

Every API error is JSON: `{"type", "code", "detail", "errors"}` with the right status.
Services raise `DomainError` subclasses; `api_exception_handler` maps them (and DRF's own
exceptions) to that format, so views never build error bodies by hand.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection, transaction
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

# The error "type" is the family an error belongs to; "code" is the precise, stable reason.
ERROR_TYPES: dict[int, tuple[str, str, str]] = {
    400: ("invalid_request", "invalid", "The request is invalid."),
    401: ("authentication_error", "not_authenticated", "Authentication credentials were not provided."),
    402: ("payment_required", "payment_required", "Payment is required."),
    403: ("permission_error", "permission_denied", "You do not have permission to perform this action."),
    404: ("not_found", "not_found", "Not found."),
    405: ("invalid_request", "method_not_allowed", "Method not allowed."),
    406: ("invalid_request", "not_acceptable", "Not acceptable."),
    409: ("conflict", "conflict", "The request conflicts with the current state."),
    413: ("invalid_request", "too_large", "The request is too large."),
    415: ("invalid_request", "unsupported_media_type", "Unsupported media type."),
    422: ("rule_violation", "rule_violation", "The request breaks a rule."),
    429: ("rate_limited", "throttled", "Too many requests."),
    500: ("server_error", "server_error", "Something went wrong on our side. It has been logged."),
    503: ("unavailable", "unavailable", "The service is temporarily unavailable."),
}


def error_body(
    status_code: int,
    *,
    code: str | None = None,
    detail: str | None = None,
    errors: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """Build the JSON error body for a status, with the family's defaults filled in."""
    family = ERROR_TYPES.get(status_code) or ERROR_TYPES[500 if status_code >= 500 else 400]
    return {
        "type": family[0],
        "code": code or family[1],
        "detail": detail or family[2],
        "errors": errors or {},
    }


def api_error_response(status_code: int, **kwargs: Any) -> JsonResponse:
    """A plain Django JSON error response (outside DRF: 404 routes, crashes)."""
    return JsonResponse(error_body(status_code, **kwargs), status=status_code)


def is_api_request(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


class DomainError(Exception):
    """A rule of the domain was broken; the handler maps it to `status_code` and `code`."""

    status_code: int = status.HTTP_422_UNPROCESSABLE_ENTITY
    code: str = "rule_violation"
    default_detail: str = "The request breaks a rule."

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        errors: dict[str, list[str]] | None = None,
    ):
        self.detail = detail or self.default_detail
        if code:
            self.code = code
        self.errors = errors or {}
        super().__init__(self.detail)


class NotFound(DomainError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"
    default_detail = "Not found."


class PermissionDeniedError(DomainError):
    status_code = status.HTTP_403_FORBIDDEN
    code = "permission_denied"
    default_detail = "You do not have permission to perform this action."


class Conflict(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "conflict"
    default_detail = "The request conflicts with the current state."


class LimitExceeded(DomainError):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    code = "limit_exceeded"
    default_detail = "A limit was reached."


class RetryLater(DomainError):
    """Too many attempts: 429 with a Retry-After header of `retry_after` seconds."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    code = "throttled"
    default_detail = "Too many attempts; wait before trying again."

    def __init__(self, retry_after: int, detail: str | None = None):
        super().__init__(detail)
        self.retry_after = retry_after


class InvalidInput(DomainError):
    status_code = status.HTTP_400_BAD_REQUEST
    code = "invalid"
    default_detail = "The request is invalid."


def full_clean_or_invalid(obj: Any, **kwargs: Any) -> None:
    """Run a model's full_clean; a failure becomes InvalidInput (400 with field errors)."""
    try:
        obj.full_clean(**kwargs)
    except DjangoValidationError as exc:
        raise InvalidInput(
            "Some fields are invalid.", code="validation_error", errors=exc.message_dict
        ) from exc


def _flatten(detail: Any) -> list[str]:
    if isinstance(detail, dict):
        return [f"{k}: {m}" for k, v in detail.items() for m in _flatten(v)]
    if isinstance(detail, list):
        return [m for item in detail for m in _flatten(item)]
    return [str(detail)]


def _codes(codes: Any) -> set[str]:
    """Every error code in DRF's nested `get_codes()` answer."""
    if isinstance(codes, dict):
        return {code for value in codes.values() for code in _codes(value)}
    if isinstance(codes, list):
        return {code for value in codes for code in _codes(value)}
    return {str(codes)}


def _field_errors(detail: Any) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {str(field): _flatten(messages) for field, messages in detail.items()}
    return {"non_field_errors": _flatten(detail)}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every handled error leaves in the one JSON format.

    Our API views run each request in one transaction (core.api.BaseApi); an error response
    rolls it back, so nothing is half-written.
    """
    if (
        getattr(context.get("view"), "dangerously_commit_errors", True) is False
        and connection.in_atomic_block
    ):
        transaction.set_rollback(True)
    if isinstance(exc, DomainError):
        domain_response = Response(
            error_body(exc.status_code, code=exc.code, detail=exc.detail, errors=exc.errors),
            status=exc.status_code,
        )
        if isinstance(exc, RetryLater):
            domain_response["Retry-After"] = str(exc.retry_after)
        return domain_response
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    # Imported here: rest_framework.views loads the authentication classes, which use this module.
    from rest_framework.views import exception_handler as drf_exception_handler

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: it propagates, and ApiErrorMiddleware answers 500
    if isinstance(exc, exceptions.ValidationError):
        # A body whose only fault is fields the endpoint does not take (core.serializers) says so.
        unknown_only = _codes(exc.get_codes()) == {"unknown_field"}
        body = error_body(
            response.status_code,
            code="unknown_field" if unknown_only else "validation_error",
            detail="Some fields are not accepted here." if unknown_only else "Some fields are invalid.",
            errors=_field_errors(exc.detail),
        )
    else:
        if isinstance(exc, Http404):
            exc = exceptions.NotFound()
        elif isinstance(exc, DjangoPermissionDenied):
            exc = exceptions.PermissionDenied()
        detail = getattr(exc, "detail", None)
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else None
        if isinstance(detail, dict) and "detail" in detail:
            # simplejwt's shape: {"detail": ..., "code": ..., "messages": [...]}; keep the gist.
            codes, detail = detail.get("code"), detail["detail"]
        body = error_body(
            response.status_code,
            code=codes if isinstance(codes, str) else None,
            detail=str(detail) if isinstance(detail, str) else None,
            errors=_field_errors(detail) if isinstance(detail, dict | list) else None,
        )
    response.data = body
    return response


def server_error(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
    """handler500: JSON under /api/, Django's plain page elsewhere."""
    if is_api_request(request):
        return api_error_response(500)
    from django.views.defaults import server_error as default_server_error

    return default_server_error(request, *args, **kwargs)


def page_not_found(request: HttpRequest, exception: Exception, *args: Any, **kwargs: Any) -> Any:
    """handler404: JSON under /api/, Django's page elsewhere."""
    if is_api_request(request):
        return api_error_response(404)
    from django.views.defaults import page_not_found as default_page_not_found

    return default_page_not_found(request, exception, *args, **kwargs)


__all__ = [
    "Conflict",
    "DomainError",
    "InvalidInput",
    "LimitExceeded",
    "NotFound",
    "PermissionDeniedError",
    "RetryLater",
    "api_error_response",
    "api_exception_handler",
    "error_body",
    "full_clean_or_invalid",
]
