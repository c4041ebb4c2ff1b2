"""The console's side of the live stream: a ticket for the page's script (the browser has a
session cookie, not a JWT, so it asks here, with its CSRF token, rather than at the API), and the
platform staff's page of who is connected now.

The script (console/static/console/stream.js) opens `/ws/tenants/{id}/events/?ticket=...` on the
stream server the settings name (QM_STREAM_URL: uvicorn beside gunicorn under `make run`) and
updates the page from the events; agents/stream/ does the rest."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.http import require_GET

from agents.api.stream import stream_url
from agents.stream import services as stream_services
from console.access import render_page, tenant_page
from console.views.platform import platform_page
from core.access import TenantAccess
from core.context import client_ip
from core.errors import DomainError
from core.tenancy import platform_bypass

PAGE_SIZE = 50


@tenant_page(stream_services.STREAM_PERMISSION, methods=("POST",))
def stream_ticket(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    """A single-use ticket for this page's websocket (JSON: ticket, url, expires_at)."""
    try:
        ticket, expires_at = stream_services.ticket_issue(
            access=access,
            client_ip=client_ip(request),
            origin=request.headers.get("Origin", ""),
            user_session=getattr(request, "console_session", None),  # set by the page's guard
        )
    except DomainError as exc:
        return JsonResponse({"code": exc.code, "detail": exc.detail}, status=exc.status_code)
    return JsonResponse(
        {"ticket": ticket, "url": stream_url(request, access.tenant.pk), "expires_at": expires_at.isoformat()}
    )


@platform_page()
@require_GET
def connections(request: HttpRequest) -> HttpResponse:
    """Who is connected to the live stream now, across tenants, newest first; 50 a page."""
    bypass = platform_bypass(reason="console: platform websocket connections", actor=request.user)
    with transaction.atomic(), bypass:
        page = Paginator(stream_services.open_connections(), PAGE_SIZE).get_page(request.GET.get("page"))
        rows = list(page.object_list)
    context = {"page": page, "rows": rows, "nav_current": "console:platform_connections"}
    return render_page(request, "console/platform/connections.html", context)


urlpatterns = [
    path("t/<uuid:tenant_id>/stream-ticket/", stream_ticket, name="stream_ticket"),
    path("platform/connections/", connections, name="platform_connections"),
]
