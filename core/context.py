"""Who is acting, from where: set per request (or task), read by the audit log."""

from __future__ import annotations

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
    extra: dict[str, Any] = field(default_factory=dict)


_current: ContextVar[ActorContext | None] = ContextVar("qm_actor_context", default=None)


def current() -> ActorContext:
    return _current.get() or ActorContext()


def set_context(ctx: ActorContext) -> None:
    _current.set(ctx)


def update_context(**changes: Any) -> None:
    _current.set(replace(current(), **changes))


def client_ip(request: HttpRequest) -> str | None:
    """The client's IP: the socket peer, or the address our trusted proxies saw.

    With QM_TRUSTED_PROXY_COUNT = N, the Nth X-Forwarded-For entry from the right is the client
    (each trusted proxy appends the address it received from). Entries further left were written
    by the client itself and are never believed.
    """
    remote = request.META.get("REMOTE_ADDR") or None
    count = settings.QM_TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    forwarded = [
        part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()
    ]
    if len(forwarded) < count:
        return remote
    return forwarded[-count]
