"""Refused requests are recorded (`access.denied`), after the request's own rollback, and a flood
of them is not: at most one entry per caller, method, route (ids left out) and tenant a minute.
The console's refusals: console/tests/test_audited_reads.py."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.tests.test_api_keys import make_key, with_key
from audit.models import AuditLogEntry
from core import gates
from core.tenancy import platform_bypass
from tenants.tests.factories import TenantFactory, member

pytestmark = pytest.mark.django_db


def _next_minute() -> None:
    """What a minute's wait does to the gate: the process's memory and the cache forget."""
    gates._last.clear()
    cache.clear()


def denied(tenant: Any = None) -> list[AuditLogEntry]:
    with platform_bypass(reason="test", log=False):
        return list(AuditLogEntry.objects.filter(tenant=tenant, action="access.denied").order_by("chain_seq"))


def client_of(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_refusal__member_without_permission__recorded_with_code_path_and_actor():
    tenant = TenantFactory.create()
    user = member(tenant, "viewer")

    response = client_of(user).post(f"/api/v1/tenants/{tenant.pk}/teams/", {"name": "x"}, format="json")

    assert response.status_code == 403
    [entry] = denied(tenant)
    assert entry.details == {
        "method": "POST",
        "path": f"/api/v1/tenants/{tenant.pk}/teams/",
        "code": "missing_permission",
    }
    assert (entry.actor_label, entry.severity) == (user.email, "warning")


def test_refusal__repeated_within_the_minute__one_entry_then_one_more_the_next_minute():
    tenant = TenantFactory.create()
    client = client_of(member(tenant, "viewer"))
    teams = f"/api/v1/tenants/{tenant.pk}/teams/"

    for _ in range(20):
        assert client.post(teams, {"name": "x"}, format="json").status_code == 403
    assert len(denied(tenant)) == 1
    _next_minute()
    assert client.post(teams, {"name": "x"}, format="json").status_code == 403

    assert len(denied(tenant)) == 2


def test_refusal__ids_in_the_path_varied__still_one_entry_for_the_route():
    tenant = TenantFactory.create()
    client = client_of(member(tenant, "member"))  # may not delete teams

    for _ in range(10):
        response = client.delete(f"/api/v1/tenants/{tenant.pk}/teams/{uuid.uuid4()}/")
        assert response.status_code == 403

    assert len(denied(tenant)) == 1


def test_refusal__unknown_tenant_ids_varied__one_entry_without_a_tenant():
    client = client_of(member(TenantFactory.create(), "owner"))

    for _ in range(10):
        assert client.get(f"/api/v1/tenants/{uuid.uuid4()}/members/").status_code == 403

    assert len(denied(None)) == 1


def test_refusal__other_route_method_tenant_or_caller__each_recorded():
    tenant, other = TenantFactory.create(), TenantFactory.create()
    viewer = client_of(member(tenant, "viewer"))
    another_viewer = client_of(member(tenant, "viewer"))

    assert viewer.post(f"/api/v1/tenants/{tenant.pk}/teams/", {"name": "x"}, format="json").status_code == 403
    assert viewer.post(f"/api/v1/tenants/{tenant.pk}/roles/", {"name": "x"}, format="json").status_code == 403
    assert viewer.delete(f"/api/v1/tenants/{tenant.pk}/teams/{uuid.uuid4()}/").status_code == 403
    assert viewer.get(f"/api/v1/tenants/{other.pk}/members/").status_code == 403
    assert (
        another_viewer.post(f"/api/v1/tenants/{tenant.pk}/teams/", {"name": "x"}, format="json").status_code
        == 403
    )

    assert len(denied(tenant)) == 4
    [entry] = denied(other)  # recorded in the chain of the tenant that was asked for
    assert entry.details["code"] == "not_a_member"


def test_refusal__api_key_out_of_scope__recorded_as_the_key_once_a_minute():
    tenant = TenantFactory.create()
    api_key, raw = make_key(tenant, member(tenant, "owner"), scopes=["teams:read"])
    client = with_key(raw)

    for _ in range(3):
        response = client.post(f"/api/v1/tenants/{tenant.pk}/teams/", {"name": "x"}, format="json")
        assert response.status_code == 403

    [entry] = denied(tenant)
    assert (entry.actor_type, entry.actor_api_key_id) == ("api_key", api_key.pk)
