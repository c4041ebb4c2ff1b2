from django.urls import path

from audit.api import views

urlpatterns = [
    path("tenants/<uuid:tenant_id>/audit-logs/", views.AuditLogListApi.as_view(), name="audit-logs"),
    path(
        "tenants/<uuid:tenant_id>/audit-logs/export",
        views.AuditLogExportApi.as_view(),
        name="audit-logs-export",
    ),
]
