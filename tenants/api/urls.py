"""Tenants' routes: tenants, teams, members and roles; invites; sign-up and "who am I"; settings,
feature flags and secrets; and the platform's setting defaults and flags."""

from django.urls import path

from tenants.api import accounts, flags, invites, members, platform, secrets, settings, teams, tenants

T = "tenants/<uuid:tenant_id>/"
S = T + "settings/<str:key>/"
P = "platform/settings/<str:key>/"

urlpatterns = [
    # Tenants, teams, members, roles
    path("tenants/", tenants.TenantListCreateApi.as_view(), name="tenants"),
    path(T, tenants.TenantDetailApi.as_view(), name="tenant"),
    path(T + "suspend", tenants.TenantSuspendApi.as_view(), name="tenant-suspend"),
    path(T + "reactivate", tenants.TenantReactivateApi.as_view(), name="tenant-reactivate"),
    path(T + "teams/", teams.TeamListCreateApi.as_view(), name="teams"),
    path(T + "teams/<uuid:team_id>/", teams.TeamDetailApi.as_view(), name="team"),
    path(T + "members/", members.MemberListApi.as_view(), name="members"),
    path(T + "members/<uuid:membership_id>/", members.MemberDetailApi.as_view(), name="member"),
    path(T + "roles/", members.RoleListCreateApi.as_view(), name="roles"),
    path(T + "roles/<uuid:role_id>/", members.RoleDetailApi.as_view(), name="role"),
    # Sign-up and "who am I"
    path("auth/register", accounts.RegisterApi.as_view(), name="auth-register"),
    path("auth/me", accounts.MeApi.as_view(), name="auth-me"),
    # Invites
    path(T + "invites/", invites.InviteListCreateApi.as_view(), name="invites"),
    path(T + "invites/<uuid:invite_id>/revoke", invites.InviteRevokeApi.as_view(), name="invite-revoke"),
    path("invites/accept", invites.InviteAcceptApi.as_view(), name="invite-accept"),
    # Settings
    path(T + "settings/", settings.SettingListApi.as_view(), name="settings"),
    path(S, settings.SettingDetailApi.as_view(), name="setting"),
    path(S + "versions/", settings.SettingVersionListApi.as_view(), name="setting-versions"),
    path(S + "rollback", settings.SettingRollbackApi.as_view(), name="setting-rollback"),
    path(S + "reveal", settings.SettingRevealApi.as_view(), name="setting-reveal"),
    # Feature flags
    path(T + "flags/", flags.FlagListCreateApi.as_view(), name="flags"),
    path(T + "flags/evaluate", flags.FlagEvaluateApi.as_view(), name="flags-evaluate"),
    path(T + "flags/<uuid:flag_id>/", flags.FlagDetailApi.as_view(), name="flag"),
    # The secret locker
    path(T + "secrets/", secrets.SecretListCreateApi.as_view(), name="secrets"),
    path(T + "secrets/<uuid:secret_id>/", secrets.SecretDetailApi.as_view(), name="secret"),
    path(T + "secrets/<uuid:secret_id>/rotate", secrets.SecretRotateApi.as_view(), name="secret-rotate"),
    path(T + "secrets/<uuid:secret_id>/reveal", secrets.SecretRevealApi.as_view(), name="secret-reveal"),
    # The platform's setting defaults and flags
    path("platform/settings/", platform.PlatformSettingListApi.as_view(), name="platform-settings"),
    path(P, platform.PlatformSettingDetailApi.as_view(), name="platform-setting"),
    path(P + "versions/", platform.PlatformSettingVersionListApi.as_view(), name="platform-setting-versions"),
    path(P + "rollback", platform.PlatformSettingRollbackApi.as_view(), name="platform-setting-rollback"),
    path(P + "reveal", platform.PlatformSettingRevealApi.as_view(), name="platform-setting-reveal"),
    path("platform/flags/", platform.PlatformFlagListCreateApi.as_view(), name="platform-flags"),
    path("platform/flags/<uuid:flag_id>/", platform.PlatformFlagDetailApi.as_view(), name="platform-flag"),
]
