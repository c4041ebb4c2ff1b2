"""The live stream's records: the single-use tickets that open a websocket, and the websocket
connections themselves (DOMAIN.md, "Websocket connection"), which operators watch live."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.tenancy import TenantScopedModel


class StreamTicket(TenantScopedModel):
    """A short-lived, single-use permission to open the tenant's stream, for one caller.

    Only the SHA-256 of the ticket is stored; redeeming deletes the row (`DELETE ... RETURNING`),
    so a ticket opens at most one websocket however many try it at once.
    """

    digest = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    api_key = models.ForeignKey(
        "accounts.ApiKey", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    # The sign-in (console or JWT) it was asked with; none for an API key. The stream lives no
    # longer than it: a revoked or expired session closes the socket.
    user_session = models.ForeignKey(
        "accounts.UserSession", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    # The browser's Origin when it asked ("" from a script): the websocket must come from it.
    origin = models.CharField(max_length=255, blank=True)
    expires_at = models.DateTimeField()

    class Meta(TenantScopedModel.Meta):
        indexes = [models.Index(fields=["expires_at"], name="stream_ticket_expiry_idx")]

    def __str__(self) -> str:
        return f"stream ticket {self.digest[:8]}…"


class WebsocketConnection(TenantScopedModel):
    """One websocket of the stream, from connect to disconnect (open while disconnected_at is null).

    last_seen_at moves at most once a minute while the socket is open."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    api_key = models.ForeignKey(
        "accounts.ApiKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    user_session = models.ForeignKey(
        "accounts.UserSession", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    channel_name = models.CharField(max_length=200)
    stream = models.CharField(max_length=32, default="events")
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    connected_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    disconnected_at = models.DateTimeField(null=True, blank=True)
    close_code = models.IntegerField(null=True, blank=True)

    class Meta(TenantScopedModel.Meta):
        ordering = ["-connected_at", "-id"]
        verbose_name = "websocket connection"
        indexes = [
            # Who is connected now, per tenant and across the platform.
            models.Index(
                fields=["tenant", "-connected_at"],
                condition=Q(disconnected_at__isnull=True),
                name="ws_conn_open_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.stream} websocket {self.channel_name}"

    @property
    def is_open(self) -> bool:
        return self.disconnected_at is None
