from django.urls import path

from accounts.api import auth_views as v

urlpatterns = [
    path("auth/login", v.LoginApi.as_view(), name="auth-login"),
    path("auth/login/mfa", v.LoginMfaApi.as_view(), name="auth-login-mfa"),
    path("auth/login/mfa/enroll", v.LoginMfaEnrollApi.as_view(), name="auth-login-mfa-enroll"),
    path(
        "auth/login/mfa/enroll/confirm",
        v.LoginMfaEnrollConfirmApi.as_view(),
        name="auth-login-mfa-enroll-confirm",
    ),
    path("auth/refresh", v.RefreshApi.as_view(), name="auth-refresh"),
    path("auth/logout", v.LogoutApi.as_view(), name="auth-logout"),
    path("auth/sessions", v.SessionListApi.as_view(), name="auth-sessions"),
    path("auth/sessions/<uuid:session_id>", v.SessionDetailApi.as_view(), name="auth-session"),
    path("auth/password/change", v.PasswordChangeApi.as_view(), name="auth-password-change"),
    path("auth/password/reset", v.PasswordResetApi.as_view(), name="auth-password-reset"),
    path(
        "auth/password/reset/confirm", v.PasswordResetConfirmApi.as_view(), name="auth-password-reset-confirm"
    ),
    path("auth/2fa/totp", v.TotpEnrollApi.as_view(), name="auth-totp-enroll"),
    path("auth/2fa/totp/confirm", v.TotpConfirmApi.as_view(), name="auth-totp-confirm"),
    path("auth/2fa/totp/disable", v.TotpDisableApi.as_view(), name="auth-totp-disable"),
    path("platform/users/<uuid:user_id>/unlock", v.UserUnlockApi.as_view(), name="platform-user-unlock"),
]
