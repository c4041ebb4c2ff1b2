"""The project's URL map plus two no-op endpoints, to measure what the framework alone costs."""

from django.urls import path

from bench.views import NaiveChargeApi, NoopApi, TenantNoopApi
from config.urls import urlpatterns as project_urlpatterns

urlpatterns = [
    path("bench/noop", NoopApi.as_view(), name="bench-noop"),
    path("bench/tenants/<uuid:tenant_id>/noop", TenantNoopApi.as_view(), name="bench-tenant-noop"),
    path("bench/tenants/<uuid:tenant_id>/naive-charge", NaiveChargeApi.as_view(), name="bench-naive-charge"),
    *project_urlpatterns,
]
