from django.urls import path

from accounts.api import api_key_views as views

T = "tenants/<uuid:tenant_id>/"

urlpatterns = [
    path(T + "api-keys/", views.ApiKeyListCreateApi.as_view(), name="api-keys"),
    path(T + "api-keys/<uuid:api_key_id>/", views.ApiKeyDetailApi.as_view(), name="api-key"),
    path(T + "api-keys/<uuid:api_key_id>/revoke", views.ApiKeyRevokeApi.as_view(), name="api-key-revoke"),
]
