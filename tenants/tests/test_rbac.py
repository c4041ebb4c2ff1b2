"""Object permissions through tenants.rbac (django-guardian), tried on teams until agents exist."""

from __future__ import annotations

import pytest

from accounts.models import User
from accounts.tests.factories import UserFactory
from core.errors import InvalidInput, PermissionDeniedError
from core.tenancy import platform_bypass
from tenants.rbac import rbac_grant, rbac_has_perm, rbac_revoke
from tenants.tests.factories import RoleFactory, TeamFactory, TenantFactory, member
from tenants.tests.test_tenants_api import audit_entries

VIEW = "tenants.view_team"
CHANGE = "tenants.change_team"


@pytest.fixture
def tenant():
    return TenantFactory.create()


@pytest.fixture
def owner(tenant):
    return member(tenant, "owner")


def _deactivate(user: User) -> None:
    User.objects.filter(pk=user.pk).update(is_active=False)
    user.refresh_from_db()


@pytest.mark.django_db
def test_rbac_grant__member__has_perm_on_that_object_only(tenant, owner):
    team, other_team = TeamFactory.create(tenant=tenant), TeamFactory.create(tenant=tenant)
    user = member(tenant, "member")

    rbac_grant(user=user, perm=VIEW, obj=team, actor=owner)

    assert rbac_has_perm(user, VIEW, team) is True
    assert rbac_has_perm(user, VIEW, other_team) is False
    assert rbac_has_perm(user, CHANGE, team) is False
    (entry,) = audit_entries("rbac.granted")
    assert entry.tenant_id == tenant.pk
    assert entry.target_id == str(team.pk)
    assert entry.details["permission"] == VIEW
    assert entry.details["user_id"] == str(user.pk)
    assert entry.actor_user == owner


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["owner", "admin"])
def test_rbac_has_perm__tenant_owner_or_admin__true_without_grant(tenant, role):
    team = TeamFactory.create(tenant=tenant)
    user = member(tenant, role)

    assert rbac_has_perm(user, VIEW, team) is True
    assert rbac_has_perm(user, CHANGE, team) is True


@pytest.mark.django_db
def test_rbac_has_perm__owner_of_another_tenant__false(tenant):
    team = TeamFactory.create(tenant=tenant)
    outsider = member(TenantFactory.create(), "owner")

    assert rbac_has_perm(outsider, VIEW, team) is False


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["viewer", "member"])
def test_rbac_has_perm__viewer_or_member_without_grant__false(tenant, role):
    team = TeamFactory.create(tenant=tenant)

    assert rbac_has_perm(member(tenant, role), VIEW, team) is False


@pytest.mark.django_db
def test_rbac_has_perm__custom_role_named_admin__not_the_system_admin(tenant):
    team = TeamFactory.create(tenant=tenant)
    user = member(tenant, "viewer")
    impostor = RoleFactory.create(tenant=tenant, slug="admin", name="Admin", rank=10)
    from tenants.models import Membership

    with platform_bypass(reason="test", log=False):
        Membership.objects.filter(tenant=tenant, user=user).update(role=impostor)

    assert rbac_has_perm(user, VIEW, team) is False


@pytest.mark.django_db
def test_rbac_has_perm__inactive_user__false_even_with_grant_or_as_owner(tenant, owner):
    team = TeamFactory.create(tenant=tenant)
    granted = member(tenant, "member")
    rbac_grant(user=granted, perm=VIEW, obj=team, actor=owner)
    inactive_owner = member(tenant, "owner")

    _deactivate(granted)
    _deactivate(inactive_owner)

    assert rbac_has_perm(granted, VIEW, team) is False
    assert rbac_has_perm(inactive_owner, VIEW, team) is False


@pytest.mark.django_db
def test_rbac_has_perm__inactive_platform_admin__false(tenant):
    admin = UserFactory.create(platform_admin=True)
    _deactivate(admin)

    assert rbac_has_perm(admin, VIEW, TeamFactory.create(tenant=tenant)) is False


@pytest.mark.django_db
def test_rbac_has_perm__anonymous_or_none__false(tenant):
    from django.contrib.auth.models import AnonymousUser

    team = TeamFactory.create(tenant=tenant)

    assert rbac_has_perm(AnonymousUser(), VIEW, team) is False
    assert rbac_has_perm(None, VIEW, team) is False


@pytest.mark.django_db
def test_rbac_has_perm__platform_admin__true_in_any_tenant(tenant):
    team = TeamFactory.create(tenant=tenant)

    assert rbac_has_perm(UserFactory.create(platform_admin=True), CHANGE, team) is True


@pytest.mark.django_db
def test_rbac_has_perm__platform_operator_without_grant__false(tenant):
    team = TeamFactory.create(tenant=tenant)

    assert rbac_has_perm(UserFactory.create(platform_operator=True), VIEW, team) is False


@pytest.mark.django_db
def test_rbac_revoke__granted__perm_gone_and_audited(tenant, owner):
    team = TeamFactory.create(tenant=tenant)
    user = member(tenant, "member")
    rbac_grant(user=user, perm=VIEW, obj=team, actor=owner)

    rbac_revoke(user=user, perm=VIEW, obj=team, actor=owner)
    rbac_revoke(user=user, perm=VIEW, obj=team, actor=owner)  # idempotent, audited once

    assert rbac_has_perm(user, VIEW, team) is False
    (entry,) = audit_entries("rbac.revoked")
    assert entry.details["permission"] == VIEW
    assert entry.severity == "warning"


@pytest.mark.django_db
def test_rbac_has_perm__grantee_removed_from_tenant__false(tenant, owner):
    from tenants.models import Membership

    team = TeamFactory.create(tenant=tenant)
    user = member(tenant, "member")
    rbac_grant(user=user, perm=VIEW, obj=team, actor=owner)

    with platform_bypass(reason="test", log=False):
        Membership.objects.filter(tenant=tenant, user=user).delete()

    assert rbac_has_perm(user, VIEW, team) is False


@pytest.mark.django_db
def test_rbac_grant__actor_without_the_perm__403_permission_not_held(tenant):
    team = TeamFactory.create(tenant=tenant)
    actor, user = member(tenant, "member"), member(tenant, "member")

    with pytest.raises(PermissionDeniedError) as raised:
        rbac_grant(user=user, perm=VIEW, obj=team, actor=actor)

    assert raised.value.code == "permission_not_held"
    assert rbac_has_perm(user, VIEW, team) is False
    assert audit_entries("rbac.granted") == []


@pytest.mark.django_db
def test_rbac_grant__user_outside_the_tenant__refused(tenant, owner):
    team = TeamFactory.create(tenant=tenant)

    with pytest.raises(InvalidInput) as raised:
        rbac_grant(user=UserFactory.create(), perm=VIEW, obj=team, actor=owner)

    assert raised.value.code == "not_a_member"


@pytest.mark.django_db
@pytest.mark.parametrize("perm", ["tenants.no_such_perm", "accounts.view_team", "tenants.view_tenant"])
def test_rbac_grant__unknown_or_foreign_permission__invalid_input(tenant, owner, perm):
    team = TeamFactory.create(tenant=tenant)

    with pytest.raises(InvalidInput):
        rbac_grant(user=member(tenant, "member"), perm=perm, obj=team, actor=owner)
