"""The tenant gate, called directly (tenants.gate.tenant_access): the one access check that the
API base, the console and the websocket consumers share. Through HTTP it is walked route by route
by core/tests/test_isolation_harness.py."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone
from django_scopes import scope

from accounts.tests.factories import ApiKeyFactory, UserFactory
from core.access import PLATFORM_ADMIN, PLATFORM_STAFF, TenantAccess, tenant_gate
from core.errors import NotFound, PermissionDeniedError
from core.tenancy import TENANT_SETTING, USER_SETTING, platform_bypass
from tenants.gate import tenant_access
from tenants.models import Membership, Tenant, TenantStatus
from tenants.tests.factories import TenantFactory, member


def gate(
    tenant_id: Any,
    user: Any,
    permission: str | None = "teams:read",
    *,
    api_key: Any = None,
    write: bool = False,
) -> TenantAccess:
    with transaction.atomic(), scope(tenant=tenant_id):
        return tenant_access(
            user=user, api_key=api_key, tenant_id=tenant_id, permission=permission, write=write
        )


def refused(code: str, *args: Any, **kwargs: Any) -> None:
    with pytest.raises(PermissionDeniedError) as raised:
        gate(*args, **kwargs)
    assert raised.value.code == code


@pytest.fixture
def tenant() -> Tenant:
    return TenantFactory.create()


def test_hook__the_core_api_reaches_this_gate():
    assert tenant_gate._implementation is tenant_access


@pytest.mark.django_db
def test_gate__member_with_the_permission__access_with_role_permissions_and_rls_set(tenant):
    user = member(tenant, "member")

    with transaction.atomic(), scope(tenant=tenant.pk):
        access = tenant_access(
            user=user, api_key=None, tenant_id=tenant.pk, permission="teams:read", write=False
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_setting(%s, true), current_setting(%s, true)", [TENANT_SETTING, USER_SETTING]
            )
            settings = cursor.fetchone()

    assert access.tenant == tenant
    assert access.membership is not None
    assert access.membership.role.slug == "member"
    assert "teams:read" in access.permissions
    assert "tenant:admin" not in access.permissions
    assert (access.staff, access.api_key) == (False, None)
    assert settings == (str(tenant.pk), str(user.pk))


@pytest.mark.django_db
def test_gate__member_of_another_tenant__403_not_a_member(tenant):
    refused("not_a_member", tenant.pk, member(TenantFactory.create(), "owner"))


@pytest.mark.django_db
def test_gate__no_such_tenant__403_to_users_404_to_platform_staff():
    missing = uuid.uuid4()

    refused("not_a_member", missing, UserFactory.create())
    with pytest.raises(NotFound):
        gate(missing, UserFactory.create(platform_role="platform_operator"))


@pytest.mark.django_db
def test_gate__role_without_the_permission__403_missing_permission(tenant):
    refused("missing_permission", tenant.pk, member(tenant, "viewer"), "teams:write", write=True)


@pytest.mark.django_db
def test_gate__permission_none__membership_alone_suffices(tenant):
    assert gate(tenant.pk, member(tenant, "viewer"), None).membership is not None


@pytest.mark.django_db
def test_gate__suspended_tenant__reads_pass_writes_403_tenant_suspended_staff_pass(tenant):
    with platform_bypass(reason="test", log=False):
        Tenant.objects.filter(pk=tenant.pk).update(status=TenantStatus.SUSPENDED, suspended_at=timezone.now())
    owner = member(tenant, "owner")
    admin = UserFactory.create(platform_role="platform_admin")

    assert gate(tenant.pk, owner, "teams:read").tenant.is_suspended
    refused("tenant_suspended", tenant.pk, owner, "teams:write", write=True)
    assert gate(tenant.pk, admin, "teams:write", write=True).staff is True


@pytest.mark.django_db
def test_gate__api_key__narrowed_to_its_scopes_in_its_own_tenant_only(tenant):
    owner = member(tenant, "owner")
    key = ApiKeyFactory.create(tenant=tenant, created_by=owner, scopes=["teams:read"])
    other = TenantFactory.create()
    member(other, "owner", user=owner)

    access = gate(tenant.pk, owner, "teams:read", api_key=key)

    assert access.permissions == frozenset({"teams:read"})
    assert (access.api_key, access.staff) == (key, False)
    refused("missing_permission", tenant.pk, owner, "teams:write", api_key=key, write=True)
    refused("api_key_wrong_tenant", other.pk, owner, "teams:read", api_key=key)


@pytest.mark.django_db
def test_gate__platform_admins_key__never_wider_than_its_scopes(tenant):
    admin = UserFactory.create(platform_role="platform_admin")
    key = ApiKeyFactory.create(tenant=tenant, created_by=admin, scopes=["teams:read"])

    access = gate(tenant.pk, admin, "teams:read", api_key=key)

    assert access.permissions == frozenset({"teams:read"})
    assert access.staff is False
    refused("missing_permission", tenant.pk, admin, PLATFORM_STAFF, api_key=key)


@pytest.mark.django_db
def test_gate__key_of_a_creator_who_left__no_permissions(tenant):
    creator = member(tenant, "owner")
    key = ApiKeyFactory.create(tenant=tenant, created_by=creator, scopes=["teams:read"])
    with platform_bypass(reason="test", log=False):
        Membership.objects.filter(user=creator).delete()

    refused("missing_permission", tenant.pk, creator, "teams:read", api_key=key)


@pytest.mark.django_db
def test_gate__platform_staff__operators_read_admins_everything(tenant):
    operator = UserFactory.create(platform_role="platform_operator")
    admin = UserFactory.create(platform_role="platform_admin")

    assert gate(tenant.pk, operator, "teams:read").staff is True
    assert gate(tenant.pk, operator, PLATFORM_STAFF).membership is None
    refused("missing_permission", tenant.pk, operator, "teams:write", write=True)
    refused("missing_permission", tenant.pk, operator, PLATFORM_ADMIN)
    assert gate(tenant.pk, admin, PLATFORM_ADMIN, write=True).allows("tenant:admin")
