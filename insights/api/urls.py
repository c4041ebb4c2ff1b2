from django.urls import path

from insights.api import analytics, interventions, segments

T = "tenants/<uuid:tenant_id>/"
D = T + "interventions/<uuid:intervention_id>"

urlpatterns = [
    path(T + "interventions", interventions.InterventionListCreateApi.as_view(), name="interventions"),
    path(D, interventions.InterventionDetailApi.as_view(), name="intervention"),
    path(D + "/reverse", interventions.InterventionReverseApi.as_view(), name="intervention-reverse"),
    path("analytics/daily", analytics.PlatformDailyAnalyticsApi.as_view(), name="platform-analytics-daily"),
    path(T + "analytics/daily", analytics.TenantDailyAnalyticsApi.as_view(), name="tenant-analytics-daily"),
    path(T + "segments", segments.SegmentListApi.as_view(), name="segments"),
    path(T + "segments/<slug:name>", segments.SegmentMembersApi.as_view(), name="segment"),
]
