"""The API's rate limits. Each keys on `core.context.client_ip` where it keys on an address.

DRF's own throttles take the address from `X-Forwarded-For` whenever `NUM_PROXIES` is unset,
which any client can write; these take it from the one function every other consumer uses.

- `AnonRateThrottle` (`anon`): anonymous callers, per client IP.
- `UserRateThrottle` (`user`): people, per user. API keys pass: each has its own per-key limit
  (accounts.api_key_auth), and the per-user rate would cap every key of one creator together.
  Platform admins pass too (DOMAIN.md: they bypass rate limits), and each time they would have
  been throttled a log line records it.
- `AuthRateThrottle` (`auth`): login, sign-up, password reset, refresh and invite acceptance,
  per client IP whoever the caller claims to be. Platform admins do not pass this one.
"""

from __future__ import annotations

from typing import Any

import structlog
from rest_framework import throttling

from core.context import client_ip

logger = structlog.get_logger(__name__)


class ClientIpMixin:
    def get_ident(self, request: Any) -> str:
        return client_ip(request) or "unknown"


class AnonRateThrottle(ClientIpMixin, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(ClientIpMixin, throttling.UserRateThrottle):
    def allow_request(self, request: Any, view: Any) -> bool:
        if getattr(request.auth, "is_api_key", False):
            return True
        if super().allow_request(request, view):
            return True
        user = request.user
        if getattr(user, "is_platform_admin", False):
            logger.info("throttle_bypassed", scope=self.scope, rate=self.rate, user_id=str(user.pk))
            return True
        return False


class AuthRateThrottle(ClientIpMixin, throttling.SimpleRateThrottle):
    scope = "auth"

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
