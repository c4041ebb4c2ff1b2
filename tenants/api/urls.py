from django.urls import path

from tenants.api import views

T = "tenants/<uuid:tenant_id>/"

urlpatterns = [
    path("tenants/", views.TenantListCreateApi.as_view(), name="tenants"),
    path(T, views.TenantDetailApi.as_view(), name="tenant"),
    path(T + "suspend", views.TenantSuspendApi.as_view(), name="tenant-suspend"),
    path(T + "reactivate", views.TenantReactivateApi.as_view(), name="tenant-reactivate"),
    path(T + "teams/", views.TeamListCreateApi.as_view(), name="teams"),
    path(T + "teams/<uuid:team_id>/", views.TeamDetailApi.as_view(), name="team"),
    path(T + "members/", views.MemberListApi.as_view(), name="members"),
    path(T + "members/<uuid:membership_id>/", views.MemberDetailApi.as_view(), name="member"),
    path(T + "roles/", views.RoleListCreateApi.as_view(), name="roles"),
    path(T + "roles/<uuid:role_id>/", views.RoleDetailApi.as_view(), name="role"),
]
