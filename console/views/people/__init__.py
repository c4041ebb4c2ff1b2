"""People and access in a tenant: members, invites, roles, teams, API keys; and the signed-in
user's own sessions (devices).

Each page is a GET guarded by the permission the API's list needs; each action is a POST of its
own, guarded by the permission the API's write needs (members:write to change a role or a team,
members:delete to remove, invites:write, roles:write/delete, teams:write/delete,
api_keys:write), and calls the same service. The services decide the rest (rank rules,
permissions one holds, the last owner, limits); their refusals are shown in place, with their
status. Without JavaScript an action answers with a redirect to its page and a message (or the
page with the error); with htmx, the members list, a team's members and the invites list are
swapped in place.

A new API key's secret is shown once: the creation redirects to a page that takes it out of the
session (where it waited, encrypted, for that one request) and shows it; a reload finds nothing.
"""

from __future__ import annotations

from django.urls import path

from console.views.people.api_keys import (
    api_key_create,
    api_key_created,
    api_key_revoke,
    api_keys,
    devices,
)
from console.views.people.members import (
    invite_create,
    invite_revoke,
    invites,
    member_remove,
    member_update,
    members,
)
from console.views.people.roles import (
    role_create,
    role_delete,
    role_edit,
    roles,
)
from console.views.people.teams import (
    team,
    team_create,
    team_delete,
    team_member_add,
    team_member_remove,
    team_rename,
    teams,
)

TENANT = "t/<uuid:tenant_id>/"
urlpatterns = [
    path(f"{TENANT}members/", members, name="members"),
    path(f"{TENANT}members/<uuid:membership_id>/", member_update, name="member_update"),
    path(f"{TENANT}members/<uuid:membership_id>/remove/", member_remove, name="member_remove"),
    path(f"{TENANT}invites/", invites, name="invites"),
    path(f"{TENANT}invites/new/", invite_create, name="invite_create"),
    path(f"{TENANT}invites/<uuid:invite_id>/revoke/", invite_revoke, name="invite_revoke"),
    path(f"{TENANT}roles/", roles, name="roles"),
    path(f"{TENANT}roles/new/", role_create, name="role_create"),
    path(f"{TENANT}roles/<uuid:role_id>/edit/", role_edit, name="role_edit"),
    path(f"{TENANT}roles/<uuid:role_id>/delete/", role_delete, name="role_delete"),
    path(f"{TENANT}teams/", teams, name="teams"),
    path(f"{TENANT}teams/new/", team_create, name="team_create"),
    path(f"{TENANT}teams/<uuid:team_id>/", team, name="team"),
    path(f"{TENANT}teams/<uuid:team_id>/rename/", team_rename, name="team_rename"),
    path(f"{TENANT}teams/<uuid:team_id>/delete/", team_delete, name="team_delete"),
    path(f"{TENANT}teams/<uuid:team_id>/members/", team_member_add, name="team_member_add"),
    path(
        f"{TENANT}teams/<uuid:team_id>/members/<uuid:membership_id>/remove/",
        team_member_remove,
        name="team_member_remove",
    ),
    path(f"{TENANT}api-keys/", api_keys, name="api_keys"),
    path(f"{TENANT}api-keys/new/", api_key_create, name="api_key_create"),
    path(f"{TENANT}api-keys/<uuid:api_key_id>/created/", api_key_created, name="api_key_created"),
    path(f"{TENANT}api-keys/<uuid:api_key_id>/revoke/", api_key_revoke, name="api_key_revoke"),
    path("account/sessions/", devices, name="devices"),
]
