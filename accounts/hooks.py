"""What accounts asks of the apps above it (core.hooks explains the pattern).

- `tenants_require_mfa(user) -> bool`: does a tenant of the user's (its own rule, or the
  platform's `security.require_2fa` setting for it) demand a second factor? The login asks;
  memberships and tenant settings are tenants', which provides it
  (tenants.selectors.tenants_require_mfa).
"""

from __future__ import annotations

from core.hooks import Hook

tenants_require_mfa: Hook[..., bool] = Hook("tenants_require_mfa", provider="tenants")
