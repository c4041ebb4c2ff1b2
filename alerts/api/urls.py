"""The alerts routes: a tenant's alerts, and every alert for platform staff."""

from django.urls import path

from alerts.api import views

T = "tenants/<uuid:tenant_id>/alerts/"

urlpatterns = [
    path(T, views.AlertListApi.as_view(), name="alerts"),
    path(T + "<uuid:alert_id>/acknowledge", views.AlertAcknowledgeApi.as_view(), name="alert-acknowledge"),
    path(T + "<uuid:alert_id>/resolve", views.AlertResolveApi.as_view(), name="alert-resolve"),
    path("alerts/", views.PlatformAlertListApi.as_view(), name="platform-alerts"),
]
