"""actor_role: each entry snapshots the actor's role in the tenant at the time."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from accounts.tests.test_api_keys import make_key, with_key
from audit.models import AuditLogEntry
from audit.services import audit_record
from core.tenancy import platform_bypass, tenant_context
from tenants.tests.factories import TenantFactory, member, system_role


def _entries(tenant: Any, action: str) -> list[AuditLogEntry]:
    with platform_bypass(reason="test", log=False):
        return list(AuditLogEntry.objects.filter(tenant=tenant, action=action))


def _create_team(client: APIClient, tenant: Any, name: str = "Ops") -> None:
    response = client.post(f"/api/v1/tenants/{tenant.pk}/teams/", {"name": name}, format="json")
    assert response.status_code == 201, response.content


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["owner", "admin"])
def test_actor_role__member_writes_through_the_api__their_role_slug(role):
    tenant = TenantFactory.create()
    client = APIClient()
    client.force_authenticate(member(tenant, role))

    _create_team(client, tenant)

    (entry,) = _entries(tenant, "team.created")
    assert entry.actor_role == role


@pytest.mark.django_db
def test_actor_role__role_changes_later__entry_keeps_the_role_at_the_time():
    tenant = TenantFactory.create()
    user = member(tenant, "admin")
    client = APIClient()
    client.force_authenticate(user)
    _create_team(client, tenant, "Before")
    with platform_bypass(reason="test", log=False):
        membership = user.memberships.get(tenant=tenant)
        membership.role = system_role("owner")
        membership.save(update_fields=["role"])

    _create_team(client, tenant, "After")

    roles = sorted((e.target_label, e.actor_role) for e in _entries(tenant, "team.created"))
    assert roles == [("After", "owner"), ("Before", "admin")]


@pytest.mark.django_db
def test_actor_role__api_key__api_key():
    tenant = TenantFactory.create()
    _, raw = make_key(tenant, member(tenant, "admin"), scopes=["teams:read", "teams:write"])

    _create_team(with_key(raw), tenant)

    (entry,) = _entries(tenant, "team.created")
    assert (entry.actor_type, entry.actor_role) == ("api_key", "api_key")


@pytest.mark.django_db
def test_actor_role__platform_admin_not_a_member__platform_role():
    tenant = TenantFactory.create()
    client = APIClient()
    client.force_authenticate(UserFactory.create(platform_admin=True))

    _create_team(client, tenant)

    (entry,) = _entries(tenant, "team.created")
    assert entry.actor_role == "platform_admin"


@pytest.mark.django_db
def test_actor_role__system_and_unknown_callers():
    tenant = TenantFactory.create()
    plain = UserFactory.create()

    with tenant_context(tenant):
        by_system = audit_record(action="x.system", tenant=tenant, system=True)
        by_user_outside_a_request = audit_record(action="x.user", tenant=tenant, actor=plain)

    assert by_system.actor_role == "system"
    assert by_user_outside_a_request.actor_role == ""  # no gate answered: not guessed


@pytest.mark.django_db
def test_actor_role__api_lists_it():
    tenant = TenantFactory.create()
    owner = member(tenant, "owner")
    client = APIClient()
    client.force_authenticate(owner)
    _create_team(client, tenant)

    body = client.get(f"/api/v1/tenants/{tenant.pk}/audit-logs/?action=team.created").json()

    (entry,) = body["results"]
    assert entry["actor_role"] == "owner"
    assert len(entry["hash"]) == 64
    assert entry["chain_seq"] >= 1
