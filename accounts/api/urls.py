from django.urls import path

from accounts.api import api_keys, auth, passwords, platform_users, sessions, two_factor

urlpatterns = [
    path("auth/login", auth.LoginApi.as_view(), name="auth-login"),
    path("auth/login/mfa", auth.LoginMfaApi.as_view(), name="auth-login-mfa"),
    path("auth/login/mfa/enroll", auth.LoginMfaEnrollApi.as_view(), name="auth-login-mfa-enroll"),
    path(
        "auth/login/mfa/enroll/confirm",
        auth.LoginMfaEnrollConfirmApi.as_view(),
        name="auth-login-mfa-enroll-confirm",
    ),
    path("auth/refresh", auth.RefreshApi.as_view(), name="auth-refresh"),
    path("auth/logout", auth.LogoutApi.as_view(), name="auth-logout"),
    path("auth/sessions", sessions.SessionListApi.as_view(), name="auth-sessions"),
    path("auth/sessions/<uuid:session_id>", sessions.SessionDetailApi.as_view(), name="auth-session"),
    path("auth/password/change", passwords.PasswordChangeApi.as_view(), name="auth-password-change"),
    path("auth/password/reset", passwords.PasswordResetApi.as_view(), name="auth-password-reset"),
    path(
        "auth/password/reset/confirm",
        passwords.PasswordResetConfirmApi.as_view(),
        name="auth-password-reset-confirm",
    ),
    path("auth/2fa/totp", two_factor.TotpEnrollApi.as_view(), name="auth-totp-enroll"),
    path("auth/2fa/totp/confirm", two_factor.TotpConfirmApi.as_view(), name="auth-totp-confirm"),
    path("auth/2fa/totp/disable", two_factor.TotpDisableApi.as_view(), name="auth-totp-disable"),
    path(
        "platform/users/<uuid:user_id>/unlock",
        platform_users.UserUnlockApi.as_view(),
        name="platform-user-unlock",
    ),
    # A tenant's API keys, under /api/v1/tenants/{tenant_id}/.
    path("tenants/<uuid:tenant_id>/api-keys/", api_keys.ApiKeyListCreateApi.as_view(), name="api-keys"),
    path(
        "tenants/<uuid:tenant_id>/api-keys/<uuid:api_key_id>/",
        api_keys.ApiKeyDetailApi.as_view(),
        name="api-key",
    ),
    path(
        "tenants/<uuid:tenant_id>/api-keys/<uuid:api_key_id>/revoke",
        api_keys.ApiKeyRevokeApi.as_view(),
        name="api-key-revoke",
    ),
]
