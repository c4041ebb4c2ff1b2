from __future__ import annotations

import pytest

from tenants.tests.factories import TenantFactory, member


@pytest.mark.django_db
def test_smoke(api_client):
    tenant = TenantFactory.create()
    owner = member(tenant, "owner")
    api_client.force_authenticate(owner)
    r = api_client.get(f"/api/v1/tenants/{tenant.id}/members/")
    print(r.json())
    assert r.status_code == 200
    r = api_client.post(f"/api/v1/tenants/{tenant.id}/teams/", {"name": "Growth"})
    print(r.json())
    assert r.status_code == 201
    r = api_client.get(f"/api/v1/tenants/{tenant.id}/audit-logs/")
    print(r.json())
    assert r.status_code == 200
    r = api_client.get("/api/v1/tenants/")
    print(r.json())
    assert r.status_code == 200
