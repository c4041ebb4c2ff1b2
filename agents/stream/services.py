"""The live stream's writes: tickets (issue, redeem once) and websocket connection records.

A ticket is 32 random bytes (URL-safe text) given to a caller who passed the tenant gate with
`agents:read`; only its SHA-256 is stored, with the caller (user, API key or the sign-in: the
console's session or a JWT's), the client address and the browser's Origin it was asked from,
for `QM_STREAM_TICKET_SECONDS` (60 s). The websocket
presents it once: redeeming is one `DELETE ... RETURNING` under the tenant's row-level security,
so of any number of concurrent attempts exactly one gets the row, and a ticket of another tenant
is not even visible. Then the gate is asked again, as the API would (`tenants.gate.tenant_access`),
so a member removed or a key revoked since the ticket was issued is refused.
The connection keeps what the gate found and the agents the caller sees (visible_agent_ids), so
the consumer forwards an agent's events only to those who may see it (agent_visible for one
agent met later). When that changes (core.stream.refresh: a share, a team, a role, a key
revoked, a lock, a sign-in ended), stream_refresh asks the gate again for the same user, key
and sign-in, as at connect.

No audit entry per ticket or connection: like usage charges, these high-volume rows are their
own record (the connections table is what operators read).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection, transaction
from django.http.request import split_domain_port, validate_host
from django.utils import timezone

from accounts.models import ApiKey, User, UserSession
from agents.models import Agent, StreamTicket, WebsocketConnection
from agents.selectors import agent_visibility, sees_every_agent
from core.access import TenantAccess
from core.errors import DomainError, PermissionDeniedError
from core.tenancy import tenant_context
from tenants.gate import tenant_access

STREAM_PERMISSION = "agents:read"
EVENTS_STREAM = "events"
# last_seen_at moves at most this often (the consumer's heartbeat).
SEEN_INTERVAL = timedelta(minutes=1)


class StreamRefused(Exception):
    """The websocket may not open; `code` says why (for the log and the tests, not the client)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL, lower-case ("" when it has none)."""
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.netloc:
        return ""
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def origin_allowed(origin: str) -> bool:
    """May a browser page of `origin` use the stream? Its host is one of ALLOWED_HOSTS (as
    Channels' AllowedHostsOriginValidator decides), or it is the console's own origin
    (QM_PUBLIC_URL), a CSRF-trusted origin or one of QM_STREAM_ALLOWED_ORIGINS."""
    normalised = origin_of(origin)
    if not normalised:
        return False
    listed = {
        origin_of(o)
        for o in [settings.QM_PUBLIC_URL, *settings.CSRF_TRUSTED_ORIGINS, *settings.QM_STREAM_ALLOWED_ORIGINS]
    }
    if normalised in listed:
        return True
    host, _ = split_domain_port(urlsplit(normalised).netloc)
    return bool(host) and validate_host(host, settings.ALLOWED_HOSTS)


# --- Tickets -------------------------------------------------------------------------------------


@transaction.atomic
def ticket_issue(
    *, access: TenantAccess, client_ip: str | None, origin: str, user_session: UserSession | None = None
) -> tuple[str, datetime]:
    """A new single-use ticket for this caller in this tenant, and when it expires. `user_session`:
    the sign-in the caller came with (the console's or a JWT's; None for an API key): the stream
    then ends with it."""
    if origin and not origin_allowed(origin):
        raise PermissionDeniedError("This page's origin may not open the stream.", code="origin_not_allowed")
    now = timezone.now()
    ticket = secrets.token_urlsafe(32)
    expires_at = now + timedelta(seconds=settings.QM_STREAM_TICKET_SECONDS)
    # The tenant's expired tickets go as new ones come (nothing else needs to sweep them).
    StreamTicket.objects.filter(tenant=access.tenant, expires_at__lt=now).delete()
    StreamTicket.objects.create(
        tenant=access.tenant,
        digest=_digest(ticket),
        user=access.user,
        api_key=access.api_key,
        user_session=user_session if access.api_key is None else None,
        client_ip=client_ip,
        origin=origin_of(origin) if origin else "",
        expires_at=expires_at,
    )
    return ticket, expires_at


@dataclass(frozen=True)
class Redeemed:
    user_id: uuid.UUID
    api_key_id: uuid.UUID | None
    user_session_id: uuid.UUID | None
    client_ip: str | None
    origin: str
    expires_at: datetime


def ticket_redeem(*, tenant_id: uuid.UUID | str, ticket: str) -> Redeemed | None:
    """Take the ticket (once, ever) if it is this tenant's and unexpired; None otherwise."""
    if not ticket or len(ticket) > 128:
        return None
    with transaction.atomic(), tenant_context(tenant_id), connection.cursor() as cursor:
        # Under RLS (app.tenant_id = this tenant): another tenant's ticket is not found.
        cursor.execute(
            "DELETE FROM agents_streamticket WHERE digest = %s AND tenant_id = %s"
            " RETURNING user_id, api_key_id, user_session_id, host(client_ip), origin, expires_at",
            [_digest(ticket), str(tenant_id)],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    redeemed = Redeemed(*row)
    return redeemed if redeemed.expires_at > timezone.now() else None


# --- Opening, touching and closing a connection ----------------------------------------------------


@dataclass(frozen=True)
class OpenStream:
    connection_id: uuid.UUID
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    # What the gate found at connect (an API key's access: its creator's, narrowed to its scopes,
    # as on the API), for re-checking one agent later (agent_visible).
    access: TenantAccess
    # The ids (as strings) of the agents the caller saw at connect; None: they see every agent.
    visible_agents: frozenset[str] | None
    # The sign-in the ticket was asked with (None: an API key's stream); checked on each refresh.
    user_session_id: uuid.UUID | None = None

    def key_expired(self) -> bool:
        """Opened with an API key whose expiry has passed since (checked at each heartbeat)."""
        key = self.access.api_key
        return key is not None and key.expires_at is not None and key.expires_at <= timezone.now()


def stream_open(
    *,
    tenant_id: uuid.UUID | str,
    ticket: str,
    origin: str,
    client_ip: str | None,
    user_agent: str,
    channel_name: str,
) -> OpenStream:
    """Redeem the ticket, ask the tenant gate, record the connection; raise StreamRefused."""
    if origin and not origin_allowed(origin):
        raise StreamRefused("origin_not_allowed")
    redeemed = ticket_redeem(tenant_id=tenant_id, ticket=ticket)
    if redeemed is None:
        raise StreamRefused("ticket_invalid")
    # The ticket is bound to where it was asked from: a browser's ticket opens only from the
    # same Origin; a script's (no Origin) from the same client address.
    if redeemed.origin and origin_of(origin) != redeemed.origin:
        raise StreamRefused("ticket_wrong_origin")
    if redeemed.client_ip and client_ip and redeemed.client_ip != client_ip:
        raise StreamRefused("ticket_wrong_client")
    with transaction.atomic(), tenant_context(tenant_id):
        access = _standing(
            tenant_id=tenant_id,
            user_id=redeemed.user_id,
            api_key_id=redeemed.api_key_id,
            user_session_id=redeemed.user_session_id,
        )
        row = WebsocketConnection.objects.create(
            tenant=access.tenant,
            user=access.user,
            api_key=access.api_key,
            user_session_id=redeemed.user_session_id,
            channel_name=channel_name[:200],
            stream=EVENTS_STREAM,
            client_ip=client_ip,
            user_agent=user_agent[:512],
        )
        visible = visible_agent_ids(access=access)
    return OpenStream(
        connection_id=row.pk,
        tenant_id=access.tenant.pk,
        user_id=access.user.pk,
        access=access,
        visible_agents=visible,
        user_session_id=redeemed.user_session_id,
    )


def stream_refresh(stream: OpenStream) -> OpenStream:
    """The same stream with its caller's standing and visible agents read again, as stream_open
    reads them (same user, same API key, no ticket); raise StreamRefused when the caller may no
    longer stream (inactive, locked without a key, key unusable, its sign-in ended, no longer a
    member or without agents:read, tenant suspended)."""
    api_key_id = getattr(stream.access.api_key, "pk", None)
    with transaction.atomic(), tenant_context(stream.tenant_id):
        access = _standing(
            tenant_id=stream.tenant_id,
            user_id=stream.user_id,
            api_key_id=api_key_id,
            user_session_id=stream.user_session_id,
        )
        visible = visible_agent_ids(access=access)
    return replace(stream, access=access, visible_agents=visible)


def _standing(
    *,
    tenant_id: uuid.UUID | str,
    user_id: uuid.UUID,
    api_key_id: uuid.UUID | None,
    user_session_id: uuid.UUID | None,
) -> TenantAccess:
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise StreamRefused("user_inactive")
    if (
        user_session_id is not None
        and not UserSession.objects.filter(
            pk=user_session_id, user=user, revoked_at__isnull=True, expires_at__gt=timezone.now()
        ).exists()
    ):
        raise StreamRefused("session_ended")  # signed out, revoked, or expired
    api_key: ApiKey | None = None
    if api_key_id is not None:
        api_key = ApiKey.objects.filter(pk=api_key_id).first()
        if api_key is None or not api_key.is_usable:
            raise StreamRefused("api_key_unusable")
    elif user.locked_at is not None:
        # An operator's lock ends every session (accounts.services.auth.account_lock), so a
        # stream opened with one ends too; an API key's stream stands, as the key does on the API.
        raise StreamRefused("user_locked")
    try:
        access = tenant_access(
            user=user, api_key=api_key, tenant_id=tenant_id, permission=STREAM_PERMISSION, write=False
        )
    except DomainError as exc:
        raise StreamRefused(exc.code) from exc
    if access.tenant.is_suspended and not access.staff:
        raise StreamRefused("tenant_suspended")
    return access


# --- Which agents' events a connection gets --------------------------------------------------------
# The rule is the API's (agents.selectors.agent_visibility): owners, admins and platform staff see
# every agent; other members their team's and those shared with them.


def visible_agent_ids(*, access: TenantAccess) -> frozenset[str] | None:
    """The ids of the agents `access` sees (strings, as events carry them); None: every agent,
    so the consumer forwards every event without asking. Run inside the tenant's context."""
    if sees_every_agent(access):
        return None
    rows = Agent.objects.filter(tenant=access.tenant.pk).filter(agent_visibility(access))
    return frozenset(str(pk) for pk in rows.values_list("pk", flat=True))


def agent_visible(*, access: TenantAccess, agent_id: str) -> bool:
    """Does `access` see this one agent now (one not in its connect-time set: created, moved to
    its team or shared with it since)? One query, in the tenant's context."""
    try:
        pk = uuid.UUID(str(agent_id))
    except ValueError:
        return False
    with tenant_context(access.tenant.pk, user=access.user):
        return Agent.objects.filter(tenant=access.tenant.pk, pk=pk).filter(agent_visibility(access)).exists()


# The heartbeat's one statement: last_seen_at moves, and the answer says whether the sign-in the
# stream was opened with (if any) still stands. A session's expiry is not pushed as a revocation
# is (core.stream.refresh_user): it is found here, within a beat.
_TOUCH_SQL = """
UPDATE agents_websocketconnection c SET last_seen_at = %(now)s
 WHERE c.id = %(id)s AND c.tenant_id = %(tenant)s AND c.disconnected_at IS NULL
RETURNING c.user_session_id IS NULL OR EXISTS (
    SELECT 1 FROM accounts_usersession s
     WHERE s.id = c.user_session_id AND s.revoked_at IS NULL AND s.expires_at > %(now)s)
"""


def connection_touch(*, tenant_id: uuid.UUID | str, connection_id: uuid.UUID) -> bool:
    """The connection is still open: last_seen_at = now (the consumer calls it once a minute).
    False when the sign-in it was opened with has ended (expired or revoked): close it."""
    with transaction.atomic(), tenant_context(tenant_id), connection.cursor() as cursor:
        cursor.execute(_TOUCH_SQL, {"now": timezone.now(), "id": connection_id, "tenant": str(tenant_id)})
        row = cursor.fetchone()
    return row is None or bool(row[0])


def connection_close(*, tenant_id: uuid.UUID | str, connection_id: uuid.UUID, code: int | None) -> None:
    """The websocket closed (by either side)."""
    now = timezone.now()
    with tenant_context(tenant_id):
        WebsocketConnection.objects.filter(pk=connection_id, disconnected_at__isnull=True).update(
            disconnected_at=now, last_seen_at=now, close_code=code
        )


# --- Reads -----------------------------------------------------------------------------------------

# A connection whose process died never says goodbye: past this without a heartbeat it is not
# shown as open.
STALE_AFTER = SEEN_INTERVAL * 3


def open_connections(*, tenant: uuid.UUID | None = None) -> Any:
    """Open websocket connections (of one tenant, or all under the platform bypass), newest
    first, with their user and tenant."""
    rows = WebsocketConnection.objects.filter(
        disconnected_at__isnull=True, last_seen_at__gte=timezone.now() - STALE_AFTER
    ).select_related("user", "tenant")
    if tenant is not None:
        rows = rows.filter(tenant_id=tenant)
    return rows.order_by("-connected_at", "-id")
