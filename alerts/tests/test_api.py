from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from accounts.permissions import SYSTEM_ROLES
from alerts.tests.factories import make_alert
from core.tenancy import platform_bypass

pytestmark = pytest.mark.django_db


def _list(tenant: Any) -> str:
    return f"/api/v1/tenants/{tenant.pk}/alerts/"


def _act(tenant: Any, alert: Any, action: str) -> str:
    return f"/api/v1/tenants/{tenant.pk}/alerts/{alert.pk}/{action}"


def test_alerts_list__viewer__sees_own_tenant_only_no_platform_alerts(
    tenant: Any, other_tenant: Any, viewer: Any, as_user: Any
) -> None:
    mine = make_alert(tenant, title="Mine")
    make_alert(other_tenant, title="Theirs")
    make_alert(None, title="Platform")

    response = as_user(viewer).get(_list(tenant))

    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [str(mine.pk)]
    assert response.json()["results"][0]["status"] == "open"


def test_alerts_list__filters__applied_and_bad_value_400(tenant: Any, owner: Any, as_user: Any) -> None:
    crit = make_alert(tenant, severity="critical")
    make_alert(tenant, severity="info")
    client = as_user(owner)

    assert [r["id"] for r in client.get(_list(tenant), {"severity": "critical"}).json()["results"]] == [
        str(crit.pk)
    ]
    assert client.get(_list(tenant), {"status": "resolved"}).json()["count"] == 0
    bad = client.get(_list(tenant), {"status": "maybe"})
    assert bad.status_code == 400
    assert "status" in bad.json()["errors"]
    assert client.get(_list(tenant), {"colour": "red"}).status_code == 400


def test_alerts_list__many_rows__query_count_constant(tenant: Any, owner: Any, as_user: Any) -> None:
    client = as_user(owner)
    make_alert(tenant)
    client.get(_list(tenant))  # warm caches
    with CaptureQueriesContext(connection) as few:
        client.get(_list(tenant))
    for _ in range(6):
        alert = make_alert(tenant)
        client.post(_act(tenant, alert, "acknowledge"))
    with CaptureQueriesContext(connection) as many:
        response = client.get(_list(tenant))

    assert response.json()["count"] == 7
    assert len(many) == len(few)


def test_alert_acknowledge__admin__acknowledged_with_actor(tenant: Any, admin: Any, as_user: Any) -> None:
    alert = make_alert(tenant)

    response = as_user(admin).post(_act(tenant, alert, "acknowledge"))

    assert response.status_code == 200
    assert response.json()["status"] == "acknowledged"
    assert response.json()["acknowledged_by"] == admin.email


def test_alert_acknowledge__viewer_or_member__403(
    tenant: Any, viewer: Any, plain_member: Any, as_user: Any
) -> None:
    alert = make_alert(tenant)

    for user in (viewer, plain_member):
        response = as_user(user).post(_act(tenant, alert, "acknowledge"))
        assert response.status_code == 403
        assert response.json()["code"] == "missing_permission"


def test_alert_acknowledge__other_tenants_alert__404(
    tenant: Any, other_tenant: Any, owner: Any, as_user: Any
) -> None:
    theirs = make_alert(other_tenant)

    response = as_user(owner).post(_act(tenant, theirs, "acknowledge"))

    assert response.status_code == 404


def test_alert_resolve__platform_alert_via_tenant_route__404(tenant: Any, owner: Any, as_user: Any) -> None:
    platform = make_alert(None)

    assert as_user(owner).post(_act(tenant, platform, "resolve")).status_code == 404


def test_alert_acknowledge__resolved__409(tenant: Any, owner: Any, as_user: Any) -> None:
    alert = make_alert(tenant)
    client = as_user(owner)
    assert client.post(_act(tenant, alert, "resolve"), {"reason": "done"}, format="json").status_code == 200

    response = client.post(_act(tenant, alert, "acknowledge"))

    assert response.status_code == 409
    assert response.json()["code"] == "alert_resolved"


def test_alert_resolve__twice__200_both_same_time(tenant: Any, owner: Any, as_user: Any) -> None:
    alert = make_alert(tenant)
    client = as_user(owner)

    first = client.post(_act(tenant, alert, "resolve"))
    second = client.post(_act(tenant, alert, "resolve"))

    assert first.status_code == second.status_code == 200
    assert first.json()["resolved_at"] == second.json()["resolved_at"]
    assert second.json()["status"] == "resolved"


def test_alert_resolve__unknown_field__400(tenant: Any, owner: Any, as_user: Any) -> None:
    alert = make_alert(tenant)

    response = as_user(owner).post(_act(tenant, alert, "resolve"), {"status": "open"}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"]["status"]


def test_platform_alerts__operator__every_alert_incl_platform(
    tenant: Any, other_tenant: Any, platform_operator: Any, as_user: Any
) -> None:
    ids = {str(make_alert(t).pk) for t in (tenant, other_tenant, None)}

    everything = as_user(platform_operator).get("/api/v1/alerts/")
    platform_only = as_user(platform_operator).get("/api/v1/alerts/", {"platform_only": "true"})

    assert everything.status_code == 200
    assert {r["id"] for r in everything.json()["results"]} == ids
    assert [r["tenant_id"] for r in platform_only.json()["results"]] == [None]


def test_platform_alerts__tenant_owner__403(tenant: Any, owner: Any, as_user: Any) -> None:
    response = as_user(owner).get("/api/v1/alerts/")

    assert response.status_code == 403
    assert response.json()["code"] == "platform_staff_only"


def test_alerts__permissions__owner_admin_write_member_viewer_read(tenant: Any) -> None:
    for role in ("owner", "admin"):
        assert {"alerts:read", "alerts:write"} <= set(SYSTEM_ROLES[role]["permissions"])
    for role in ("member", "viewer"):
        assert "alerts:read" in SYSTEM_ROLES[role]["permissions"]
        assert "alerts:write" not in SYSTEM_ROLES[role]["permissions"]
    # and the database's system roles took them (accounts migration)
    with platform_bypass(reason="test", log=False):
        stored = {r.slug: set(r.permissions) for r in Role.objects.filter(tenant=None)}
    assert "alerts:write" in stored["admin"]
    assert "alerts:write" not in stored["viewer"]
    assert "alerts:read" in stored["viewer"]
