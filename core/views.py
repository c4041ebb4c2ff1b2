"""Liveness and readiness probes."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive and serving; checks nothing else."""
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_cache() -> None:
    key = f"readyz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=5)
    if cache.get(key) != "1":
        raise RuntimeError("cache did not return what was written")
    cache.delete(key)


def _check_broker() -> None:
    from config.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready to serve: the database answers, and the cache and broker when they are configured."""
    checks = {"database": _check_database}
    if settings.REDIS_URL:
        checks["cache"] = _check_cache
    if settings.CELERY_BROKER_URL:
        checks["broker"] = _check_broker
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # noqa: BLE001  # any failure means "not ready", named below
            results[name] = f"error: {type(exc).__name__}"
    failing = [name for name, result in results.items() if result != "ok"]
    if failing:
        return JsonResponse({"status": "unavailable", "failing": failing, "checks": results}, status=503)
    return JsonResponse({"status": "ok", "checks": results})


# The API documentation pages, served offline: their scripts come from drf-spectacular-sidecar,
# and this policy stops the browser from asking any other host for anything (Redoc's footer
# loads Redocly's logo from a CDN; Swagger UI can ask an external validator).
DOCS_CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",  # the pages' inline start-up scripts
        "style-src 'self' 'unsafe-inline'",  # Redoc and Swagger UI style inline
        "img-src 'self' data:",
        "font-src 'self' data:",
        "worker-src 'self' blob:",  # Redoc's search runs in a blob: worker
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ]
)


class _OfflineDocs:
    def finalize_response(self, request: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]  # a mixin over APIView
        response["Content-Security-Policy"] = DOCS_CONTENT_SECURITY_POLICY
        return response


class OfflineSwaggerView(_OfflineDocs, SpectacularSwaggerView):
    """Swagger UI, asking nothing of any other host."""


class OfflineRedocView(_OfflineDocs, SpectacularRedocView):
    """Redoc, asking nothing of any other host (templates/drf_spectacular/redoc_offline.html
    drops the stock page's Google Fonts)."""

    template_name = "drf_spectacular/redoc_offline.html"
