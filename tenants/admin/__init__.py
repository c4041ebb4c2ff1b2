"""The back office for tenants, teams, memberships and roles, and tenant configuration (settings,
feature flags, the secret locker), by subject; importing this package registers them all.

Every write goes through `tenants.services` (which audit it); the admin only parses, calls and
renders (tenants.admin.common).
"""

from tenants.admin import flags, invites, members, secrets, settings, teams, tenants

__all__ = ["flags", "invites", "members", "secrets", "settings", "teams", "tenants"]
