"""Every write of accounts, split by subject: users (`users.py`), logging in and sessions
(`auth.py`), the failed-login policy (`lockout.py`), passwords (`passwords.py`), the second
factor (`mfa.py`), API keys (`api_keys.py`).

Import from here (`from accounts import services; services.session_start(...)`) or from the
subject (`from accounts.services import auth; auth.session_start(...)`): the same functions.
"""

from accounts.services.api_keys import api_key_create, api_key_revoke
from accounts.services.auth import (
    IssuedTokens,
    LoginOutcome,
    account_lock,
    account_unlock,
    login,
    login_mfa_enroll,
    login_mfa_enroll_confirm,
    login_mfa_verify,
    password_check,
    session_refresh,
    session_revoke,
    session_start,
    sessions_revoke_all,
)
from accounts.services.mfa import mfa_verify, totp_confirm, totp_disable, totp_enroll
from accounts.services.passwords import (
    password_change,
    password_reset_complete,
    password_reset_confirm,
    password_reset_request,
)
from accounts.services.users import user_bootstrap_platform_admin, user_create, user_save_from_admin

__all__ = [
    "IssuedTokens",
    "LoginOutcome",
    "account_lock",
    "account_unlock",
    "api_key_create",
    "api_key_revoke",
    "login",
    "login_mfa_enroll",
    "login_mfa_enroll_confirm",
    "login_mfa_verify",
    "mfa_verify",
    "password_change",
    "password_check",
    "password_reset_complete",
    "password_reset_confirm",
    "password_reset_request",
    "session_refresh",
    "session_revoke",
    "session_start",
    "sessions_revoke_all",
    "totp_confirm",
    "totp_disable",
    "totp_enroll",
    "user_bootstrap_platform_admin",
    "user_create",
    "user_save_from_admin",
]
