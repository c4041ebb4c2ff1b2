"""The secret locker: stored encrypted, listed without values, team visibility, rotation,
deletion, and the audited reveal."""

from __future__ import annotations

from typing import Any

import pytest

from audit.models import AuditLogEntry
from core import crypto
from core.tenancy import platform_bypass, tenant_context
from tenants import services
from tenants.models import Secret, Team
from tenants.tests.factories import MembershipFactory, RoleFactory, SecretFactory, TeamFactory, member

CANARY = "sk-live-canary-locker-5b8e21d0"


def url(tenant: Any, suffix: str = "") -> str:
    return f"/api/v1/tenants/{tenant.pk}/secrets/{suffix}"


def audit_entries(action: str) -> list[AuditLogEntry]:
    with platform_bypass(reason="test", log=False):
        return list(AuditLogEntry.objects.filter(action=action).order_by("created_at"))


def stored(secret_id: Any) -> Secret:
    with platform_bypass(reason="test", log=False):
        return Secret.objects.get(pk=secret_id)


@pytest.fixture
def team_world(tenant: Any) -> dict[str, Any]:
    """Two teams, a member of each, a secret of each team and a tenant-wide one."""
    red, blue = TeamFactory.create(tenant=tenant, name="Red"), TeamFactory.create(tenant=tenant, name="Blue")
    return {
        "red_member": member(tenant, "member", team=red),
        "blue_member": member(tenant, "member", team=blue),
        "no_team_member": member(tenant, "member"),
        "red": SecretFactory.create(tenant=tenant, team=red, name="red-slack"),
        "blue": SecretFactory.create(tenant=tenant, team=blue, name="blue-slack"),
        "shared": SecretFactory.create(tenant=tenant, name="shared-openai"),
        "red_team": red,
        "blue_team": blue,
    }


# --- Create, list ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_secret_create__admin__encrypted_at_rest_last_four_shown_value_never(as_user, tenant, admin):
    response = as_user(admin).post(
        url(tenant), {"name": "OpenAI prod", "provider": "openai", "value": CANARY, "description": "billing"}
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["last_four"] == "21d0"
    assert "value" not in body
    assert CANARY not in response.content.decode()
    row = stored(body["id"])
    assert row.ciphertext.startswith("v1:")
    assert CANARY not in row.ciphertext
    assert services.secret_value(secret=row) == CANARY
    (entry,) = audit_entries("secret.created")
    assert entry.details == {
        "name": "OpenAI prod",
        "provider": "openai",
        "team_id": None,
        "last_four": "21d0",
    }


@pytest.mark.django_db
def test_secret_create__short_value__no_last_four(as_user, tenant, admin):
    response = as_user(admin).post(url(tenant), {"name": "pin", "provider": "slack", "value": "123456"})

    assert response.json()["last_four"] == ""


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "provider": "Open AI", "value": "v"}, "provider"),
        ({"name": "x", "provider": "openai", "value": ""}, "value"),
        ({"name": "x", "provider": "openai"}, "value"),
    ],
)
def test_secret_create__invalid__400_on_the_field(as_user, tenant, admin, body, field):
    response = as_user(admin).post(url(tenant), body)

    assert response.status_code == 400
    assert field in response.json()["errors"]


@pytest.mark.django_db
def test_secret_create__name_taken__400(as_user, tenant, admin):
    SecretFactory.create(tenant=tenant, name="dup")

    response = as_user(admin).post(url(tenant), {"name": "dup", "provider": "openai", "value": "v"})

    assert response.status_code == 400
    assert "name" in response.json()["errors"]


@pytest.mark.django_db
def test_secrets_list__no_values_ever__and_query_count_pinned(
    as_user, tenant, admin, django_assert_num_queries
):
    client = as_user(admin)
    SecretFactory.create(tenant=tenant, value=CANARY)
    # savepoint, RLS settings read, tenant, RLS set, membership, count, page, restore, release
    with django_assert_num_queries(8):
        client.get(url(tenant))
    for i in range(5):
        SecretFactory.create(
            tenant=tenant, team=TeamFactory.create(tenant=tenant), created_by=admin, value=f"{CANARY}{i}"
        )

    with django_assert_num_queries(8):
        response = client.get(url(tenant))

    assert response.json()["count"] == 6
    assert set(response.json()["results"][0]) == {
        "id",
        "name",
        "provider",
        "description",
        "last_four",
        "team",
        "created_by",
        "created_at",
        "updated_at",
        "rotated_at",
        "last_revealed_at",
    }
    assert CANARY not in response.content.decode()
    assert "v1:" not in response.content.decode()


# --- Team visibility ---------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "visible"),
    [
        ("red_member", {"red-slack", "shared-openai"}),
        ("blue_member", {"blue-slack", "shared-openai"}),
        ("no_team_member", {"shared-openai"}),
        ("owner", {"red-slack", "blue-slack", "shared-openai"}),
        ("admin", {"red-slack", "blue-slack", "shared-openai"}),
        ("platform_operator", {"red-slack", "blue-slack", "shared-openai"}),
    ],
)
def test_secrets_list__team_secrets__visible_to_that_team_and_tenant_admins_only(
    as_user, tenant, team_world, who, visible, request
):
    user = team_world[who] if who in team_world else request.getfixturevalue(who)

    response = as_user(user).get(url(tenant))

    assert {s["name"] for s in response.json()["results"]} == visible


@pytest.mark.django_db
def test_secret_get__another_teams_secret__404_like_a_missing_one(as_user, tenant, team_world):
    client = as_user(team_world["red_member"])

    other_team = client.get(url(tenant, f"{team_world['blue'].pk}/"))
    own_team = client.get(url(tenant, f"{team_world['red'].pk}/"))

    assert other_team.status_code == 404
    assert own_team.status_code == 200
    assert own_team.json()["team"]["name"] == "Red"


@pytest.mark.django_db
def test_secret_create__member_for_another_team__403_but_for_own_team_201(as_user, tenant, team_world):
    role = RoleFactory.create(tenant=tenant, permissions=["secrets:read", "secrets:write"], rank=20)
    writer = MembershipFactory.create(tenant=tenant, role=role, team=team_world["red_team"]).user
    client = as_user(writer)

    other = client.post(
        url(tenant),
        {"name": "x", "provider": "slack", "value": "v", "team_id": str(team_world["blue_team"].pk)},
    )
    own = client.post(
        url(tenant),
        {"name": "y", "provider": "slack", "value": "v", "team_id": str(team_world["red_team"].pk)},
    )

    assert other.status_code == 403
    assert other.json()["code"] == "not_your_team"
    assert own.status_code == 201


@pytest.mark.django_db
def test_secret_create__team_of_another_tenant__400(as_user, tenant, other_tenant, admin):
    foreign_team = TeamFactory.create(tenant=other_tenant)

    response = as_user(admin).post(
        url(tenant), {"name": "x", "provider": "slack", "value": "v", "team_id": str(foreign_team.pk)}
    )

    assert response.status_code == 400
    assert "team_id" in response.json()["errors"]


@pytest.mark.django_db
def test_secret_reveal__custom_role_with_secrets_admin__only_its_team_and_shared(as_user, tenant, team_world):
    role = RoleFactory.create(tenant=tenant, permissions=["secrets:read", "secrets:admin"], rank=20)
    revealer = MembershipFactory.create(tenant=tenant, role=role, team=team_world["red_team"]).user
    client = as_user(revealer)

    blue = client.post(url(tenant, f"{team_world['blue'].pk}/reveal"))
    red = client.post(url(tenant, f"{team_world['red'].pk}/reveal"))

    assert blue.status_code == 404
    assert red.status_code == 200


# --- Update, rotate, delete -----------------------------------------------------------------------


@pytest.mark.django_db
def test_secret_update__rename_and_move_to_a_team__audited(as_user, tenant, admin):
    secret = SecretFactory.create(tenant=tenant, name="old")
    team = TeamFactory.create(tenant=tenant)

    response = as_user(admin).patch(url(tenant, f"{secret.pk}/"), {"name": "new", "team_id": str(team.pk)})

    assert response.status_code == 200, response.json()
    assert (response.json()["name"], response.json()["team"]["id"]) == ("new", str(team.pk))
    (entry,) = audit_entries("secret.updated")
    assert entry.details["changes"]["name"] == {"old": "old", "new": "new"}


@pytest.mark.django_db
def test_secret_rotate__new_value__old_gone_rotated_at_set_and_audited(as_user, tenant, admin):
    secret = SecretFactory.create(tenant=tenant, value="sk-first-value-00001111")

    response = as_user(admin).post(url(tenant, f"{secret.pk}/rotate"), {"value": CANARY})

    assert response.status_code == 200, response.json()
    assert response.json()["last_four"] == "21d0"
    assert response.json()["rotated_at"] is not None
    assert services.secret_value(secret=stored(secret.pk)) == CANARY
    (entry,) = audit_entries("secret.rotated")
    assert entry.details["previous_last_four"] == "1111"
    assert CANARY not in response.content.decode()


@pytest.mark.django_db
def test_secret_delete__admin__gone_and_audited(as_user, tenant, admin):
    secret = SecretFactory.create(tenant=tenant)

    response = as_user(admin).delete(url(tenant, f"{secret.pk}/"))

    assert response.status_code == 204
    with platform_bypass(reason="test", log=False):
        assert not Secret.objects.filter(pk=secret.pk).exists()
    assert len(audit_entries("secret.deleted")) == 1


@pytest.mark.django_db
def test_secret_delete__viewer__403_missing_permission(as_user, tenant):
    secret = SecretFactory.create(tenant=tenant)

    response = as_user(member(tenant, "viewer")).delete(url(tenant, f"{secret.pk}/"))

    assert response.status_code == 403


# --- Reveal ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_secret_reveal__admin__value_in_this_response_only_no_store_audited_every_time(
    as_user, tenant, admin
):
    secret = SecretFactory.create(tenant=tenant, value=CANARY)
    client = as_user(admin)

    first = client.post(url(tenant, f"{secret.pk}/reveal"))
    second = client.post(url(tenant, f"{secret.pk}/reveal"))
    listed = client.get(url(tenant))

    assert first.status_code == 200
    assert first.json() == {"id": str(secret.pk), "name": secret.name, "provider": "openai", "value": CANARY}
    assert first["Cache-Control"] == "no-store"
    assert second.json()["value"] == CANARY
    entries = audit_entries("secret.revealed")
    assert [(e.actor_user_id, e.severity) for e in entries] == [(admin.pk, "warning"), (admin.pk, "warning")]
    assert all(CANARY not in str(e.details) for e in entries)
    assert listed.json()["results"][0]["last_revealed_at"] is not None
    assert CANARY not in listed.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["member", "viewer"])
def test_secret_reveal__without_secrets_admin__403_and_not_audited_as_a_reveal(as_user, tenant, role):
    secret = SecretFactory.create(tenant=tenant, value=CANARY)

    response = as_user(member(tenant, role)).post(url(tenant, f"{secret.pk}/reveal"))

    assert response.status_code == 403
    assert response.json()["code"] == "missing_permission"
    assert audit_entries("secret.revealed") == []
    assert CANARY not in response.content.decode()


@pytest.mark.django_db
def test_secret_reveal__other_tenants_secret_id__404(as_user, tenant, other_tenant, owner):
    theirs = SecretFactory.create(tenant=other_tenant, value=CANARY)

    response = as_user(owner).post(url(tenant, f"{theirs.pk}/reveal"))

    assert response.status_code == 404
    assert CANARY not in response.content.decode()


@pytest.mark.django_db
def test_secrets__other_tenants_owner__403_not_a_member(as_user, tenant, other_tenant):
    response = as_user(member(other_tenant, "owner")).get(url(tenant))

    assert response.status_code == 403
    assert response.json()["code"] == "not_a_member"


@pytest.mark.django_db
def test_secret_ciphertext__copied_into_another_tenants_secret__fails_to_decrypt(tenant, other_tenant):
    mine = SecretFactory.create(tenant=tenant, value=CANARY)
    theirs = SecretFactory.create(tenant=other_tenant)
    with platform_bypass(reason="test", log=False):
        Secret.objects.filter(pk=theirs.pk).update(ciphertext=mine.ciphertext)

    with pytest.raises(crypto.DecryptionError):
        services.secret_value(secret=stored(theirs.pk))
    with tenant_context(tenant):
        assert services.secret_value(secret=Secret.objects.get(pk=mine.pk)) == CANARY


@pytest.mark.django_db
def test_team_delete__team_keeps_secrets__409_and_team_and_secret_stay(as_user, tenant, owner):
    team = TeamFactory.create(tenant=tenant)
    secret = SecretFactory.create(tenant=tenant, team=team)

    response = as_user(owner).delete(f"/api/v1/tenants/{tenant.pk}/teams/{team.pk}/")

    assert response.status_code == 409
    assert response.json()["code"] == "team_has_secrets"
    assert stored(secret.pk).team_id == team.pk
    with tenant_context(tenant):
        assert Team.objects.filter(pk=team.pk).exists()


@pytest.mark.django_db
def test_secret_reveal__service_with_a_reason__the_reason_in_the_audit_entry(tenant, owner):
    secret = SecretFactory.create(tenant=tenant, value=CANARY)

    with tenant_context(tenant):
        value = services.secret_reveal(secret=secret, actor=owner, reason="Support ticket 42")

    assert value == CANARY
    (entry,) = audit_entries("secret.revealed")
    assert entry.details["reason"] == "Support ticket 42"
    assert CANARY not in str(entry.details)
