"""`Authorization: Api-Key <key>`: a tenant's key, for scripts and agent runtimes.

The key is found by its SHA-256 (only the hash is stored), with its creator and tenant, in one
query. A key acts as its creator, narrowed to its scopes, in its own tenant only: that part is
`core.api.TenantScopedApi`'s. Here: the key must be known, not revoked, not expired, and its
creator active (all four answer the same 401, so a caller cannot tell which); the caller's IP
must be in the key's allow-list; the key's per-minute rate limit applies (429 with Retry-After,
counted in the shared cache so every worker sees the same count: `core.throttling`'s
`ApiKeyRateThrottle`, applied here so that it holds on every route a key reaches); and
last_used_at/last_used_ip are written at most once a minute per key.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from typing import Any

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied, Throttled
from rest_framework.request import Request

from accounts import hooks
from accounts.models import ApiKey
from accounts.selectors import api_key_for_authentication
from core import clock
from core.access import Standing, remember_standing, tenant_route
from core.context import client_ip
from core.gates import once_per
from core.rows import prepared_cursor
from core.throttling import ApiKeyRateThrottle

KEYWORD = "Api-Key"
# Every key starts with this, so secret scanners recognise a leaked one. The key format lives
# here, in the lowest layer (DRF imports this module while building its views), and the
# services that generate keys import it.
KEY_PREFIX = "qm_live_"
# Query parameters that carry a key: URLs end up in proxy logs, browser history and Referer
# headers, so a key sent there is refused outright rather than quietly accepted.
QUERY_KEY_NAMES = frozenset({"api_key", "apikey"})
INVALID_MESSAGE = "Invalid API key."  # unknown, revoked, expired, creator inactive: one answer
MAX_KEY_LENGTH = 256
LAST_USED_EVERY_SECONDS = 60


def hash_key(raw_key: str) -> str:
    """The SHA-256 hex digest stored for a key. A key is 256 random bits: no salt or slow hash
    is needed, and a fast hash lets every request find its key through the unique index."""
    return hashlib.sha256(raw_key.encode()).hexdigest()


def _looks_like_key(value: str) -> bool:
    return value.strip().lower().startswith(KEY_PREFIX)


def _key_in_query(request: Request) -> bool:
    for name, values in request._request.GET.lists():
        lowered = name.lower()
        if lowered in QUERY_KEY_NAMES:
            return True
        # `key` is also an ordinary filter name (settings keys such as `agents.max_depth`); it is
        # refused when its value is an API key. Any other parameter holding a key is refused too.
        if any(_looks_like_key(v) for v in values):
            return True
    return False


def _parse_ip(value: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not value:
        return None
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    # An IPv4 client seen through a dual-stack socket (::ffff:10.0.0.1) is that IPv4 address.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def ip_allowed(api_key: ApiKey, ip: str | None) -> bool:
    """Whether `ip` falls in one of the key's allowed CIDRs (an empty list allows any address)."""
    if not api_key.allowed_ips:
        return True
    address = _parse_ip(ip)
    if address is None:
        return False  # an allow-list is a promise: an unknown address is not in it
    for cidr in api_key.allowed_ips:
        try:
            network = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            continue
        if address.version == network.version and address in network:
            return True
    return False


def _check_rate(api_key: ApiKey) -> None:
    """The key's per-minute limit (core.throttling.ApiKeyRateThrottle): 429 with Retry-After."""
    throttle = ApiKeyRateThrottle()
    if not throttle.allow_key(api_key):
        raise Throttled(wait=throttle.wait())


def _touch(api_key: ApiKey, ip: str | None) -> None:
    """Record the last use at most once a minute per key: no row write on every request."""
    if not once_per(f"qm:apikey-used:{api_key.pk}", LAST_USED_EVERY_SECONDS):
        return
    address = _parse_ip(ip)
    api_key.last_used_at, api_key.last_used_ip = clock.now(), str(address) if address else None
    # Not ApiKey.save(): no read-modify-write race with a concurrent revocation. The function
    # (accounts migration 0006) writes under the bypass, as the lookup reads, in one round trip.
    with prepared_cursor() as cursor:
        cursor.execute(
            "SELECT qm_api_key_touch(%s::uuid, %s::timestamptz, %s::inet)",
            [api_key.pk, api_key.last_used_at, api_key.last_used_ip],
        )


def _check_view(request: Request) -> None:
    """Keys are for tenant-scoped endpoints. Elsewhere (the caller's tenants, their sessions,
    their password) a key would act with its creator's full powers, platform role included."""
    from core.api import TenantScopedApi  # core.api imports DRF's views, which import this module

    view = (getattr(request, "parser_context", None) or {}).get("view")
    if view is None:
        return
    if not (isinstance(view, TenantScopedApi) or getattr(view, "dangerously_allow_api_keys", False)):
        raise PermissionDenied(
            detail="API keys work on tenant endpoints only (/api/v1/tenants/{tenant_id}/...).",
            code="api_key_not_allowed",
        )


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Api-Key qm_live_...` (the keyword is case-insensitive)."""

    authenticates_api_keys = True  # what the OpenAPI schema (core.schema) looks for

    keyword = KEYWORD

    def authenticate(self, request: Request) -> tuple[Any, ApiKey] | None:
        if _key_in_query(request):
            # Refused even with a good header: the key has leaked into a URL and must be rotated.
            raise AuthenticationFailed(
                "API keys are not accepted in the query string; send `Authorization: Api-Key <key>` "
                "and revoke the key that was sent in a URL.",
                code="api_key_in_query",
            )
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None  # not ours: another scheme, or anonymous
        if len(parts) != 2 or len(parts[1]) > MAX_KEY_LENGTH:
            raise AuthenticationFailed(INVALID_MESSAGE, code="invalid_api_key")
        try:
            raw_key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed(INVALID_MESSAGE, code="invalid_api_key") from None
        return self.authenticate_key(request, raw_key)

    def authenticate_key(self, request: Request, raw_key: str) -> tuple[Any, ApiKey]:
        digest = hash_key(raw_key)
        tenant_id = tenant_route(request)
        standing: Standing | None = None
        if tenant_id is None:
            api_key = api_key_for_authentication(key_hash=digest)
        else:
            # A tenant route: the key and its creator's membership in that tenant in one
            # statement, the request's first (core.access.Standing); the gate decides on it.
            found = hooks.api_key_with_standing(key_hash=digest, tenant_id=tenant_id)
            api_key, standing = found if found is not None else (None, None)
        # compare_digest: the index found the row, the comparison does not leak timing either way.
        if (
            api_key is None
            or not hmac.compare_digest(api_key.key_hash, digest)
            or not api_key.is_usable
            or not api_key.created_by.is_active
        ):
            raise AuthenticationFailed(INVALID_MESSAGE, code="invalid_api_key")
        _check_view(request)
        ip = client_ip(request._request)
        if not ip_allowed(api_key, ip):
            raise PermissionDenied(
                detail="This API key may not be used from this IP address.", code="ip_not_allowed"
            )
        _check_rate(api_key)
        _touch(api_key, ip)
        remember_standing(request, standing)
        return api_key.created_by, api_key

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
