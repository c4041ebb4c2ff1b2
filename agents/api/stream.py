"""The live stream over HTTP: a single-use ticket to open the websocket, and who is connected.

`POST .../stream-ticket` (agents:read; a JWT or an API key) answers a ticket valid for
QM_STREAM_TICKET_SECONDS and the websocket URL to present it to: no long-lived token ever goes
into a URL. `GET .../stream-connections` lists the tenant's open websockets (members:read: it
shows members' addresses)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import request_session
from agents.models import WebsocketConnection
from agents.stream import services
from core.api import TenantScopedApi
from core.context import client_ip


def stream_url(request: Any, tenant_id: Any) -> str:
    """The websocket URL of the tenant's event stream, without a ticket: QM_STREAM_URL's server
    (uvicorn beside gunicorn), else the request's own host."""
    base = settings.QM_STREAM_URL.rstrip("/")
    if not base:
        base = ("wss://" if request.is_secure() else "ws://") + request.get_host()
    return f"{base}/ws/tenants/{tenant_id}/events/"


class StreamTicketOutput(serializers.Serializer):
    ticket = serializers.CharField(help_text="Single use; present it as ?ticket= within expires_at.")
    expires_at = serializers.DateTimeField()
    url = serializers.CharField(help_text="The websocket URL; append ?ticket=<ticket>.")


class StreamTicketApi(TenantScopedApi):
    """Issue a single-use ticket for the tenant's live event stream."""

    permission_map = {"POST": services.STREAM_PERMISSION}

    @extend_schema(request=None, responses={201: StreamTicketOutput}, operation_id="stream_ticket")
    def post(self, request: Request, tenant_id: Any) -> Response:
        ticket, expires_at = services.ticket_issue(
            access=self.access,
            client_ip=client_ip(request),
            origin=request.headers.get("Origin", ""),
            user_session=request_session(request),
        )
        body = {"ticket": ticket, "expires_at": expires_at, "url": stream_url(request, tenant_id)}
        return Response(StreamTicketOutput(body).data, status=status.HTTP_201_CREATED)


class StreamConnectionOutput(serializers.ModelSerializer):
    user_email = serializers.EmailField(source="user.email", default=None, read_only=True)

    class Meta:
        model = WebsocketConnection
        fields = [
            "id",
            "user_id",
            "user_email",
            "api_key_id",
            "stream",
            "client_ip",
            "user_agent",
            "connected_at",
            "last_seen_at",
        ]


class StreamConnectionListApi(TenantScopedApi):
    """The tenant's open websocket connections, newest first."""

    permission_map = {"GET": "members:read"}

    @extend_schema(responses=StreamConnectionOutput(many=True), operation_id="stream_connections")
    def get(self, request: Request, tenant_id: Any) -> Response:
        rows = services.open_connections(tenant=self.tenant.pk)
        return self.paginated(rows, StreamConnectionOutput)
