from django.urls import path

from insights.api import analytics, graph, interventions, recommendations, segments

T = "tenants/<uuid:tenant_id>/"
D = T + "interventions/<uuid:intervention_id>"
R = T + "recommendations/<uuid:recommendation_id>"

urlpatterns = [
    path(T + "interventions", interventions.InterventionListCreateApi.as_view(), name="interventions"),
    path(D, interventions.InterventionDetailApi.as_view(), name="intervention"),
    path(D + "/reverse", interventions.InterventionReverseApi.as_view(), name="intervention-reverse"),
    path("analytics/daily", analytics.PlatformDailyAnalyticsApi.as_view(), name="platform-analytics-daily"),
    path(T + "analytics/daily", analytics.TenantDailyAnalyticsApi.as_view(), name="tenant-analytics-daily"),
    path(T + "segments", segments.SegmentListApi.as_view(), name="segments"),
    path(T + "segments/<slug:name>", segments.SegmentMembersApi.as_view(), name="segment"),
    path(T + "recommendations", recommendations.RecommendationListApi.as_view(), name="recommendations"),
    path(R, recommendations.RecommendationDetailApi.as_view(), name="recommendation"),
    path(R + "/accept", recommendations.RecommendationAcceptApi.as_view(), name="recommendation-accept"),
    path(R + "/dismiss", recommendations.RecommendationDismissApi.as_view(), name="recommendation-dismiss"),
    path(T + "graph", graph.GraphApi.as_view(), name="graph"),
    path(T + "participants", graph.ParticipantListApi.as_view(), name="participants"),
    path(T + "participants/<uuid:participant_id>", graph.ParticipantDetailApi.as_view(), name="participant"),
]
