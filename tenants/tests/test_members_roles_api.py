"""Teams, members and roles over HTTP: rank rules, the last owner, custom roles."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Role
from core.tenancy import platform_bypass
from tenants.models import Membership
from tenants.tests.factories import (
    InviteFactory,
    MembershipFactory,
    RoleFactory,
    TeamFactory,
    TenantFactory,
    member,
    system_role,
)
from tenants.tests.test_tenants_api import audit_entries


def _membership(tenant: Any, user: Any) -> Membership:
    with platform_bypass(reason="test", log=False):
        return Membership.objects.select_related("role", "team").get(tenant=tenant, user=user)


def _url(tenant: Any, path: str) -> str:
    return f"/api/v1/tenants/{tenant.pk}/{path}"


# --- Teams ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_team_create__admin__201_and_audited(as_user, tenant, admin):
    response = as_user(admin).post(_url(tenant, "teams/"), {"name": "Growth Marketing", "description": "Ads"})

    assert response.status_code == 201
    assert response.json()["slug"] == "growth-marketing"
    assert [e.target_label for e in audit_entries("team.created")] == ["Growth Marketing"]


@pytest.mark.django_db
def test_team_create__slug_taken__400_field_error(as_user, tenant, admin):
    TeamFactory.create(tenant=tenant, slug="ops")

    response = as_user(admin).post(_url(tenant, "teams/"), {"name": "Ops", "slug": "ops"})

    assert response.status_code == 400
    assert response.json()["errors"] == {"slug": ["A team with this slug exists."]}


@pytest.mark.django_db
def test_team_create__same_slug_in_another_tenant__allowed(as_user, tenant, other_tenant, admin):
    TeamFactory.create(tenant=other_tenant, slug="ops")

    response = as_user(admin).post(_url(tenant, "teams/"), {"name": "Ops", "slug": "ops"})

    assert response.status_code == 201


@pytest.mark.django_db
def test_team_create__viewer__403_missing_permission(as_user, tenant):
    response = as_user(member(tenant, "viewer")).post(_url(tenant, "teams/"), {"name": "X"})

    assert response.status_code == 403
    assert response.json()["code"] == "missing_permission"


@pytest.mark.django_db
def test_team_update__rename__audited_with_old_and_new(as_user, tenant, admin):
    team = TeamFactory.create(tenant=tenant, name="Old")

    response = as_user(admin).patch(_url(tenant, f"teams/{team.pk}/"), {"name": "New"})

    assert response.status_code == 200
    assert response.json()["name"] == "New"
    (entry,) = audit_entries("team.updated")
    assert entry.details["changes"] == {"name": {"old": "Old", "new": "New"}}


@pytest.mark.django_db
def test_team_delete__members_stay_without_a_team(as_user, tenant, admin):
    team = TeamFactory.create(tenant=tenant)
    user = member(tenant, team=team)

    response = as_user(admin).delete(_url(tenant, f"teams/{team.pk}/"))

    assert response.status_code == 204
    assert _membership(tenant, user).team is None


@pytest.mark.django_db
def test_team_list__counts_members__query_count_independent_of_rows(
    as_user, tenant, admin, django_assert_num_queries
):
    client = as_user(admin)
    TeamFactory.create(tenant=tenant)
    client.get(_url(tenant, "teams/"))
    with django_assert_num_queries(8):
        client.get(_url(tenant, "teams/"))
    for _ in range(6):
        team = TeamFactory.create(tenant=tenant)
        member(tenant, team=team)

    with django_assert_num_queries(8):
        response = client.get(_url(tenant, "teams/"))

    assert response.json()["count"] == 7
    assert sorted(t["member_count"] for t in response.json()["results"]) == [0, 1, 1, 1, 1, 1, 1]


# --- Members ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_member_list__filters_by_role_and_search(as_user, tenant, owner):
    viewer = member(tenant, "viewer")
    member(tenant, "member")

    by_role = as_user(owner).get(_url(tenant, "members/?role=viewer"))
    by_search = as_user(owner).get(_url(tenant, f"members/?q={viewer.email[:6]}"))

    assert [m["user"]["email"] for m in by_role.json()["results"]] == [viewer.email]
    assert viewer.email in [m["user"]["email"] for m in by_search.json()["results"]]


@pytest.mark.django_db
def test_member_list__query_count_independent_of_rows(as_user, tenant, owner, django_assert_num_queries):
    client = as_user(owner)
    client.get(_url(tenant, "members/"))
    with django_assert_num_queries(8):
        client.get(_url(tenant, "members/"))
    for _ in range(8):
        member(tenant, team=TeamFactory.create(tenant=tenant))

    with django_assert_num_queries(8):
        response = client.get(_url(tenant, "members/"))

    assert response.json()["count"] == 9


@pytest.mark.django_db
def test_member_update__admin_demotes_member_to_viewer__ok_and_audited(as_user, tenant, admin):
    user = member(tenant, "member")
    membership = _membership(tenant, user)

    response = as_user(admin).patch(
        _url(tenant, f"members/{membership.pk}/"), {"role_id": str(system_role("viewer").pk)}
    )

    assert response.status_code == 200
    assert response.json()["role"]["slug"] == "viewer"
    assert _membership(tenant, user).role_assigned_by == admin
    (entry,) = audit_entries("member.role_changed")
    assert entry.details["changes"]["role"] == {"old": "member", "new": "viewer"}
    assert entry.severity == "warning"


@pytest.mark.django_db
def test_member_update__admin_promotes_to_owner__403_rank_too_low(as_user, tenant, admin):
    membership = _membership(tenant, member(tenant, "member"))

    response = as_user(admin).patch(
        _url(tenant, f"members/{membership.pk}/"), {"role_id": str(system_role("owner").pk)}
    )

    assert response.status_code == 403
    assert response.json()["code"] == "rank_too_low"
    assert _membership(tenant, membership.user).role.slug == "member"


@pytest.mark.django_db
def test_member_update__admin_changes_an_owner__403_rank_too_low(as_user, tenant, owner, admin):
    membership = _membership(tenant, owner)

    response = as_user(admin).patch(
        _url(tenant, f"members/{membership.pk}/"), {"role_id": str(system_role("viewer").pk)}
    )

    assert response.status_code == 403
    assert response.json()["code"] == "rank_too_low"


@pytest.mark.django_db
def test_member_update__last_owner_demotes_self__409_last_owner(as_user, tenant, owner):
    membership = _membership(tenant, owner)

    response = as_user(owner).patch(
        _url(tenant, f"members/{membership.pk}/"), {"role_id": str(system_role("admin").pk)}
    )

    assert response.status_code == 409
    assert response.json()["code"] == "last_owner"
    assert _membership(tenant, owner).role.slug == "owner"


@pytest.mark.django_db
def test_member_update__one_of_two_owners_steps_down__ok(as_user, tenant, owner):
    member(tenant, "owner")
    membership = _membership(tenant, owner)

    response = as_user(owner).patch(
        _url(tenant, f"members/{membership.pk}/"), {"role_id": str(system_role("admin").pk)}
    )

    assert response.status_code == 200
    assert response.json()["role"]["slug"] == "admin"


@pytest.mark.django_db
def test_member_update__role_of_another_tenant__400_unknown_role(as_user, tenant, other_tenant, owner):
    foreign_role = RoleFactory.create(tenant=other_tenant)
    membership = _membership(tenant, member(tenant))

    response = as_user(owner).patch(
        _url(tenant, f"members/{membership.pk}/"), {"role_id": str(foreign_role.pk)}
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {"role_id": ["No such role."]}


@pytest.mark.django_db
def test_member_update__team_of_another_tenant__400_unknown_team(as_user, tenant, other_tenant, owner):
    foreign_team = TeamFactory.create(tenant=other_tenant)
    membership = _membership(tenant, member(tenant))

    response = as_user(owner).patch(
        _url(tenant, f"members/{membership.pk}/"), {"team_id": str(foreign_team.pk)}
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {"team_id": ["No such team."]}


@pytest.mark.django_db
def test_member_update__assign_then_clear_team(as_user, tenant, owner):
    team = TeamFactory.create(tenant=tenant)
    membership = _membership(tenant, member(tenant))
    client = as_user(owner)

    assigned = client.patch(
        _url(tenant, f"members/{membership.pk}/"), {"team_id": str(team.pk)}, format="json"
    )
    cleared = client.patch(_url(tenant, f"members/{membership.pk}/"), {"team_id": None}, format="json")

    assert assigned.json()["team"]["id"] == str(team.pk)
    assert cleared.json()["team"] is None


@pytest.mark.django_db
def test_member_remove__admin_removes_member__204_and_audited(as_user, tenant, admin):
    user = member(tenant, "member")
    membership = _membership(tenant, user)

    response = as_user(admin).delete(_url(tenant, f"members/{membership.pk}/"))

    assert response.status_code == 204
    with platform_bypass(reason="test", log=False):
        assert not Membership.objects.filter(pk=membership.pk).exists()
    (entry,) = audit_entries("member.removed")
    assert entry.target_label == user.email


@pytest.mark.django_db
def test_member_remove__last_owner__409(as_user, tenant, owner, platform_admin):
    membership = _membership(tenant, owner)

    response = as_user(platform_admin).delete(_url(tenant, f"members/{membership.pk}/"))

    assert response.status_code == 409
    assert response.json()["code"] == "last_owner"


@pytest.mark.django_db
def test_member_remove__removed_user__loses_access_on_the_next_request(as_user, tenant, admin):
    user = member(tenant, "member")
    client = as_user(user)
    assert client.get(_url(tenant, "teams/")).status_code == 200

    as_user(admin).delete(_url(tenant, f"members/{_membership(tenant, user).pk}/"))

    after = client.get(_url(tenant, "teams/"))
    assert after.status_code == 403
    assert after.json()["code"] == "not_a_member"


# --- Roles ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_role_list__system_and_own_custom_roles_only(as_user, tenant, other_tenant, owner):
    RoleFactory.create(tenant=tenant, slug="analyst")
    RoleFactory.create(tenant=other_tenant, slug="foreign")

    response = as_user(owner).get(_url(tenant, "roles/"))

    slugs = [r["slug"] for r in response.json()["results"]]
    assert slugs == ["owner", "admin", "member", "analyst", "viewer"]


@pytest.mark.django_db
def test_role_create__registered_permissions__201_and_usable(as_user, tenant, admin):
    response = as_user(admin).post(
        _url(tenant, "roles/"),
        {"name": "Analyst", "permissions": ["agents:read", "credits:read"], "rank": 15},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["permissions"] == ["agents:read", "credits:read"]
    assert response.json()["is_system"] is False
    assert len(audit_entries("role.created")) == 1


@pytest.mark.django_db
def test_role_create__unregistered_permission__400(as_user, tenant, owner):
    response = as_user(owner).post(
        _url(tenant, "roles/"), {"name": "Hacker", "permissions": ["root:admin"], "rank": 5}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {"permissions": ["Unknown permission: root:admin"]}


@pytest.mark.django_db
def test_role_create__permission_the_admin_lacks__403_permission_not_held(as_user, tenant, admin):
    response = as_user(admin).post(
        _url(tenant, "roles/"),
        {"name": "Co-owner", "permissions": ["tenant:admin"], "rank": 30},
        format="json",
    )

    assert response.status_code == 403
    assert response.json()["code"] == "permission_not_held"


@pytest.mark.django_db
def test_role_create__ranked_above_the_creator__403_rank_too_low(as_user, tenant, admin):
    response = as_user(admin).post(
        _url(tenant, "roles/"), {"name": "Boss", "permissions": ["agents:read"], "rank": 35}, format="json"
    )

    assert response.status_code == 403
    assert response.json()["code"] == "rank_too_low"


@pytest.mark.django_db
def test_role_create__system_slug__400_reserved(as_user, tenant, owner):
    response = as_user(owner).post(
        _url(tenant, "roles/"),
        {"name": "Owner", "slug": "owner", "permissions": [], "rank": 5},
        format="json",
    )

    assert response.status_code == 400
    assert "slug" in response.json()["errors"]


@pytest.mark.django_db
def test_role_update__system_role__403_system_role(as_user, tenant, owner):
    response = as_user(owner).patch(
        _url(tenant, f"roles/{system_role('viewer').pk}/"), {"rank": 12}, format="json"
    )

    assert response.status_code == 403
    assert response.json()["code"] == "system_role"


@pytest.mark.django_db
def test_role_update__custom_role_permissions__changed_and_audited(as_user, tenant, owner):
    role = RoleFactory.create(tenant=tenant, permissions=["agents:read"])

    response = as_user(owner).patch(
        _url(tenant, f"roles/{role.pk}/"), {"permissions": ["agents:read", "agents:write"]}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["permissions"] == ["agents:read", "agents:write"]
    (entry,) = audit_entries("role.updated")
    assert entry.details["changes"]["permissions"]["new"] == ["agents:read", "agents:write"]


@pytest.mark.django_db
def test_role_delete__in_use__409_then_free__204(as_user, tenant, owner):
    role = RoleFactory.create(tenant=tenant)
    holder = MembershipFactory.create(tenant=tenant, role=role)
    client = as_user(owner)

    in_use = client.delete(_url(tenant, f"roles/{role.pk}/"))
    client.delete(_url(tenant, f"members/{holder.pk}/"))
    freed = client.delete(_url(tenant, f"roles/{role.pk}/"))

    assert in_use.status_code == 409
    assert in_use.json()["code"] == "role_in_use"
    assert freed.status_code == 204


@pytest.mark.django_db
def test_custom_role__grants_exactly_its_permissions(as_user, tenant):
    role = RoleFactory.create(tenant=tenant, permissions=["teams:read"], rank=5)
    user = MembershipFactory.create(tenant=tenant, role=role).user
    client = as_user(user)

    teams = client.get(_url(tenant, "teams/"))
    members = client.get(_url(tenant, "members/"))

    assert teams.status_code == 200
    assert members.status_code == 403


# --- The membership read of every tenant request --------------------------------------------------


@pytest.mark.django_db
def test_membership_for__settings_then_membership__instances_as_the_orm_builds_them(tenant, admin):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from core.tenancy import TENANT_SETTING, USER_SETTING, current_tenant_id
    from tenants.selectors import membership_for

    expected = _membership(tenant, admin)
    settings = {TENANT_SETTING: str(tenant.pk), USER_SETTING: str(admin.pk)}
    with CaptureQueriesContext(connection) as queries:
        found = membership_for(user=admin, tenant=tenant.pk, settings=settings)
        assert found is not None
        role, owner_tenant = found.role, found.tenant  # attached: reading them is no query

    # Two statements (pipelined into one round trip): the settings first, then the read under them.
    assert [("set_config" in q["sql"], "tenants_membership" in q["sql"]) for q in queries] == [
        (True, False),
        (False, True),
    ]
    assert current_tenant_id() == tenant.pk
    assert found.pk == expected.pk
    assert found._state.adding is False
    assert found.joined_at == expected.joined_at  # an aware datetime, as the ORM returns it
    assert role.slug == "admin"
    assert role.permissions == expected.role.permissions
    assert owner_tenant.pk == tenant.pk
    assert owner_tenant.resource_limits == tenant.resource_limits  # JSON decoded by the field
    assert isinstance(owner_tenant.model_defaults, dict)
    assert membership_for(user=admin, tenant=TenantFactory.create()) is None


# --- Issue 10, finding 4: assigning a role checks its permissions, not only its rank -------------


def _sec_role(owner_client: Any, tenant: Any) -> str:
    """The attack's role: made by an owner, rank 30 like an admin's, holding tenant:admin."""
    response = owner_client.post(
        _url(tenant, "roles/"),
        {"name": "Security", "slug": "sec", "permissions": ["tenant:admin"], "rank": 30},
        format="json",
    )
    assert response.status_code == 201, response.content
    return str(response.json()["id"])


@pytest.mark.django_db
def test_member_update__admin_assigns_itself_a_role_with_a_permission_it_lacks__403_permission_not_held(
    as_user, tenant, owner, admin
):
    sec = _sec_role(as_user(owner), tenant)
    own = _membership(tenant, admin)
    client = as_user(admin)

    response = client.patch(_url(tenant, f"members/{own.pk}/"), {"role_id": sec}, format="json")
    escalation = client.patch(_url(tenant, ""), {"require_2fa": True}, format="json")

    assert response.status_code == 403, response.content
    assert response.json()["code"] == "permission_not_held"
    assert response.json()["errors"] == {"permissions": ["Not held: tenant:admin"]}
    assert _membership(tenant, admin).role.slug == "admin"
    assert audit_entries("member.role_changed") == []
    # Still an admin: what the role would have opened stays shut.
    assert (escalation.status_code, escalation.json()["code"]) == (403, "missing_permission")
    with platform_bypass(reason="test", log=False):
        tenant.refresh_from_db()
    assert tenant.require_2fa is False


@pytest.mark.django_db
def test_member_update__admin_assigns_a_role_with_a_permission_it_lacks_to_a_member__403_nothing_changed(
    as_user, tenant, owner, admin
):
    sec = _sec_role(as_user(owner), tenant)
    target = _membership(tenant, member(tenant, "member"))

    response = as_user(admin).patch(_url(tenant, f"members/{target.pk}/"), {"role_id": sec}, format="json")

    assert (response.status_code, response.json()["code"]) == (403, "permission_not_held")
    assert _membership(tenant, target.user).role.slug == "member"
    assert audit_entries("member.role_changed") == []


@pytest.mark.django_db
def test_member_update__owner_assigns_the_same_role__200_and_audited(as_user, tenant, owner, admin):
    sec = _sec_role(as_user(owner), tenant)
    target = _membership(tenant, admin)

    response = as_user(owner).patch(_url(tenant, f"members/{target.pk}/"), {"role_id": sec}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["role"]["slug"] == "sec"
    assert _membership(tenant, admin).role.slug == "sec"
    (entry,) = audit_entries("member.role_changed")
    assert entry.details["changes"]["role"] == {"old": "admin", "new": "sec"}


# --- Issue 10, finding 9: a role named by an invite can be deleted once no pending invite names it --


def _invites_url(tenant: Any, path: str = "") -> str:
    return _url(tenant, f"invites/{path}")


def _role_exists(role_id: Any) -> bool:
    with platform_bypass(reason="test", log=False):
        return Role.objects.filter(pk=role_id).exists()


@pytest.mark.django_db
def test_role_delete__named_by_a_pending_invite__409_role_in_use_then_revoked__204_and_invite_role_null(
    as_user, tenant, owner
):
    role = RoleFactory.create(tenant=tenant)
    invite = InviteFactory.create(tenant=tenant, role=role, invited_by=owner)
    client = as_user(owner)

    pending = client.delete(_url(tenant, f"roles/{role.pk}/"))
    assert pending.status_code == 409, pending.content
    assert pending.json()["code"] == "role_in_use"
    assert _role_exists(role.pk)
    assert audit_entries("role.deleted") == []

    revoked = client.post(_invites_url(tenant, f"{invite.pk}/revoke"))
    assert revoked.status_code == 200, revoked.content
    freed = client.delete(_url(tenant, f"roles/{role.pk}/"))
    listing = client.get(_invites_url(tenant))

    assert freed.status_code == 204, freed.content
    assert not _role_exists(role.pk)
    assert [e.target_id for e in audit_entries("role.deleted")] == [str(role.pk)]
    assert listing.status_code == 200, listing.content
    (row,) = listing.json()["results"]
    assert (row["id"], row["status"], row["role"]) == (str(invite.pk), "revoked", None)


@pytest.mark.django_db
def test_role_delete__named_by_an_accepted_invite__deletable_once_no_member_holds_it(
    as_user, api_client, tenant, owner
):
    role = RoleFactory.create(tenant=tenant)
    invite = InviteFactory.create(
        tenant=tenant,
        role=role,
        invited_by=owner,
        email="joiner@example.com",
        token_hash=hashlib.sha256(b"finding-9-token").hexdigest(),
    )
    accepted = api_client.post(
        "/api/v1/invites/accept", {"token": "finding-9-token", "password": "a-long-and-unusual-passphrase-77"}
    )
    assert accepted.status_code == 200, accepted.content
    client = as_user(owner)

    held = client.delete(_url(tenant, f"roles/{role.pk}/"))
    assert (held.status_code, held.json()["code"]) == (409, "role_in_use")
    assert _role_exists(role.pk)

    membership_id = accepted.json()["membership_id"]
    moved = client.patch(
        _url(tenant, f"members/{membership_id}/"), {"role_id": str(system_role("viewer").pk)}, format="json"
    )
    assert moved.status_code == 200, moved.content
    freed = client.delete(_url(tenant, f"roles/{role.pk}/"))
    listing = client.get(_invites_url(tenant))

    assert freed.status_code == 204, freed.content
    assert not _role_exists(role.pk)
    assert listing.status_code == 200, listing.content
    (row,) = listing.json()["results"]
    assert (row["id"], row["status"], row["role"]) == (str(invite.pk), "accepted", None)


@pytest.mark.django_db
def test_role_delete__named_only_by_an_expired_pending_invite__204(as_user, tenant, owner):
    role = RoleFactory.create(tenant=tenant)
    InviteFactory.create(
        tenant=tenant, role=role, invited_by=owner, expires_at=timezone.now() - timedelta(minutes=1)
    )

    response = as_user(owner).delete(_url(tenant, f"roles/{role.pk}/"))

    assert response.status_code == 204, response.content
    assert not _role_exists(role.pk)
