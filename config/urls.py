"""The URL map: API under /api/v1/, docs, admin, probes, metrics, the console."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from core import views as core_views

# Django tries patterns in order, so the hot routes (usage charges, the task queue) come first:
# billing's and agents' modules, each with its runtime routes at the top (resolving a charge's
# URL went from trying ~70 patterns to ~3).
api_v1: list = [
    path("", include("billing.api.urls")),
    path("", include("agents.api.urls")),
    path("", include("tenants.api.urls")),
    path("", include("audit.api.urls")),
    path("", include("accounts.api.urls")),
    path("", include("alerts.api.urls")),
    path("", include("insights.api.urls")),
]

urlpatterns = [
    path("api/v1/", include((api_v1, "api"), namespace="v1")),
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("", include("django_prometheus.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", core_views.OfflineSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", core_views.OfflineRedocView.as_view(url_name="schema"), name="redoc"),
    path("admin/", admin.site.urls),
    path("", include("console.urls")),
]

handler404 = "core.errors.page_not_found"
handler500 = "core.errors.server_error"
