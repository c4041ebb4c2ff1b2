"""Invites: create (e-mail after commit, token hashed), revoke, accept (new and existing users)."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import TEST_PASSWORD, UserFactory
from audit.models import AuditLogEntry
from core.errors import Conflict
from core.tenancy import platform_bypass, tenant_context
from tenants.models import Invite, InviteStatus, Membership, Tenant
from tenants.services import invite_accept, invite_create
from tenants.tests.factories import (
    InviteFactory,
    RoleFactory,
    TeamFactory,
    TenantFactory,
    member,
    system_role,
)
from tenants.tests.test_tenants_api import audit_entries

NEW_PASSWORD = "a-long-and-unusual-passphrase-77"
ACCEPT_URL = "/api/v1/invites/accept"
_TOKEN_IN_LINK = re.compile(r"/invites/accept\?token=([A-Za-z0-9_-]+)")


def _url(tenant: Any, path: str = "") -> str:
    return f"/api/v1/tenants/{tenant.pk}/invites/{path}"


def _invite(**lookup: Any) -> Invite:
    with platform_bypass(reason="test", log=False):
        return Invite.objects.get(**lookup)


def _membership(tenant: Any, user: Any) -> Membership | None:
    with platform_bypass(reason="test", log=False):
        return Membership.objects.select_related("role", "team").filter(tenant=tenant, user=user).first()


def _token_from(mail: Any) -> str:
    match = _TOKEN_IN_LINK.search(mail.body)
    assert match, mail.body
    return match.group(1)


def _create(tenant: Any, actor: Any, email: str, role: str = "member", **kwargs: Any) -> tuple[Invite, str]:
    """An invite made through the service, as the API would (in the tenant's context)."""
    with tenant_context(tenant):
        return invite_create(tenant=tenant, actor=actor, email=email, role=system_role(role), **kwargs)


def _pending_with_token(tenant: Any, token: str, **kwargs: Any) -> Invite:
    return InviteFactory.create(
        tenant=tenant, token_hash=hashlib.sha256(token.encode()).hexdigest(), **kwargs
    )


# --- Create -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_invite_create__admin__201_and_email_sent_only_after_commit(
    as_user, tenant, admin, mailoutbox, django_capture_on_commit_callbacks
):
    team = TeamFactory.create(tenant=tenant, name="Growth")

    with django_capture_on_commit_callbacks() as callbacks:
        response = as_user(admin).post(
            _url(tenant),
            {
                "email": "New.Person@Example.COM",
                "role_id": str(system_role("viewer").pk),
                "team_id": str(team.pk),
            },
        )
        assert mailoutbox == []  # nothing leaves before the commit
    assert response.status_code == 201, response.content
    assert len(callbacks) == 1

    callbacks[0]()

    (mail,) = mailoutbox
    assert mail.to == ["new.person@example.com"]
    assert tenant.name in mail.subject
    assert "Growth" in mail.body
    body = response.json()
    assert body["email"] == "new.person@example.com"
    assert body["status"] == "pending"
    assert body["role"]["slug"] == "viewer"
    assert body["team"]["id"] == str(team.pk)
    assert body["invited_by"]["id"] == str(admin.pk)


@pytest.mark.django_db
def test_invite_create__token__only_in_the_email_link_stored_hashed_never_in_response_or_audit(
    as_user, tenant, admin, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(admin).post(_url(tenant), {"email": "someone@example.com"})

    token = _token_from(mailoutbox[0])
    invite = _invite(pk=response.json()["id"])
    assert len(token) >= 40
    assert invite.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in invite.token_hash
    assert token not in response.content.decode()
    assert invite.token_hash not in response.content.decode()
    assert "token" not in response.json()
    (entry,) = audit_entries("invite.created")
    assert entry.details == {"email": "someone@example.com", "role": "member", "team_id": None}
    with platform_bypass(reason="test", log=False):
        everything = json.dumps([e.details for e in AuditLogEntry.objects.all()])
    assert token not in everything
    assert invite.token_hash not in everything
    assert invite.expires_at - timezone.now() > timedelta(days=6, hours=23)


@pytest.mark.django_db
def test_invite_create__rolled_back__sends_nothing(
    tenant, admin, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        _create(tenant, admin, "ghost@example.com")
        transaction.set_rollback(True)

    assert mailoutbox == []
    with platform_bypass(reason="test", log=False):
        assert not Invite.objects.filter(email="ghost@example.com").exists()


@pytest.mark.django_db
def test_invite_create__public_url_setting__used_in_link(
    tenant, admin, mailoutbox, django_capture_on_commit_callbacks, settings
):
    settings.QM_PUBLIC_URL = "https://qm.example.org/"

    with django_capture_on_commit_callbacks(execute=True):
        _invite_row, token = _create(tenant, admin, "linked@example.com")

    assert f"https://qm.example.org/invites/accept?token={token}" in mailoutbox[0].body


@pytest.mark.django_db
def test_invite_create__pending_invite_for_address__409_invite_pending(as_user, tenant, admin):
    InviteFactory.create(tenant=tenant, email="twice@example.com")

    response = as_user(admin).post(_url(tenant), {"email": "Twice@example.com"})

    assert response.status_code == 409
    assert response.json()["code"] == "invite_pending"


@pytest.mark.django_db
def test_invite_create__stale_pending_invite__replaced_and_marked_expired(as_user, tenant, admin):
    stale = InviteFactory.create(
        tenant=tenant, email="again@example.com", expires_at=timezone.now() - timedelta(minutes=1)
    )

    response = as_user(admin).post(_url(tenant), {"email": "again@example.com"})

    assert response.status_code == 201
    assert _invite(pk=stale.pk).status == InviteStatus.EXPIRED


@pytest.mark.django_db
def test_invite_create__pending_in_another_tenant__allowed(as_user, tenant, other_tenant, admin):
    InviteFactory.create(tenant=other_tenant, email="both@example.com")

    response = as_user(admin).post(_url(tenant), {"email": "both@example.com"})

    assert response.status_code == 201


@pytest.mark.django_db
def test_invite_create__existing_member__409_already_member(as_user, tenant, admin):
    existing = member(tenant, "viewer")

    response = as_user(admin).post(_url(tenant), {"email": existing.email.upper()})

    assert response.status_code == 409
    assert response.json()["code"] == "already_member"


@pytest.mark.django_db
def test_invite_create__role_above_actor__403_rank_too_low(as_user, tenant, admin):
    response = as_user(admin).post(
        _url(tenant), {"email": "boss@example.com", "role_id": str(system_role("owner").pk)}
    )

    assert response.status_code == 403
    assert response.json()["code"] == "rank_too_low"
    with platform_bypass(reason="test", log=False):
        assert not Invite.objects.filter(email="boss@example.com").exists()


@pytest.mark.django_db
def test_invite_create__custom_inviter_below_member__403_rank_too_low_for_default_role(as_user, tenant):
    role = RoleFactory.create(tenant=tenant, permissions=["invites:write"], rank=15)
    inviter = member(tenant, "viewer")
    with platform_bypass(reason="test", log=False):
        Membership.objects.filter(tenant=tenant, user=inviter).update(role=role)

    response = as_user(inviter).post(_url(tenant), {"email": "up@example.com"})

    assert response.status_code == 403
    assert response.json()["code"] == "rank_too_low"


@pytest.mark.django_db
def test_invite_create__tenant_custom_role__201(as_user, tenant, owner):
    role = RoleFactory.create(tenant=tenant, rank=15)

    response = as_user(owner).post(_url(tenant), {"email": "custom@example.com", "role_id": str(role.pk)})

    assert response.status_code == 201
    assert response.json()["role"]["id"] == str(role.pk)


@pytest.mark.django_db
def test_invite_create__member_limit_counts_pending_invites__422_limit_exceeded(as_user):
    tenant = TenantFactory.create(resource_limits={"max_members": 2})
    owner = member(tenant, "owner")
    InviteFactory.create(tenant=tenant)  # owner + one pending invite = 2 seats
    InviteFactory.create(tenant=tenant, expires_at=timezone.now() - timedelta(days=1))  # not a seat

    response = as_user(owner).post(_url(tenant), {"email": "third@example.com"})

    assert response.status_code == 422
    assert response.json()["code"] == "limit_exceeded"


@pytest.mark.django_db
def test_invite_create__other_tenants_role_or_team_id__400_field_error(as_user, tenant, other_tenant, admin):
    foreign_role = RoleFactory.create(tenant=other_tenant, rank=10)
    foreign_team = TeamFactory.create(tenant=other_tenant)
    client = as_user(admin)

    by_role = client.post(_url(tenant), {"email": "x@example.com", "role_id": str(foreign_role.pk)})
    by_team = client.post(_url(tenant), {"email": "x@example.com", "team_id": str(foreign_team.pk)})

    assert by_role.status_code == 400
    assert by_role.json()["errors"] == {"role_id": ["No such role."]}
    assert by_team.status_code == 400
    assert by_team.json()["errors"] == {"team_id": ["No such team."]}


@pytest.mark.django_db
def test_invite_create__viewer__403_missing_permission(as_user, tenant):
    response = as_user(member(tenant, "viewer")).post(_url(tenant), {"email": "x@example.com"})

    assert response.status_code == 403
    assert response.json()["code"] == "missing_permission"


@pytest.mark.django_db
def test_invite_create__duplicate_refused__no_email(
    as_user, tenant, admin, mailoutbox, django_capture_on_commit_callbacks
):
    InviteFactory.create(tenant=tenant, email="dup@example.com")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        as_user(admin).post(_url(tenant), {"email": "dup@example.com"})

    assert callbacks == []
    assert mailoutbox == []


# --- List and revoke --------------------------------------------------------------------------


@pytest.mark.django_db
def test_invite_list__status_filter__pending_past_expiry_counts_as_expired(as_user, tenant, admin):
    live = InviteFactory.create(tenant=tenant)
    stale = InviteFactory.create(tenant=tenant, expires_at=timezone.now() - timedelta(hours=1))
    revoked = InviteFactory.create(tenant=tenant, status=InviteStatus.REVOKED)
    client = as_user(admin)

    everything = client.get(_url(tenant)).json()["results"]
    pending = client.get(_url(tenant) + "?status=pending").json()["results"]
    expired = client.get(_url(tenant) + "?status=expired").json()["results"]
    bad = client.get(_url(tenant) + "?status=nope")

    assert {i["id"]: i["status"] for i in everything} == {
        str(live.pk): "pending",
        str(stale.pk): "expired",
        str(revoked.pk): "revoked",
    }
    assert [i["id"] for i in pending] == [str(live.pk)]
    assert [i["id"] for i in expired] == [str(stale.pk)]
    assert bad.status_code == 400
    assert all("token" not in key for i in everything for key in i)


@pytest.mark.django_db
def test_invite_list__query_count__independent_of_rows(as_user, tenant, admin, django_assert_num_queries):
    client = as_user(admin)
    InviteFactory.create(tenant=tenant, team=TeamFactory.create(tenant=tenant))
    client.get(_url(tenant))
    with CaptureQueriesContext(connection) as first:
        client.get(_url(tenant))
    for _ in range(6):
        InviteFactory.create(
            tenant=tenant, team=TeamFactory.create(tenant=tenant), role=RoleFactory.create(tenant=tenant)
        )

    with django_assert_num_queries(len(first.captured_queries)):
        response = client.get(_url(tenant))

    assert response.json()["count"] == 7


@pytest.mark.django_db
def test_invite_revoke__pending__revoked_audited_and_token_dead(as_user, api_client, tenant, admin):
    invite = _pending_with_token(tenant, "revoke-me-token")

    response = as_user(admin).post(_url(tenant, f"{invite.pk}/revoke"))
    again = as_user(admin).post(_url(tenant, f"{invite.pk}/revoke"))
    accept = api_client.post(ACCEPT_URL, {"token": "revoke-me-token", "password": NEW_PASSWORD})

    assert response.status_code == 200
    assert response.json()["status"] == "revoked"
    assert _invite(pk=invite.pk).revoked_at is not None
    assert [e.target_id for e in audit_entries("invite.revoked")] == [str(invite.pk)]
    assert again.status_code == 409
    assert again.json()["code"] == "invite_not_pending"
    assert accept.status_code == 409
    assert accept.json()["code"] == "invite_revoked"


@pytest.mark.django_db
def test_invite_revoke__other_tenants_invite_id__404(as_user, tenant, other_tenant, admin):
    foreign = InviteFactory.create(tenant=other_tenant)

    response = as_user(admin).post(_url(tenant, f"{foreign.pk}/revoke"))

    assert response.status_code == 404
    assert _invite(pk=foreign.pk).status == InviteStatus.PENDING


@pytest.mark.django_db
def test_invites__other_tenants_member__403_cannot_list_or_revoke(as_user, tenant, other_tenant):
    invite = InviteFactory.create(tenant=tenant)
    outsider = as_user(member(other_tenant, "owner"))

    listing = outsider.get(_url(tenant))
    revoking = outsider.post(_url(tenant, f"{invite.pk}/revoke"))
    creating = outsider.post(_url(tenant), {"email": "sneaky@example.com"})

    for response in (listing, revoking, creating):
        assert response.status_code == 403
        assert response.json()["code"] == "not_a_member"
    assert _invite(pk=invite.pk).status == InviteStatus.PENDING


# --- Accept -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_invite_accept__new_person__creates_user_and_membership(
    api_client, tenant, admin, mailoutbox, django_capture_on_commit_callbacks
):
    team = TeamFactory.create(tenant=tenant)
    with django_capture_on_commit_callbacks(execute=True):
        invite, _token = _create(tenant, admin, "fresh@example.com", "viewer", team=team)
    token = _token_from(mailoutbox[0])

    response = api_client.post(
        ACCEPT_URL, {"token": token, "password": NEW_PASSWORD, "full_name": "Fresh Face"}
    )

    assert response.status_code == 200, response.content
    body = response.json()
    user = User.objects.get(email="fresh@example.com")
    membership = _membership(tenant, user)
    assert membership is not None
    assert body == {
        "tenant_id": str(tenant.pk),
        "membership_id": str(membership.pk),
        "user_id": str(user.pk),
        "created_user": True,
    }
    assert user.full_name == "Fresh Face"
    assert user.check_password(NEW_PASSWORD)
    assert membership.role.slug == "viewer"
    assert membership.team == team
    assert membership.invited_by == admin
    invite = _invite(pk=invite.pk)
    assert invite.status == InviteStatus.ACCEPTED
    assert invite.accepted_by == user
    assert invite.accepted_at is not None
    (entry,) = audit_entries("invite.accepted")
    assert entry.details["created_user"] is True
    assert entry.actor_user == user
    assert token not in json.dumps(entry.details)


@pytest.mark.django_db
def test_invite_accept__bad_password__400_and_no_user_no_membership_invite_pending(api_client, tenant):
    invite = _pending_with_token(tenant, "weak-password-token", email="weak@example.com")

    short = api_client.post(ACCEPT_URL, {"token": "weak-password-token", "password": "short"})
    missing = api_client.post(ACCEPT_URL, {"token": "weak-password-token"})

    assert short.status_code == 400
    assert short.json()["code"] == "validation_error"
    assert list(short.json()["errors"]) == ["password"]
    assert missing.status_code == 400
    assert list(missing.json()["errors"]) == ["password"]
    assert not User.objects.filter(email="weak@example.com").exists()
    with platform_bypass(reason="test", log=False):
        assert not Membership.objects.filter(tenant=tenant).exists()
    assert _invite(pk=invite.pk).status == InviteStatus.PENDING


@pytest.mark.django_db
def test_invite_accept__failure_after_user_created__nothing_kept(api_client):
    tenant = TenantFactory.create(resource_limits={"max_members": 1})
    member(tenant, "owner")  # the tenant filled up after the invite was sent
    invite = _pending_with_token(tenant, "full-tenant-token", email="late@example.com")

    response = api_client.post(ACCEPT_URL, {"token": "full-tenant-token", "password": NEW_PASSWORD})

    assert response.status_code == 422
    assert response.json()["code"] == "limit_exceeded"
    assert not User.objects.filter(email="late@example.com").exists()
    assert _invite(pk=invite.pk).status == InviteStatus.PENDING


@pytest.mark.django_db
def test_invite_accept__existing_user_logged_in__membership_without_new_user(as_user, tenant):
    user = UserFactory.create(email="known@example.com")
    member(TenantFactory.create(), user=user)  # a member elsewhere already
    invite = _pending_with_token(tenant, "known-user-token", email="known@example.com")
    users_before = User.objects.count()

    response = as_user(user).post(ACCEPT_URL, {"token": "known-user-token"})

    assert response.status_code == 200, response.content
    assert response.json()["created_user"] is False
    assert response.json()["user_id"] == str(user.pk)
    assert User.objects.count() == users_before
    membership = _membership(tenant, user)
    assert membership is not None
    assert membership.invited_by_id == invite.invited_by_id
    assert _invite(pk=invite.pk).accepted_by == user
    user.refresh_from_db()
    assert user.check_password(TEST_PASSWORD)  # untouched


@pytest.mark.django_db
def test_invite_accept__existing_user_not_logged_in__403_login_required(api_client, tenant):
    UserFactory.create(email="known@example.com")
    invite = _pending_with_token(tenant, "anon-known-token", email="known@example.com")

    response = api_client.post(ACCEPT_URL, {"token": "anon-known-token", "password": NEW_PASSWORD})

    assert response.status_code == 403
    assert response.json()["code"] == "login_required_to_accept"
    assert _invite(pk=invite.pk).status == InviteStatus.PENDING


@pytest.mark.django_db
def test_invite_accept__existing_address_but_logged_in_as_someone_else__403_login_required(as_user, tenant):
    UserFactory.create(email="known@example.com")
    _pending_with_token(tenant, "other-login-token", email="known@example.com")

    response = as_user(UserFactory.create()).post(ACCEPT_URL, {"token": "other-login-token"})

    assert response.status_code == 403
    assert response.json()["code"] == "login_required_to_accept"


@pytest.mark.django_db
def test_invite_accept__new_address_while_logged_in_as_another__403_invite_for_another_email(as_user, tenant):
    _pending_with_token(tenant, "new-address-token", email="brand-new@example.com")

    response = as_user(UserFactory.create()).post(
        ACCEPT_URL, {"token": "new-address-token", "password": NEW_PASSWORD}
    )

    assert response.status_code == 403
    assert response.json()["code"] == "invite_for_another_email"
    assert not User.objects.filter(email="brand-new@example.com").exists()


@pytest.mark.django_db
def test_invite_accept__unknown_token__404_invite_not_found(api_client):
    response = api_client.post(ACCEPT_URL, {"token": "no-such-token", "password": NEW_PASSWORD})

    assert response.status_code == 404
    assert response.json()["code"] == "invite_not_found"


@pytest.mark.django_db
def test_invite_accept__used_twice__409_invite_used(api_client, tenant):
    _pending_with_token(tenant, "twice-token", email="twice@example.com")
    first = api_client.post(ACCEPT_URL, {"token": "twice-token", "password": NEW_PASSWORD})

    second = api_client.post(ACCEPT_URL, {"token": "twice-token", "password": NEW_PASSWORD})

    assert first.status_code == 200
    assert second.status_code == 409
    assert second.json()["code"] == "invite_used"


@pytest.mark.django_db
def test_invite_accept__expired__409_invite_expired_and_nothing_created(api_client, tenant):
    _pending_with_token(
        tenant, "old-token", email="old@example.com", expires_at=timezone.now() - timedelta(seconds=1)
    )

    response = api_client.post(ACCEPT_URL, {"token": "old-token", "password": NEW_PASSWORD})

    assert response.status_code == 409
    assert response.json()["code"] == "invite_expired"
    assert not User.objects.filter(email="old@example.com").exists()


@pytest.mark.django_db
def test_invite_accept_service__expired__status_flipped_to_expired(tenant):
    invite = _pending_with_token(tenant, "flip-token", expires_at=timezone.now() - timedelta(seconds=1))

    with pytest.raises(Conflict) as raised:
        invite_accept(token="flip-token", password=NEW_PASSWORD)

    assert raised.value.code == "invite_expired"
    assert _invite(pk=invite.pk).status == InviteStatus.EXPIRED
    with pytest.raises(Conflict, match="expired"):
        invite_accept(token="flip-token", password=NEW_PASSWORD)


@pytest.mark.django_db
def test_invite_accept__suspended_tenant__403_tenant_suspended(api_client, tenant):
    _pending_with_token(tenant, "suspended-token", email="late@example.com")
    with platform_bypass(reason="test", log=False):
        Tenant.objects.filter(pk=tenant.pk).update(
            status="suspended", suspended_at=timezone.now(), suspension_reason="test"
        )

    response = api_client.post(ACCEPT_URL, {"token": "suspended-token", "password": NEW_PASSWORD})

    assert response.status_code == 403
    assert response.json()["code"] == "tenant_suspended"
    assert not User.objects.filter(email="late@example.com").exists()


# --- Issue 10, finding 4: inviting to a role checks its permissions, not only its rank -----------


def _sec_role(tenant: Any) -> Any:
    """The attack's role: rank 30 like an admin's, holding tenant:admin (which admins lack)."""
    return RoleFactory.create(
        tenant=tenant, slug="sec", name="Security", permissions=["tenant:admin"], rank=30
    )


@pytest.mark.django_db
def test_invite_create__role_with_a_permission_the_admin_lacks__403_permission_not_held_nothing_written(
    as_user, tenant, admin, mailoutbox, django_capture_on_commit_callbacks
):
    role = _sec_role(tenant)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = as_user(admin).post(
            _url(tenant), {"email": "sidekick@example.com", "role_id": str(role.pk)}
        )

    assert response.status_code == 403, response.content
    assert response.json()["code"] == "permission_not_held"
    assert response.json()["errors"] == {"permissions": ["Not held: tenant:admin"]}
    with platform_bypass(reason="test", log=False):
        assert not Invite.objects.filter(tenant=tenant).exists()
    assert audit_entries("invite.created") == []
    assert callbacks == []
    assert mailoutbox == []


@pytest.mark.django_db
def test_invite_create__owner_invites_to_the_same_role__201(as_user, tenant, owner):
    role = _sec_role(tenant)

    response = as_user(owner).post(_url(tenant), {"email": "sidekick@example.com", "role_id": str(role.pk)})

    assert response.status_code == 201, response.content
    assert response.json()["role"] == {"id": str(role.pk), "slug": "sec", "name": "Security"}
    assert _invite(email="sidekick@example.com").role_id == role.pk


@pytest.mark.django_db
def test_invite_create__unknown_field_role__400_unknown_field_and_no_invite(as_user, tenant, admin):
    # A client that says "role" where the API takes "role_id" must not get a Member invite.
    response = as_user(admin).post(_url(tenant), {"email": "someone@example.com", "role": "admin"})

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "unknown_field"
    assert body["errors"] == {"role": ["Unknown field."]}
    with platform_bypass(reason="test", log=False):
        assert not Invite.objects.filter(email="someone@example.com").exists()
