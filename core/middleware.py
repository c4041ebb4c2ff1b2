"""Request-wide middleware: the request id, and JSON errors for every API response."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import structlog
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.core.signals import request_finished
from django.http import Http404, HttpRequest, HttpResponse

from core.context import ActorContext, client_ip, set_context
from core.errors import api_error_response, is_api_request

REQUEST_ID_HEADER = "X-Request-ID"
# A sane incoming id: what proxies and clients commonly send (UUIDs, hex, base64url), no more.
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")

logger = structlog.get_logger(__name__)


def _clear_log_context(**kwargs: object) -> None:
    structlog.contextvars.clear_contextvars()
    set_context(ActorContext())


request_finished.connect(_clear_log_context, dispatch_uid="qm-clear-log-context")


class RequestIdMiddleware:
    """Accept a sane incoming X-Request-ID or make one; bind it to every log line; return it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _SANE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]  # set on every request here
        # Bound until the response is closed (request_finished clears it), so Django's own
        # "Not Found: ..." line, written after the middleware returns, carries the id too.
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        set_context(
            ActorContext(
                request_id=request_id,
                ip_address=client_ip(request),
                user_agent=request.headers.get("User-Agent", "")[:500],
            )
        )
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response


class ApiErrorMiddleware:
    """Turn every error page under /api/ into the JSON error format, 404 and 500 included.

    DRF's exception handler covers errors raised inside API views; this covers the rest:
    unmatched URLs, and exceptions that escape a view (the response Django would render as an
    HTML page, with a traceback when DEBUG is on).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            is_api_request(request)
            and response.status_code >= 400
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            return api_error_response(response.status_code)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        # Django turns these into 4xx responses itself; __call__ then renders them as JSON.
        if not is_api_request(request) or isinstance(
            exception, Http404 | PermissionDenied | BadRequest | SuspiciousOperation
        ):
            return None
        logger.exception("unhandled_exception", path=request.path, method=request.method)
        return api_error_response(500)
