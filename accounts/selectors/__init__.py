"""Every non-trivial read of accounts, by subject: API keys, sessions, users.

Import from here: `from accounts import selectors; selectors.api_key_list(tenant=...)`.
"""

from accounts.selectors.api_keys import api_key_for_authentication, api_key_get, api_key_list
from accounts.selectors.sessions import session_for_authentication, session_get_own, session_list_live
from accounts.selectors.users import platform_user_list, user_get, user_get_active, user_get_active_by_email

__all__ = [
    "api_key_for_authentication",
    "api_key_get",
    "api_key_list",
    "platform_user_list",
    "session_for_authentication",
    "session_get_own",
    "session_list_live",
    "user_get",
    "user_get_active",
    "user_get_active_by_email",
]
