"""Writes on users, sessions and API keys, by subject: users.py, auth.py, api_keys.py."""

from accounts.services.users import user_bootstrap_platform_admin

__all__ = ["user_bootstrap_platform_admin"]
