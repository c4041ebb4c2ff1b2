"""The caller's standing, read with the credentials in one statement (tenants.selectors.gate,
`qm_tenant_standing` of migration 0006), and the gate deciding on it (tenants.gate.tenant_access
with `standing`)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone
from django_scopes import scope

from accounts.api_key_auth import hash_key
from accounts.models import UserSession
from accounts.tests.factories import ApiKeyFactory, UserFactory
from core.access import Standing
from core.errors import PermissionDeniedError
from core.tenancy import BYPASS_SETTING, TENANT_SETTING, USER_SETTING
from tenants.gate import tenant_access
from tenants.models import Tenant
from tenants.selectors import api_key_with_standing, session_with_standing
from tenants.tests.factories import TeamFactory, TenantFactory, member


def make_key(tenant: Tenant, creator: Any) -> str:
    """A key of `tenant` made by `creator`; its hash (what the authenticator looks up)."""
    digest = hash_key(f"qm_live_{uuid.uuid4().hex}")
    ApiKeyFactory.create(tenant=tenant, created_by=creator, key_hash=digest, scopes=["teams:read"])
    return digest


def rls_settings() -> tuple[str, str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting(%s, true), current_setting(%s, true), current_setting(%s, true)",
            [TENANT_SETTING, USER_SETTING, BYPASS_SETTING],
        )
        row = cursor.fetchone()
    return row[0], row[1], row[2]


def team_tenants() -> set[uuid.UUID]:
    """The tenants of the teams a raw query sees now, under whatever RLS settings are set."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT tenant_id FROM tenants_team")
        return {row[0] for row in cursor.fetchall()}


@pytest.fixture
def tenant() -> Tenant:
    return TenantFactory.create()


# --- The read: api_key_with_standing -------------------------------------------------------------


@pytest.mark.django_db
def test_key_standing__member__key_creator_membership_role_and_rls_set_to_that_tenant(tenant):
    owner = member(tenant, "owner")
    other = TenantFactory.create()
    TeamFactory.create(tenant=tenant)
    TeamFactory.create(tenant=other)
    digest = make_key(tenant, owner)

    with transaction.atomic():
        found = api_key_with_standing(key_hash=digest, tenant_id=tenant.pk)
        settings = rls_settings()
        visible = team_tenants()

    assert found is not None
    key, standing = found
    assert key.key_hash == digest
    assert key.created_by.pk == owner.pk
    assert (standing.user_id, standing.tenant_id) == (owner.pk, tenant.pk)
    assert standing.tenant == tenant
    assert standing.membership is not None
    assert standing.membership.user_id == owner.pk
    assert standing.membership.tenant == tenant
    assert standing.membership.role.slug == "owner"
    assert settings == (str(tenant.pk), str(owner.pk), "")
    # The settings are really in force: a raw query on a tenant table sees this tenant's rows only.
    assert visible == {tenant.pk}


@pytest.mark.django_db
def test_key_standing__creator_not_a_member__tenant_without_membership(tenant):
    outsider = UserFactory.create()
    elsewhere = TenantFactory.create()
    digest = make_key(elsewhere, outsider)

    with transaction.atomic():
        found = api_key_with_standing(key_hash=digest, tenant_id=tenant.pk)
        settings = rls_settings()

    assert found is not None
    key, standing = found
    assert key.tenant_id == elsewhere.pk
    assert standing.tenant == tenant
    assert standing.membership is None
    assert settings[:2] == (str(tenant.pk), str(outsider.pk))


@pytest.mark.django_db
def test_key_standing__no_such_tenant__key_found_tenant_and_membership_none(tenant):
    digest = make_key(tenant, member(tenant, "owner"))
    missing = uuid.uuid4()

    with transaction.atomic():
        found = api_key_with_standing(key_hash=digest, tenant_id=missing)
        visible_settings = rls_settings()

    assert found is not None
    key, standing = found
    assert key.key_hash == digest
    assert (standing.tenant, standing.membership, standing.tenant_id) == (None, None, missing)
    # The settings name the tenant of the URL even when it does not exist: nothing is visible.
    assert visible_settings[0] == str(missing)


@pytest.mark.django_db
def test_key_standing__unknown_key__none(tenant):
    with transaction.atomic():
        assert api_key_with_standing(key_hash=hash_key("qm_live_nobody"), tenant_id=tenant.pk) is None


@pytest.mark.django_db
def test_key_standing__membership_in_another_tenant_only__not_a_member_here(tenant):
    other = TenantFactory.create()
    user = member(other, "owner")
    digest = make_key(other, user)

    with transaction.atomic():
        found = api_key_with_standing(key_hash=digest, tenant_id=tenant.pk)

    assert found is not None
    assert found[1].tenant == tenant
    assert found[1].membership is None


# --- The read: session_with_standing -------------------------------------------------------------


def make_session(user: Any) -> UserSession:
    return UserSession.objects.create(
        user=user, current_refresh_jti="jti", expires_at=timezone.now() + timedelta(days=1)
    )


@pytest.mark.django_db
def test_session_standing__member__session_user_membership_and_rls_set(tenant):
    admin = member(tenant, "admin")
    session = make_session(admin)
    TeamFactory.create(tenant=tenant)
    TeamFactory.create(tenant=TenantFactory.create())

    with transaction.atomic():
        found = session_with_standing(session_id=str(session.pk), tenant_id=tenant.pk)
        settings = rls_settings()
        visible = team_tenants()

    assert found is not None
    read, standing = found
    assert read.pk == session.pk
    assert read.user.pk == admin.pk
    assert standing.membership is not None
    assert standing.membership.role.slug == "admin"
    assert settings[:2] == (str(tenant.pk), str(admin.pk))
    assert visible == {tenant.pk}


@pytest.mark.django_db
@pytest.mark.parametrize("session_id", ["not-a-uuid", "\x00", str(uuid.UUID(int=0))])
def test_session_standing__no_such_session__none(tenant, session_id):
    with transaction.atomic():
        assert session_with_standing(session_id=session_id, tenant_id=tenant.pk) is None


@pytest.mark.django_db
def test_session_standing__not_a_member__membership_none(tenant):
    session = make_session(UserFactory.create())

    with transaction.atomic():
        found = session_with_standing(session_id=session.pk, tenant_id=tenant.pk)

    assert found is not None
    assert (found[1].tenant, found[1].membership) == (tenant, None)


# --- The gate deciding on a standing -------------------------------------------------------------


def gate_with(tenant_id: Any, user: Any, standing: Standing | None, permission: str = "teams:read") -> Any:
    with scope(tenant=tenant_id):
        return tenant_access(
            user=user,
            api_key=None,
            tenant_id=tenant_id,
            permission=permission,
            write=False,
            standing=standing,
        )


@pytest.mark.django_db
def test_gate__standing_of_this_user_here__decides_on_it_without_a_query(tenant, django_assert_num_queries):
    owner = member(tenant, "owner")
    with transaction.atomic():
        found = api_key_with_standing(key_hash=make_key(tenant, owner), tenant_id=tenant.pk)
        assert found is not None

        with django_assert_num_queries(0):
            access = gate_with(tenant.pk, owner, found[1])

    assert access.tenant == tenant
    assert access.membership is found[1].membership
    assert "tenant:admin" in access.permissions


@pytest.mark.django_db
def test_gate__standing_as_text_tenant_id__still_this_tenants(tenant, django_assert_num_queries):
    owner = member(tenant, "owner")
    with transaction.atomic():
        found = api_key_with_standing(key_hash=make_key(tenant, owner), tenant_id=tenant.pk)
        assert found is not None

        with django_assert_num_queries(0):
            access = gate_with(str(tenant.pk), owner, found[1])

    assert access.tenant == tenant


@pytest.mark.django_db
def test_gate__standing_not_a_member__403_not_a_member(tenant):
    outsider = UserFactory.create()
    standing = Standing(user_id=outsider.pk, tenant_id=tenant.pk, tenant=tenant, membership=None)

    with transaction.atomic(), pytest.raises(PermissionDeniedError) as raised:
        gate_with(tenant.pk, outsider, standing)

    assert raised.value.code == "not_a_member"


@pytest.mark.django_db
def test_gate__standing_of_another_user__ignored_gate_reads_its_own(tenant):
    owner = member(tenant, "owner")
    outsider = UserFactory.create()
    with transaction.atomic():
        found = api_key_with_standing(key_hash=make_key(tenant, owner), tenant_id=tenant.pk)
        assert found is not None
        # The owner's standing, presented for someone else: not theirs, so not used.
        with pytest.raises(PermissionDeniedError) as raised:
            gate_with(tenant.pk, outsider, found[1])
        settings = rls_settings()

    assert raised.value.code == "not_a_member"
    assert settings[:2] == (str(tenant.pk), str(outsider.pk))


@pytest.mark.django_db
def test_gate__standing_for_another_tenant__ignored_gate_reads_its_own(tenant):
    user = member(tenant, "owner")
    other = TenantFactory.create()
    member(other, "viewer", user=user)
    with transaction.atomic():
        found = api_key_with_standing(key_hash=make_key(tenant, user), tenant_id=tenant.pk)
        assert found is not None
        # The owner standing in `tenant`, presented for `other` (where the user is a viewer).
        access = gate_with(other.pk, user, found[1])
        with pytest.raises(PermissionDeniedError) as raised:
            gate_with(other.pk, user, found[1], "teams:write")
        settings = rls_settings()

    assert access.tenant == other
    assert access.membership is not None
    assert access.membership.role.slug == "viewer"
    assert raised.value.code == "missing_permission"
    assert settings[0] == str(other.pk)


@pytest.mark.django_db
def test_gate__no_standing__reads_membership_itself(tenant, django_assert_num_queries):
    viewer = member(tenant, "viewer")
    # The RLS settings and the membership, pipelined.
    with transaction.atomic(), django_assert_num_queries(2):
        access = gate_with(tenant.pk, viewer, None)

    assert access.membership is not None
    assert access.membership.role.slug == "viewer"
