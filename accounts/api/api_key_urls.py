"""A tenant's API keys, under /api/v1/tenants/{tenant_id}/ (config.urls mounts them apart from
accounts' own routes, in api/urls.py)."""

from django.urls import path

from accounts.api import api_keys

T = "tenants/<uuid:tenant_id>/"

urlpatterns = [
    path(T + "api-keys/", api_keys.ApiKeyListCreateApi.as_view(), name="api-keys"),
    path(T + "api-keys/<uuid:api_key_id>/", api_keys.ApiKeyDetailApi.as_view(), name="api-key"),
    path(T + "api-keys/<uuid:api_key_id>/revoke", api_keys.ApiKeyRevokeApi.as_view(), name="api-key-revoke"),
]
