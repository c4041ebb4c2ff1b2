"""Tenant configuration (settings, feature flags, secrets) and the platform's defaults and flags."""

from django.urls import path

from tenants.api import config_views as views

T = "tenants/<uuid:tenant_id>/"
S = T + "settings/<str:key>/"
P = "platform/settings/<str:key>/"

urlpatterns = [
    path(T + "settings/", views.SettingListApi.as_view(), name="settings"),
    path(S, views.SettingDetailApi.as_view(), name="setting"),
    path(S + "versions/", views.SettingVersionListApi.as_view(), name="setting-versions"),
    path(S + "rollback", views.SettingRollbackApi.as_view(), name="setting-rollback"),
    path(S + "reveal", views.SettingRevealApi.as_view(), name="setting-reveal"),
    path(T + "flags/", views.FlagListCreateApi.as_view(), name="flags"),
    path(T + "flags/evaluate", views.FlagEvaluateApi.as_view(), name="flags-evaluate"),
    path(T + "flags/<uuid:flag_id>/", views.FlagDetailApi.as_view(), name="flag"),
    path(T + "secrets/", views.SecretListCreateApi.as_view(), name="secrets"),
    path(T + "secrets/<uuid:secret_id>/", views.SecretDetailApi.as_view(), name="secret"),
    path(T + "secrets/<uuid:secret_id>/rotate", views.SecretRotateApi.as_view(), name="secret-rotate"),
    path(T + "secrets/<uuid:secret_id>/reveal", views.SecretRevealApi.as_view(), name="secret-reveal"),
    path("platform/settings/", views.PlatformSettingListApi.as_view(), name="platform-settings"),
    path(P, views.PlatformSettingDetailApi.as_view(), name="platform-setting"),
    path(P + "versions/", views.PlatformSettingVersionListApi.as_view(), name="platform-setting-versions"),
    path(P + "rollback", views.PlatformSettingRollbackApi.as_view(), name="platform-setting-rollback"),
    path(P + "reveal", views.PlatformSettingRevealApi.as_view(), name="platform-setting-reveal"),
    path("platform/flags/", views.PlatformFlagListCreateApi.as_view(), name="platform-flags"),
    path("platform/flags/<uuid:flag_id>/", views.PlatformFlagDetailApi.as_view(), name="platform-flag"),
]
