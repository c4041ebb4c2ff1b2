"""Who is acting, from where: set per request (or task), read by the audit log."""

from __future__ import annotations

import ipaddress
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any

from django.conf import settings
from django.http import HttpRequest


@dataclass(frozen=True)
class ActorContext:
    request_id: str = ""
    ip_address: str | None = None
    user_agent: str = ""
    user: Any = None
    api_key: Any = None
    # The tenant gate's answer for this request (core.access.TenantAccess), once it has let the
    # caller in: the audit log snapshots the caller's role in the tenant from it (actor_role).
    access: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


_current: ContextVar[ActorContext | None] = ContextVar("qm_actor_context", default=None)


def current() -> ActorContext:
    return _current.get() or ActorContext()


def set_context(ctx: ActorContext) -> None:
    _current.set(ctx)


def update_context(**changes: Any) -> None:
    _current.set(replace(current(), **changes))


def client_ip(request: HttpRequest) -> str | None:
    """The client's IP address: the one source of truth for every consumer.

    Throttles (core.throttling), the lockout (django-axes' AXES_CLIENT_IP_CALLABLE), API-key
    allow-lists, sessions and the audit log all call this, so none of them can be fooled by a
    header the others ignore.

    With QM_TRUSTED_PROXY_COUNT = 0 (the default) it is the socket peer, and every forwarding
    header is ignored. With N > 0, the Nth X-Forwarded-For entry from the right is the client
    (each trusted proxy appends the address it received from); entries further left were
    written by the client itself and are never believed. `X-Real-IP` and `Forwarded` are never
    read: a deployment's proxies must speak X-Forwarded-For. A value that is not an IP address
    falls back to the socket peer.
    """
    remote = _address(request.META.get("REMOTE_ADDR"))
    count = settings.QM_TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    forwarded = [
        part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()
    ]
    if len(forwarded) < count:
        return remote
    return _address(forwarded[-count]) or remote


def _address(value: str | None) -> str | None:
    """`value` as a normalised IP address, or None when it is not one."""
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None
