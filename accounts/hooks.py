"""What accounts asks of the apps above it (core.hooks explains the pattern).

- `tenants_require_mfa(user) -> bool`: does a tenant of the user's (its own rule, or the
  platform's `security.require_2fa` setting for it) demand a second factor? The login asks;
  memberships and tenant settings are tenants', which provides it
  (tenants.selectors.tenants_require_mfa).
- `api_key_with_standing(*, key_hash, tenant_id) -> (ApiKey, Standing) | None` and
  `session_with_standing(*, session_id, tenant_id) -> (UserSession, Standing) | None`: on a
  tenant route, the authenticators read the key (or the session) and, in the same statement,
  the caller's membership in the tenant of the URL (a `core.access.Standing`, which the tenant
  gate decides on): one round trip where there were four. Memberships are tenants', which
  provides both (tenants.selectors.api_key_with_standing, session_with_standing).
"""

from __future__ import annotations

from accounts.models import ApiKey, UserSession
from core.access import Standing
from core.hooks import Hook

tenants_require_mfa: Hook[..., bool] = Hook("tenants_require_mfa", provider="tenants")
api_key_with_standing: Hook[..., tuple[ApiKey, Standing] | None] = Hook(
    "api_key_with_standing", provider="tenants"
)
session_with_standing: Hook[..., tuple[UserSession, Standing] | None] = Hook(
    "session_with_standing", provider="tenants"
)
