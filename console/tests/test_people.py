"""The people pages (members, invites, roles, teams, API keys, the user's sessions): what each
role sees and may press, each action through its service with its audit entry, the services'
refusals shown in place, another tenant's ids answered with the 404 page, query counts pinned."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.api_key_auth import hash_key
from accounts.models import ApiKey, Role, UserSession
from accounts.tests.factories import ApiKeyFactory, UserFactory
from audit.models import AuditLogEntry
from console.tests.conftest import enrol, sign_in
from core.tenancy import platform_bypass
from tenants.models import Invite, InviteStatus, Membership, Team, TenantStatus
from tenants.tests.factories import InviteFactory, RoleFactory, TeamFactory, member, system_role

pytestmark = pytest.mark.django_db


def _url(tenant: Any, rest: str = "") -> str:
    return f"/t/{tenant.pk}/{rest}"


def _main(response: Any) -> str:
    """The page's main part (the header's menus aside)."""
    body = response.content.decode()
    return body.split('<main id="main"', 1)[1].split("</main>", 1)[0] if "<main" in body else body


def _audit(tenant: Any) -> list[str]:
    with platform_bypass(reason="test", log=False):
        return list(AuditLogEntry.objects.filter(tenant=tenant).values_list("action", flat=True))


def _membership(tenant: Any, user: Any) -> Membership:
    with platform_bypass(reason="test", log=False):
        return Membership.objects.select_related("role", "team").get(tenant=tenant, user=user)


def _statements(captured: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]


def _count(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return len(_statements(captured))


@pytest.fixture
def admin(tenant: Any) -> Any:
    return member(tenant, "admin")


# --- Members ----------------------------------------------------------------------------------


def test_members__owner__each_member_with_role_team_2fa_and_last_seen_in_tenant_time(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    team = TeamFactory.create(tenant=tenant, name="Research")
    enrolled = member(
        tenant, "admin", user__email="ada@acme.example", user__full_name="Ada Lovelace", team=team
    )
    enrol(enrolled)
    with platform_bypass(reason="test", log=False):
        type(enrolled).objects.filter(pk=enrolled.pk).update(
            last_seen_at=timezone.now() - timedelta(hours=3, minutes=5)
        )
    member(tenant, "viewer", user__email="vic@acme.example")
    response = signed_in(owner).get(_url(tenant, "members/"))
    main = _main(response)
    assert response.status_code == 200
    assert "3 members" in main
    assert "Ada Lovelace" in main
    assert "ada@acme.example" in main
    assert "3\xa0hours ago" in main  # timesince's no-break space
    assert 'badge badge-ok">On' in main  # Ada's 2FA
    assert main.count('badge badge-warn">Off') == 2
    ada_row = main.split(f'id="member-{_membership(tenant, enrolled).pk}"')[1].split("</tr>")[0]
    assert f'<option value="{team.pk}" selected>Research</option>' in ada_row
    assert "CEST" in main or "CET" in main  # the last-seen title, in Berlin time
    assert "Remove…" in main


def test_members__viewer__list_without_any_button(signed_in: Any, tenant: Any, owner: Any) -> None:
    viewer = member(tenant, "viewer")
    main = _main(signed_in(viewer).get(_url(tenant, "members/")))
    assert owner.email in main
    assert "<select" not in main
    assert "Remove" not in main
    assert "Invite someone" not in main
    assert "<button" not in main.split("</form>", 1)[1]  # the search's button aside


def test_members__admin__no_form_for_the_owner_and_only_roles_they_may_grant(
    signed_in: Any, tenant: Any, owner: Any, admin: Any
) -> None:
    member(tenant, "member")
    main = _main(signed_in(admin).get(_url(tenant, "members/")))
    owner_row = main.split(f'id="member-{_membership(tenant, owner).pk}"')[1].split("</tr>")[0]
    assert "<select" not in owner_row
    assert "Remove" not in owner_row
    assert ">Owner</option>" not in main  # the admin cannot hand out the owner role
    assert ">Admin</option>" in main
    assert ">Viewer</option>" in main


def test_member_update__owner_changes_a_role__moved_audited_and_redirected(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    bob = member(tenant, "viewer", user__email="bob@acme.example")
    team = TeamFactory.create(tenant=tenant, name="Ops")
    membership = _membership(tenant, bob)
    client = signed_in(owner)
    prefix = f"m-{membership.pk}"
    response = client.post(
        _url(tenant, f"members/{membership.pk}/"),
        {f"{prefix}-role": str(system_role("member").pk), f"{prefix}-team": str(team.pk)},
    )
    assert response.status_code == 302
    assert response["Location"] == _url(tenant, "members/")
    after = _membership(tenant, bob)
    assert (after.role.slug, after.team_id) == ("member", team.pk)
    assert "member.role_changed" in _audit(tenant)
    assert "bob@acme.example is now Member in Ops." in client.get(_url(tenant, "members/")).content.decode()


def test_member_update__htmx__the_list_alone_with_a_notice(signed_in: Any, tenant: Any, owner: Any) -> None:
    bob = member(tenant, "viewer")
    membership = _membership(tenant, bob)
    prefix = f"m-{membership.pk}"
    response = signed_in(owner).post(
        _url(tenant, f"members/{membership.pk}/"),
        {f"{prefix}-role": str(system_role("admin").pk), f"{prefix}-team": ""},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section class="panel" id="members"')
    assert "<html" not in body
    assert f"{bob.email} is now Admin." in body
    assert _membership(tenant, bob).role.slug == "admin"


def test_member_update__admin_grants_a_custom_role_with_tenant_admin__refusal_shown_in_place(
    signed_in: Any, tenant: Any, owner: Any, admin: Any
) -> None:
    # A rank-20 custom role with tenant:admin, which no admin holds: not offered, and refused
    # by the service when posted all the same.
    sneaky = RoleFactory.create(
        tenant=tenant, name="Sneaky", slug="sneaky", rank=20, permissions=["tenant:admin"]
    )
    bob = member(tenant, "viewer")
    membership = _membership(tenant, bob)
    client = signed_in(admin)
    assert ">Sneaky</option>" not in _main(client.get(_url(tenant, "members/")))
    prefix = f"m-{membership.pk}"
    response = client.post(
        _url(tenant, f"members/{membership.pk}/"), {f"{prefix}-role": str(sneaky.pk), f"{prefix}-team": ""}
    )
    # The form's choices are the tenant's roles; the service refuses what the admin does not hold.
    assert response.status_code == 403
    assert "Not held: tenant:admin" in response.content.decode()
    assert _membership(tenant, bob).role.slug == "viewer"


def test_member_update__last_owner_demoted__conflict_in_place(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    membership = _membership(tenant, owner)
    prefix = f"m-{membership.pk}"
    response = signed_in(owner).post(
        _url(tenant, f"members/{membership.pk}/"),
        {f"{prefix}-role": str(system_role("viewer").pk), f"{prefix}-team": ""},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 409
    assert "The last owner cannot be demoted" in response.content.decode()
    assert 'aria-invalid="true"' in response.content.decode()
    assert _membership(tenant, owner).role.slug == "owner"


@pytest.mark.parametrize(
    ("role", "team", "message"),
    [
        ("not-a-role", "", "Select a valid choice."),
        ("", "", "This field is required."),
        ("\x00", "", "Select a valid choice."),
    ],
)
def test_member_update__bad_input__400_with_the_error_in_place(
    signed_in: Any, tenant: Any, owner: Any, role: str, team: str, message: str
) -> None:
    bob = member(tenant, "viewer")
    membership = _membership(tenant, bob)
    prefix = f"m-{membership.pk}"
    response = signed_in(owner).post(
        _url(tenant, f"members/{membership.pk}/"), {f"{prefix}-role": role, f"{prefix}-team": team}
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert _membership(tenant, bob).role.slug == "viewer"


def test_member_update__another_tenants_role_or_member__refused_nothing_moves(
    signed_in: Any, tenant: Any, owner: Any, other_tenant: Any
) -> None:
    theirs = RoleFactory.create(tenant=other_tenant, name="Theirs", slug="theirs", rank=10, permissions=[])
    outsider = member(other_tenant, "viewer")
    bob = member(tenant, "viewer")
    membership = _membership(tenant, bob)
    client = signed_in(owner)
    prefix = f"m-{membership.pk}"
    response = client.post(
        _url(tenant, f"members/{membership.pk}/"), {f"{prefix}-role": str(theirs.pk), f"{prefix}-team": ""}
    )
    assert response.status_code == 400
    foreign = _membership(other_tenant, outsider)
    response = client.post(_url(tenant, f"members/{foreign.pk}/"), {})
    assert response.status_code == 404
    assert "There is no such member in this tenant." in response.content.decode()
    assert client.post(_url(tenant, f"members/{foreign.pk}/remove/")).status_code == 404
    assert _membership(other_tenant, outsider).role.slug == "viewer"


def test_member_update__viewer__403_and_nothing_moves(signed_in: Any, tenant: Any, owner: Any) -> None:
    viewer = member(tenant, "viewer")
    membership = _membership(tenant, owner)
    prefix = f"m-{membership.pk}"
    client = signed_in(viewer)
    response = client.post(
        _url(tenant, f"members/{membership.pk}/"), {f"{prefix}-role": str(system_role("viewer").pk)}
    )
    assert response.status_code == 403
    assert "members:write" in response.content.decode()
    assert client.post(_url(tenant, f"members/{membership.pk}/remove/")).status_code == 403
    assert _membership(tenant, owner).role.slug == "owner"


def test_member_remove__owner_removes_a_member__gone_and_audited(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    bob = member(tenant, "member", user__email="bob@acme.example")
    membership = _membership(tenant, bob)
    client = signed_in(owner)
    response = client.post(_url(tenant, f"members/{membership.pk}/remove/"))
    assert response.status_code == 302
    with platform_bypass(reason="test", log=False):
        assert not Membership.objects.filter(pk=membership.pk).exists()
    assert "member.removed" in _audit(tenant)
    assert (
        "Removed bob@acme.example from the tenant." in client.get(_url(tenant, "members/")).content.decode()
    )


def test_member_remove__last_owner__409_with_the_reason(signed_in: Any, tenant: Any, owner: Any) -> None:
    membership = _membership(tenant, owner)
    response = signed_in(owner).post(_url(tenant, f"members/{membership.pk}/remove/"))
    assert response.status_code == 409
    assert "The last owner cannot be removed." in response.content.decode()


def test_members__another_tenant__403_page_without_its_people(
    signed_in: Any, owner: Any, other_tenant: Any
) -> None:
    outsider = member(other_tenant, "owner", user__email="secret@globex.example")
    response = signed_in(owner).get(_url(other_tenant, "members/"))
    assert response.status_code == 403
    assert outsider.email not in response.content.decode()
    assert "Globex" not in response.content.decode()


def test_members__query_count__does_not_grow_with_the_rows(signed_in: Any, tenant: Any, owner: Any) -> None:
    client = signed_in(owner)
    client.get(_url(tenant, "members/"))  # warm
    few = _count(client, _url(tenant, "members/"))
    team = TeamFactory.create(tenant=tenant)
    for role in ("admin", "member", "viewer", "viewer", "member"):
        enrol(member(tenant, role, team=team))
    RoleFactory.create(tenant=tenant, name="Auditor", slug="auditor", rank=10, permissions=["audit:read"])
    assert _count(client, _url(tenant, "members/")) == few
    # Session, accounts session, gate; members, roles, teams; the switcher.
    assert few == 8


# --- Invites ----------------------------------------------------------------------------------


def test_invites__list_by_status_in_tenant_time(signed_in: Any, tenant: Any, owner: Any) -> None:
    InviteFactory.create(tenant=tenant, email="pending@x.example", invited_by=owner)
    InviteFactory.create(
        tenant=tenant, email="late@x.example", invited_by=owner, expires_at=timezone.now() - timedelta(days=1)
    )
    InviteFactory.create(tenant=tenant, email="gone@x.example", invited_by=owner, status=InviteStatus.REVOKED)
    client = signed_in(owner)
    main = _main(client.get(_url(tenant, "invites/")))
    assert "pending@x.example" in main
    assert "late@x.example" in main
    assert "gone@x.example" in main
    assert main.count("Revoke…") == 1  # only the pending one
    assert "CET" in main or "CEST" in main
    expired = _main(client.get(_url(tenant, "invites/"), {"status": "expired"}))
    assert "late@x.example" in expired
    assert "pending@x.example" not in expired
    unknown = client.get(_url(tenant, "invites/"), {"status": "bogus"})
    assert unknown.status_code == 200
    assert "pending@x.example" in _main(unknown)  # an unknown status filters nothing out
    assert client.get(_url(tenant, "invites/"), {"status": "\x00"}).status_code == 400


def test_invite_create__owner__invite_created_audited_and_mailed(
    signed_in: Any, tenant: Any, owner: Any, mailoutbox: Any
) -> None:
    team = TeamFactory.create(tenant=tenant, name="Ops")
    client = signed_in(owner)
    response = client.post(
        _url(tenant, "invites/new/"),
        {"email": "New.Person@Example.com", "role": str(system_role("admin").pk), "team": str(team.pk)},
    )
    assert response.status_code == 302
    with platform_bypass(reason="test", log=False):
        invite = Invite.objects.get(tenant=tenant)
    assert invite.role is not None
    assert (invite.email, invite.role.slug, invite.team_id) == ("new.person@example.com", "admin", team.pk)
    assert "invite.created" in _audit(tenant)
    page = client.get(_url(tenant, "invites/")).content.decode()
    assert "Invited new.person@example.com as Admin" in page


def test_invite_create__htmx__form_and_list_swapped_together(signed_in: Any, tenant: Any, owner: Any) -> None:
    response = signed_in(owner).post(
        _url(tenant, "invites/new/"),
        {"email": "ann@example.com", "role": str(system_role("member").pk), "team": ""},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#invites-main"
    assert body.lstrip().startswith('<div id="invites-main">')
    assert "ann@example.com" in body.split('id="invites"', 1)[1]


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"email": "not an address", "role": "member"}, 400, "Enter a valid email address."),
        ({"email": "a\x00b@example.com", "role": "member"}, 400, "Null characters are not allowed."),
        ({"email": "x@example.com", "role": "owner"}, 400, "Select a valid choice."),  # an admin's
    ],
)
def test_invite_create__bad_input__error_in_place_nothing_written(
    signed_in: Any, tenant: Any, admin: Any, data: dict[str, str], status: int, message: str
) -> None:
    data = {**data, "role": str(system_role(data["role"]).pk)}
    response = signed_in(admin).post(_url(tenant, "invites/new/"), data)
    assert response.status_code == status
    assert message in response.content.decode()
    with platform_bypass(reason="test", log=False):
        assert not Invite.objects.filter(tenant=tenant).exists()


def test_invite_create__already_member__conflict_on_the_email_field(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    bob = member(tenant, "viewer")
    response = signed_in(owner).post(
        _url(tenant, "invites/new/"), {"email": bob.email, "role": str(system_role("member").pk)}
    )
    assert response.status_code == 409
    assert "This person is already a member." in response.content.decode()
    assert 'id="id_email_error"' in response.content.decode()


def test_invite_revoke__pending__revoked_and_audited_another_tenants__404(
    signed_in: Any, tenant: Any, owner: Any, other_tenant: Any
) -> None:
    invite = InviteFactory.create(tenant=tenant, email="p@x.example", invited_by=owner)
    theirs = InviteFactory.create(
        tenant=other_tenant, email="t@x.example", invited_by=member(other_tenant, "owner")
    )
    client = signed_in(owner)
    assert client.post(_url(tenant, f"invites/{invite.pk}/revoke/")).status_code == 302
    assert client.post(_url(tenant, f"invites/{theirs.pk}/revoke/")).status_code == 404
    with platform_bypass(reason="test", log=False):
        assert Invite.objects.get(pk=invite.pk).status == InviteStatus.REVOKED
        assert Invite.objects.get(pk=theirs.pk).status == InviteStatus.PENDING
    assert "invite.revoked" in _audit(tenant)
    again = client.post(_url(tenant, f"invites/{invite.pk}/revoke/"))
    assert again.status_code == 409
    assert "not pending" in again.content.decode()


def test_invites__viewer__list_without_form_or_buttons(signed_in: Any, tenant: Any, owner: Any) -> None:
    InviteFactory.create(tenant=tenant, email="p@x.example", invited_by=owner)
    client = signed_in(member(tenant, "viewer"))
    main = _main(client.get(_url(tenant, "invites/")))
    assert "p@x.example" in main
    assert "<form" not in main
    assert "<button" not in main
    response = client.post(_url(tenant, "invites/new/"), {"email": "x@example.com"})
    assert response.status_code == 403


def test_invites__query_count__does_not_grow_with_the_rows(signed_in: Any, tenant: Any, owner: Any) -> None:
    client = signed_in(owner)
    client.get(_url(tenant, "invites/"))
    few = _count(client, _url(tenant, "invites/"))
    team = TeamFactory.create(tenant=tenant)
    for index in range(4):
        InviteFactory.create(tenant=tenant, email=f"p{index}@x.example", invited_by=owner, team=team)
    assert _count(client, _url(tenant, "invites/")) == few


# --- Roles ------------------------------------------------------------------------------------


def _role_data(**overrides: Any) -> dict[str, Any]:
    return {"name": "Auditor", "slug": "", "description": "Reads the trail", "rank": "15",
            "permissions": ["audit:read", "members:read"], **overrides}  # fmt: skip


def test_roles__owner__system_and_custom_roles_with_rank_and_permissions(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    RoleFactory.create(tenant=tenant, name="Auditor", slug="auditor", rank=15, permissions=["audit:read"])
    main = _main(signed_in(owner).get(_url(tenant, "roles/")))
    for name in ("Owner", "Admin", "Member", "Viewer", "Auditor"):
        assert f">{name}</h2>" in main
    assert "rank 15 · 1 permission" in main
    assert main.count("Edit</a>") == 1  # the custom one only
    assert "New custom role" in main


def test_role_create__owner__created_with_grouped_permissions_and_audited(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    client = signed_in(owner)
    form = client.get(_url(tenant, "roles/new/")).content.decode()
    assert "<legend>audit</legend>" in form
    assert 'value="audit:read"' in form
    response = client.post(_url(tenant, "roles/new/"), _role_data())
    assert response.status_code == 302
    with platform_bypass(reason="test", log=False):
        role = Role.objects.get(tenant=tenant, slug="auditor")
    assert (role.rank, role.permissions) == (15, ["audit:read", "members:read"])
    assert "role.created" in _audit(tenant)


def test_role_create__admin_hands_out_tenant_admin__refused_in_place(
    signed_in: Any, tenant: Any, admin: Any
) -> None:
    client = signed_in(admin)
    form = client.get(_url(tenant, "roles/new/")).content.decode()
    assert 'value="tenant:admin" disabled' in form
    response = client.post(_url(tenant, "roles/new/"), _role_data(permissions=["tenant:admin"]))
    assert response.status_code == 403
    assert "Not held: tenant:admin" in response.content.decode()
    too_high = client.post(_url(tenant, "roles/new/"), _role_data(rank="35"))
    assert too_high.status_code == 403
    assert "You cannot hand out a rank above your own." in too_high.content.decode()
    with platform_bypass(reason="test", log=False):
        assert not Role.objects.filter(tenant=tenant).exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"rank": "99999999999999999999"}, "Ensure this value is less than or equal to 40."),
        ({"name": "x\x00y"}, "Null characters are not allowed."),
        ({"permissions": ["nope:read"]}, "Select a valid choice."),
        ({"slug": "owner"}, "This slug is reserved for a system role."),
    ],
)
def test_role_create__bad_input__400_error_in_place(
    signed_in: Any, tenant: Any, owner: Any, overrides: dict[str, Any], message: str
) -> None:
    response = signed_in(owner).post(_url(tenant, "roles/new/"), _role_data(**overrides))
    assert response.status_code == 400
    assert message in response.content.decode()


def test_role_edit_and_delete__custom_role__changed_then_deleted_audited(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    role = RoleFactory.create(
        tenant=tenant, name="Auditor", slug="auditor", rank=15, permissions=["audit:read"]
    )
    client = signed_in(owner)
    page = client.get(_url(tenant, f"roles/{role.pk}/edit/")).content.decode()
    assert 'value="audit:read" checked' in page
    response = client.post(_url(tenant, f"roles/{role.pk}/edit/"), _role_data(name="Auditors", rank="12"))
    assert response.status_code == 302
    role.refresh_from_db()
    assert (role.name, role.rank) == ("Auditors", 12)
    assert client.post(_url(tenant, f"roles/{role.pk}/delete/")).status_code == 302
    with platform_bypass(reason="test", log=False):
        assert not Role.objects.filter(pk=role.pk).exists()
    assert {"role.updated", "role.deleted"} <= set(_audit(tenant))


def test_role_delete__held_by_a_member__kept_with_the_reason(signed_in: Any, tenant: Any, owner: Any) -> None:
    role = RoleFactory.create(tenant=tenant, name="Auditor", slug="auditor", rank=15, permissions=[])
    with platform_bypass(reason="test", log=False):
        Membership.objects.create(tenant=tenant, user=UserFactory.create(), role=role)
    client = signed_in(owner)
    response = client.post(_url(tenant, f"roles/{role.pk}/delete/"), follow=True)
    assert "Members still hold this role" in response.content.decode()
    with platform_bypass(reason="test", log=False):
        assert Role.objects.filter(pk=role.pk).exists()


def test_role_edit__system_or_other_tenants_role__404(
    signed_in: Any, tenant: Any, owner: Any, other_tenant: Any
) -> None:
    theirs = RoleFactory.create(tenant=other_tenant, name="Theirs", slug="theirs", rank=10, permissions=[])
    client = signed_in(owner)
    assert client.get(_url(tenant, f"roles/{system_role('admin').pk}/edit/")).status_code == 404
    assert client.get(_url(tenant, f"roles/{theirs.pk}/edit/")).status_code == 404
    assert client.post(_url(tenant, f"roles/{theirs.pk}/delete/")).status_code == 404


def test_roles__viewer__read_only_and_403_on_writes(signed_in: Any, tenant: Any) -> None:
    RoleFactory.create(tenant=tenant, name="Auditor", slug="auditor", rank=15, permissions=[])
    client = signed_in(member(tenant, "viewer"))
    main = _main(client.get(_url(tenant, "roles/")))
    assert "Auditor" in main
    assert "Edit" not in main
    assert "<button" not in main
    assert "New custom role" not in main
    assert client.get(_url(tenant, "roles/new/")).status_code == 403


def test_roles__query_count__does_not_grow_with_the_rows(signed_in: Any, tenant: Any, owner: Any) -> None:
    client = signed_in(owner)
    client.get(_url(tenant, "roles/"))
    few = _count(client, _url(tenant, "roles/"))
    for index in range(4):
        RoleFactory.create(
            tenant=tenant, name=f"R{index}", slug=f"r{index}", rank=10, permissions=["teams:read"]
        )
    assert _count(client, _url(tenant, "roles/")) == few


# --- Teams ------------------------------------------------------------------------------------


def test_teams__create_rename_delete__each_audited(signed_in: Any, tenant: Any, owner: Any) -> None:
    client = signed_in(owner)
    empty = _main(client.get(_url(tenant, "teams/")))
    assert "No teams yet." in empty
    assert client.post(_url(tenant, "teams/new/"), {"name": "Research", "description": ""}).status_code == 302
    with platform_bypass(reason="test", log=False):
        team = Team.objects.get(tenant=tenant)
    main = _main(client.get(_url(tenant, "teams/")))
    assert "Created the team Research." in main
    assert 'data-testid="teams"' in main
    response = client.post(
        _url(tenant, f"teams/{team.pk}/rename/"),
        {f"t-{team.pk}-name": "R&D", f"t-{team.pk}-description": "Lab"},
    )
    assert response.status_code == 302
    team.refresh_from_db()
    assert (team.name, team.description) == ("R&D", "Lab")
    assert client.post(_url(tenant, f"teams/{team.pk}/delete/")).status_code == 302
    with platform_bypass(reason="test", log=False):
        assert not Team.objects.filter(pk=team.pk).exists()
    assert {"team.created", "team.updated", "team.deleted"} <= set(_audit(tenant))


def test_team_create__bad_or_duplicate_name__error_in_place(signed_in: Any, tenant: Any, owner: Any) -> None:
    TeamFactory.create(tenant=tenant, name="Research", slug="research")
    client = signed_in(owner)
    duplicate = client.post(_url(tenant, "teams/new/"), {"name": "Research"})
    assert duplicate.status_code == 400
    assert "A team with this slug exists." in duplicate.content.decode()
    blank = client.post(_url(tenant, "teams/new/"), {"name": ""})
    assert blank.status_code == 400
    assert "This field is required." in blank.content.decode()
    renamed = client.post(_url(tenant, f"teams/{_team_pk(tenant)}/rename/"), {})
    assert renamed.status_code == 400
    assert "was not renamed" in renamed.content.decode()


def _team_pk(tenant: Any) -> Any:
    with platform_bypass(reason="test", log=False):
        return Team.objects.get(tenant=tenant).pk


def test_team__add_and_take_out_members__moved_and_audited(signed_in: Any, tenant: Any, owner: Any) -> None:
    team = TeamFactory.create(tenant=tenant, name="Ops")
    bob = member(tenant, "member", user__email="bob@acme.example")
    membership = _membership(tenant, bob)
    client = signed_in(owner)
    page = _main(client.get(_url(tenant, f"teams/{team.pk}/")))
    assert "Nobody in Ops yet." in page
    assert "bob@acme.example" in page
    added = client.post(
        _url(tenant, f"teams/{team.pk}/members/"), {"membership": str(membership.pk)}, HTTP_HX_REQUEST="true"
    )
    assert added.status_code == 200
    assert "Added bob@acme.example to Ops." in added.content.decode()
    assert _membership(tenant, bob).team_id == team.pk
    out = client.post(_url(tenant, f"teams/{team.pk}/members/{membership.pk}/remove/"))
    assert out.status_code == 302
    assert _membership(tenant, bob).team_id is None
    assert _audit(tenant).count("member.updated") == 2


def test_team__other_tenants_team_or_member__404(
    signed_in: Any, tenant: Any, owner: Any, other_tenant: Any
) -> None:
    theirs = TeamFactory.create(tenant=other_tenant, name="Skunkworks")
    mine = TeamFactory.create(tenant=tenant, name="Ops")
    outsider = _membership(other_tenant, member(other_tenant, "viewer"))
    client = signed_in(owner)
    response = client.get(_url(tenant, f"teams/{theirs.pk}/"))
    assert response.status_code == 404
    assert "Skunkworks" not in response.content.decode()
    assert client.post(_url(tenant, f"teams/{theirs.pk}/delete/")).status_code == 404
    bad = client.post(_url(tenant, f"teams/{mine.pk}/members/"), {"membership": str(outsider.pk)})
    assert bad.status_code == 400
    assert client.post(_url(tenant, f"teams/{mine.pk}/members/{outsider.pk}/remove/")).status_code == 404


def test_teams__viewer__no_buttons_and_403_on_writes(signed_in: Any, tenant: Any) -> None:
    team = TeamFactory.create(tenant=tenant, name="Ops")
    client = signed_in(member(tenant, "viewer"))
    assert "<button" not in _main(client.get(_url(tenant, "teams/")))
    assert "<button" not in _main(client.get(_url(tenant, f"teams/{team.pk}/")))
    assert client.post(_url(tenant, "teams/new/"), {"name": "X"}).status_code == 403


def test_teams__query_count__does_not_grow_with_the_rows(signed_in: Any, tenant: Any, owner: Any) -> None:
    team = TeamFactory.create(tenant=tenant)
    client = signed_in(owner)
    client.get(_url(tenant, "teams/"))
    few_list = _count(client, _url(tenant, "teams/"))
    few_team = _count(client, _url(tenant, f"teams/{team.pk}/"))
    for index in range(3):
        TeamFactory.create(tenant=tenant, name=f"T{index}", slug=f"t{index}")
        member(tenant, "member", team=team)
        member(tenant, "viewer")
    assert _count(client, _url(tenant, "teams/")) == few_list
    assert _count(client, _url(tenant, f"teams/{team.pk}/")) == few_team


# --- API keys ---------------------------------------------------------------------------------


def _key_data(**overrides: Any) -> dict[str, Any]:
    data = {"name": "CI runner", "scopes": ["agents:read", "credits:write"], "expires_at": ""}
    return {**data, "allowed_ips": "10.0.0.0/8\n192.168.1.7", "rate_limit_per_minute": "120", **overrides}


def test_api_key_create__owner__key_shown_once_then_gone_stored_as_hash_audited(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    client = signed_in(owner)
    form = client.get(_url(tenant, "api-keys/new/")).content.decode()
    assert "<legend>agents</legend>" in form
    response = client.post(_url(tenant, "api-keys/new/"), _key_data(expires_at="2099-01-31T12:00"))
    assert response.status_code == 302
    with platform_bypass(reason="test", log=False):
        key = ApiKey.objects.get(tenant=tenant)
    assert response["Location"] == _url(tenant, f"api-keys/{key.pk}/created/")
    shown = client.get(response["Location"])
    assert shown["Cache-Control"] == "no-store"
    raw = shown.content.decode().split('data-testid="new-key"')[0].rsplit('value="', 1)[1].split('"')[0]
    assert raw.startswith(key.prefix)
    assert hash_key(raw) == key.key_hash
    assert (key.scopes, key.allowed_ips, key.rate_limit_per_minute) == (
        ["agents:read", "credits:write"],
        ["10.0.0.0/8", "192.168.1.7/32"],
        120,
    )
    assert key.expires_at is not None
    assert key.expires_at.hour == 11
    again = client.get(response["Location"]).content.decode()
    assert raw not in again
    assert "The key is no longer shown" in again
    assert raw not in client.get(_url(tenant, "api-keys/")).content.decode()
    assert "api_key.created" in _audit(tenant)


def test_api_key_create__scope_not_held_or_bad_input__refused_in_place(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    client = signed_in(member(tenant, "member"))
    held_not = client.post(_url(tenant, "api-keys/new/"), _key_data(scopes=["agents:read"]))
    assert held_not.status_code == 403  # a member has no api_keys:write
    client = signed_in(owner)
    for data, message in (
        (_key_data(scopes=[]), "Choose at least one scope."),
        (_key_data(allowed_ips="not-an-ip"), "Not an IP address or CIDR range"),
        (_key_data(expires_at="2001-01-01T00:00"), "Must be in the future."),
        (_key_data(rate_limit_per_minute="1e99"), "Enter a whole number."),
        (_key_data(name="\x00"), "Null characters are not allowed."),
    ):
        response = client.post(_url(tenant, "api-keys/new/"), data)
        assert response.status_code == 400, (data, response.status_code)
        assert message in response.content.decode()
    with platform_bypass(reason="test", log=False):
        assert not ApiKey.objects.filter(tenant=tenant).exists()


def test_api_key_create__admin_asks_for_a_scope_it_lacks__refused_on_the_scopes(
    signed_in: Any, tenant: Any, admin: Any
) -> None:
    response = signed_in(admin).post(_url(tenant, "api-keys/new/"), _key_data(scopes=["tenant:admin"]))
    assert response.status_code == 403
    assert "Not held: tenant:admin" in response.content.decode()


def test_api_keys__list_status_last_used_and_revoke(signed_in: Any, tenant: Any, owner: Any) -> None:
    live = ApiKeyFactory.create(tenant=tenant, created_by=owner, name="Live", last_used_at=timezone.now())
    ApiKeyFactory.create(
        tenant=tenant, created_by=owner, name="Old", expires_at=timezone.now() - timedelta(days=1)
    )
    client = signed_in(owner)
    main = _main(client.get(_url(tenant, "api-keys/")))
    assert 'badge badge-ok">Active' in main
    assert 'badge badge-warn">Expired' in main
    assert "just now" in main
    assert client.post(_url(tenant, f"api-keys/{live.pk}/revoke/")).status_code == 302
    live.refresh_from_db()
    assert live.revoked_at is not None
    assert "api_key.revoked" in _audit(tenant)
    again = client.post(_url(tenant, f"api-keys/{live.pk}/revoke/"), follow=True)
    assert "already revoked" in again.content.decode()


def test_api_keys__member_sees_keys_without_buttons_viewer_gets_403(
    signed_in: Any, tenant: Any, owner: Any, other_tenant: Any
) -> None:
    key = ApiKeyFactory.create(tenant=tenant, created_by=owner, name="Live")
    theirs = ApiKeyFactory.create(
        tenant=other_tenant, created_by=member(other_tenant, "owner"), name="Theirs"
    )
    client = signed_in(member(tenant, "member"))
    main = _main(client.get(_url(tenant, "api-keys/")))
    assert "Live" in main
    assert "<button" not in main
    assert "New API key" not in main
    assert client.post(_url(tenant, f"api-keys/{key.pk}/revoke/")).status_code == 403
    assert signed_in(member(tenant, "viewer")).get(_url(tenant, "api-keys/")).status_code == 403
    owner_client = signed_in(owner)
    assert owner_client.post(_url(tenant, f"api-keys/{theirs.pk}/revoke/")).status_code == 404
    assert owner_client.get(_url(tenant, f"api-keys/{theirs.pk}/created/")).status_code == 404
    with platform_bypass(reason="test", log=False):
        theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_api_keys__query_count__does_not_grow_with_the_rows(signed_in: Any, tenant: Any, owner: Any) -> None:
    client = signed_in(owner)
    client.get(_url(tenant, "api-keys/"))
    few = _count(client, _url(tenant, "api-keys/"))
    for index in range(4):
        ApiKeyFactory.create(tenant=tenant, created_by=member(tenant, "admin"), name=f"K{index}")
    assert _count(client, _url(tenant, "api-keys/")) == few


# --- Sessions and devices ---------------------------------------------------------------------


def test_devices__sessions_listed_current_marked_another_ended(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    phone = Client()
    sign_in(phone, owner)
    laptop = signed_in(owner)
    main = _main(laptop.get("/account/sessions/"))
    assert "2 live sessions" in main
    assert main.count("this session") == 1
    with platform_bypass(reason="test", log=False):
        sessions = list(
            UserSession.objects.filter(user=owner, revoked_at__isnull=True).order_by("created_at")
        )
    phone_session = sessions[0]
    response = laptop.post("/account/sessions/", {"action": "revoke", "session": str(phone_session.pk)})
    assert response.status_code == 302
    phone_session.refresh_from_db()
    assert phone_session.revoked_at is not None
    assert phone.get("/account/sessions/").status_code == 302  # signed out there
    assert laptop.get("/account/sessions/").status_code == 200


def test_devices__someone_elses_session_or_junk__refused_nothing_ended(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    other = member(tenant, "viewer")
    signed_in(other)
    client = signed_in(owner)
    with platform_bypass(reason="test", log=False):
        theirs = UserSession.objects.get(user=other)
    for value in (str(theirs.pk), "junk", "\x00"):
        response = client.post("/account/sessions/", {"action": "revoke", "session": value}, follow=True)
        assert "There is no such session to end here." in response.content.decode()
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_devices__sign_out_everywhere_else__only_this_one_left(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    signed_in(owner)
    signed_in(owner)
    client = signed_in(owner)
    response = client.post("/account/sessions/", {"action": "revoke_others"}, follow=True)
    assert "Signed out 2 other sessions." in response.content.decode()
    with platform_bypass(reason="test", log=False):
        assert UserSession.objects.filter(user=owner, revoked_at__isnull=True).count() == 1


def test_devices__not_signed_in__to_the_sign_in_page() -> None:
    response = Client().get("/account/sessions/")
    assert response.status_code == 302
    assert response["Location"].startswith("/signin/")


def test_devices__query_count__does_not_grow_with_the_sessions(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    client = signed_in(owner)
    client.get("/account/sessions/")
    few = _count(client, "/account/sessions/")
    for _ in range(3):
        signed_in(owner)
    assert _count(client, "/account/sessions/") == few


def test_people_pages__suspended_tenant__read_only_for_its_owner(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    member(tenant, "viewer")
    with platform_bypass(reason="test", log=False):
        type(tenant).objects.filter(pk=tenant.pk).update(
            status=TenantStatus.SUSPENDED, suspended_at=timezone.now()
        )
    client = signed_in(owner)
    for page in ("members/", "invites/", "roles/", "teams/", "api-keys/"):
        main = _main(client.get(_url(tenant, page)))
        assert "This tenant is suspended" in main, page
        assert "<button" not in main.split("</form>", 1)[-1] or page == "members/", page
    assert "<select" not in _main(client.get(_url(tenant, "members/")))


def test_people_pages__every_page__renders_without_template_text_leaking(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    team = TeamFactory.create(tenant=tenant)
    role = RoleFactory.create(tenant=tenant, name="Auditor", slug="auditor", rank=15, permissions=[])
    client = signed_in(owner)
    paths = [
        _url(tenant, rest)
        for rest in ("members/", "invites/", "roles/", "roles/new/", f"roles/{role.pk}/edit/", "teams/")
    ]
    paths += [_url(tenant, f"teams/{team.pk}/"), _url(tenant, "api-keys/"), _url(tenant, "api-keys/new/")]
    paths.append("/account/sessions/")
    for path in paths:
        response = client.get(path)
        body = response.content.decode()
        assert response.status_code == 200, path
        assert "{#" not in body, path
        assert "{%" not in body, path
        assert "console/people.css" in body, path


def test_members__platform_admin__may_grant_any_role_as_the_service_allows(
    signed_in: Any, tenant: Any
) -> None:
    staff = UserFactory.create(platform_admin=True)
    bob = member(tenant, "viewer")
    main = _main(signed_in(staff).get(_url(tenant, "members/")))
    assert ">Owner</option>" in main  # platform admins outrank every tenant role
    membership = _membership(tenant, bob)
    prefix = f"m-{membership.pk}"
    response = signed_in(staff).post(
        _url(tenant, f"members/{membership.pk}/"),
        {f"{prefix}-role": str(system_role("owner").pk), f"{prefix}-team": ""},
    )
    assert response.status_code == 302
    assert _membership(tenant, bob).role.slug == "owner"
