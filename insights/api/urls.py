from django.urls import path

from insights.api import interventions

T = "tenants/<uuid:tenant_id>/"
D = T + "interventions/<uuid:intervention_id>"

urlpatterns = [
    path(T + "interventions", interventions.InterventionListCreateApi.as_view(), name="interventions"),
    path(D, interventions.InterventionDetailApi.as_view(), name="intervention"),
    path(D + "/reverse", interventions.InterventionReverseApi.as_view(), name="intervention-reverse"),
]
