from django.urls import path

from tenants.api import invite_views as views

T = "tenants/<uuid:tenant_id>/"

urlpatterns = [
    path(T + "invites/", views.InviteListCreateApi.as_view(), name="invites"),
    path(T + "invites/<uuid:invite_id>/revoke", views.InviteRevokeApi.as_view(), name="invite-revoke"),
    path("invites/accept", views.InviteAcceptApi.as_view(), name="invite-accept"),
]
