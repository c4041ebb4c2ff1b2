"""Request-wide middleware: the request id, JSON errors for every API response, and the
browser-only block that the JSON API skips."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable

import structlog
from django.core.exceptions import BadRequest, ImproperlyConfigured, PermissionDenied, SuspiciousOperation
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


# --- The browser-only block ------------------------------------------------------------------------
#
# Sessions, CSRF, Django's authentication, messages, clickjacking headers, htmx, OTP and axes serve
# the console and the admin: the JSON API under /api/v1/ authenticates every request itself (a JWT
# or an API key, never a session cookie), is exempt from CSRF (DRF's views), answers JSON that no
# page frames, and counts failed logins itself (accounts.services.lockout; axes' middleware would
# hand back the API's own 429 anyway). So in MIDDLEWARE they sit between BrowserOnlyMiddleware
# and BrowserOnlyEndMiddleware, and an /api/v1/ request jumps from the first to what follows the
# second: on the hot path, nine middlewares fewer to call, with everything above and below the
# block (request id, input hygiene, security headers, JSON errors, metrics) unchanged.
#
# How: Django builds the chain from the last middleware to the first, each instance given the
# chain below it (django.core.handlers.base.BaseHandler.load_middleware). The end marker is
# therefore built first and leaves the chain below the block on a per-thread stack; the start
# marker, built after every middleware of the block, takes it, and calls it for /api/v1/.
# A view hook (`process_view`, `process_exception`) that a middleware of the block registers
# still runs for every request, as Django keeps those in lists of its own; of the block's, only
# CsrfViewMiddleware has one, and it returns at once for DRF's views, which are csrf_exempt.

API_PREFIX = "/api/v1/"
_below_the_block = threading.local()


class BrowserOnlyEndMiddleware:
    """Marks the end of the browser-only block (see BrowserOnlyMiddleware)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        stack = getattr(_below_the_block, "stack", None)
        if stack is None:
            stack = _below_the_block.stack = []
        stack.append(get_response)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)


class BrowserOnlyMiddleware:
    """The middlewares from here to BrowserOnlyEndMiddleware run for everything but the JSON API
    (/api/v1/): the console, the admin, the API's documentation pages."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        stack = getattr(_below_the_block, "stack", None)
        if not stack:
            raise ImproperlyConfigured(
                "BrowserOnlyMiddleware needs BrowserOnlyEndMiddleware after it in MIDDLEWARE."
            )
        self.skip_block = stack.pop()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(API_PREFIX):
            return self.skip_block(request)
        return self.get_response(request)
