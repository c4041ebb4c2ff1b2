"""Tenants over HTTP: listing, creation, profile changes, suspension."""

from __future__ import annotations

from typing import Any

import pytest

from audit.models import AuditLogEntry
from core.tenancy import platform_bypass
from tenants.models import Membership, Tenant
from tenants.tests.factories import TenantFactory, member


def audit_entries(action: str) -> list[AuditLogEntry]:
    with platform_bypass(reason="test", log=False):
        return list(AuditLogEntry.objects.filter(action=action).order_by("created_at"))


@pytest.mark.django_db
def test_tenant_list__member__sees_only_their_tenants(as_user, tenant, other_tenant):
    user = member(tenant)
    third = TenantFactory.create()
    member(third, "viewer", user=user)

    response = as_user(user).get("/api/v1/tenants/")

    assert response.status_code == 200
    assert {t["id"] for t in response.json()["results"]} == {str(tenant.pk), str(third.pk)}


@pytest.mark.django_db
def test_tenant_list__platform_operator__sees_every_tenant(as_user, tenant, other_tenant, platform_operator):
    response = as_user(platform_operator).get("/api/v1/tenants/")

    assert {t["id"] for t in response.json()["results"]} == {str(tenant.pk), str(other_tenant.pk)}


@pytest.mark.django_db
def test_tenant_list__anonymous__401(api_client):
    response = api_client.get("/api/v1/tenants/")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.django_db
def test_tenant_list__query_count__independent_of_rows(as_user, django_assert_num_queries):
    user = member(TenantFactory.create())
    client = as_user(user)
    # savepoint, read + set RLS settings, count, page, restore settings, release
    with django_assert_num_queries(7):
        client.get("/api/v1/tenants/")
    for _ in range(8):
        member(TenantFactory.create(), user=user)

    with django_assert_num_queries(7):
        response = client.get("/api/v1/tenants/")

    assert response.json()["count"] == 9


@pytest.mark.django_db
def test_tenant_create__platform_admin__creates_with_owner_and_audits(as_user, platform_admin):
    from accounts.tests.factories import UserFactory

    future_owner = UserFactory.create()

    response = as_user(platform_admin).post(
        "/api/v1/tenants/",
        {
            "name": "Acme Robotics",
            "admin_email": "ops@acme.example",
            "plan": "growth",
            "owner_id": str(future_owner.pk),
        },
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["slug"] == "acme-robotics"
    assert body["plan"] == "growth"
    with platform_bypass(reason="test", log=False):
        membership = Membership.objects.select_related("role").get(tenant_id=body["id"])
    assert membership.user == future_owner
    assert membership.role.slug == "owner"
    assert [e.actor_user_id for e in audit_entries("tenant.created")] == [platform_admin.pk]
    assert len(audit_entries("member.added")) == 1


@pytest.mark.django_db
def test_tenant_create__tenant_owner__403_platform_admin_only(as_user, owner):
    response = as_user(owner).post("/api/v1/tenants/", {"name": "Mine", "admin_email": "a@b.example"})

    assert response.status_code == 403
    assert response.json()["code"] == "platform_admin_only"
    assert Tenant.objects.count() == 1


@pytest.mark.django_db
def test_tenant_create__slug_taken__400_field_error(as_user, platform_admin, tenant):
    response = as_user(platform_admin).post(
        "/api/v1/tenants/", {"name": "Clone", "slug": tenant.slug, "admin_email": "a@b.example"}
    )

    assert response.status_code == 400
    assert "slug" in response.json()["errors"]


@pytest.mark.django_db
def test_tenant_create__bad_timezone__400_field_error(as_user, platform_admin):
    response = as_user(platform_admin).post(
        "/api/v1/tenants/", {"name": "Clone", "admin_email": "a@b.example", "timezone": "Mars/Olympus"}
    )

    assert response.status_code == 400
    assert "timezone" in response.json()["errors"]
    assert not Tenant.objects.filter(name="Clone").exists()


@pytest.mark.django_db
def test_tenant_get__member__200_with_profile(as_user, tenant):
    response = as_user(member(tenant, "viewer")).get(f"/api/v1/tenants/{tenant.pk}/")

    assert response.status_code == 200
    assert response.json()["slug"] == tenant.slug


@pytest.mark.django_db
def test_tenant_update__admin__changes_name_and_audits_old_and_new(as_user, tenant, admin):
    old = tenant.name

    response = as_user(admin).patch(f"/api/v1/tenants/{tenant.pk}/", {"name": "Renamed Inc"})

    assert response.status_code == 200
    assert response.json()["name"] == "Renamed Inc"
    (entry,) = audit_entries("tenant.updated")
    assert entry.details == {"changes": {"name": {"old": old, "new": "Renamed Inc"}}}
    assert entry.tenant_id == tenant.pk


@pytest.mark.django_db
def test_tenant_update__owner_changes_resource_limits__403_platform_staff_only(as_user, tenant, owner):
    response = as_user(owner).patch(
        f"/api/v1/tenants/{tenant.pk}/", {"resource_limits": {"max_agents": 999}}, format="json"
    )

    assert response.status_code == 403
    assert response.json()["code"] == "platform_staff_only"
    assert "resource_limits" in response.json()["errors"]


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["owner", "platform_admin"])
def test_tenant_update__plan__400_pointing_at_the_subscription(as_user, tenant, owner, platform_admin, who):
    caller = owner if who == "owner" else platform_admin

    response = as_user(caller).patch(f"/api/v1/tenants/{tenant.pk}/", {"plan": "enterprise"}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "plan": [f"Change the plan with PATCH /api/v1/tenants/{tenant.pk}/subscription."]
    }
    tenant.refresh_from_db()
    assert tenant.plan != "enterprise"


@pytest.mark.django_db
def test_tenant_update__platform_admin_sets_limits__validated_against_the_schema(
    as_user, tenant, platform_admin
):
    client = as_user(platform_admin)

    bad = client.patch(
        f"/api/v1/tenants/{tenant.pk}/", {"resource_limits": {"max_agents": -1}}, format="json"
    )
    good = client.patch(
        f"/api/v1/tenants/{tenant.pk}/",
        {"resource_limits": {"max_agents": 50, "max_members": 10}},
        format="json",
    )

    assert bad.status_code == 400
    assert "resource_limits" in bad.json()["errors"]
    assert good.status_code == 200
    assert good.json()["resource_limits"] == {"max_agents": 50, "max_members": 10}


@pytest.mark.django_db
def test_tenant_update__admin_requires_2fa__403_needs_tenant_admin(as_user, tenant, admin, owner):
    denied = as_user(admin).patch(f"/api/v1/tenants/{tenant.pk}/", {"require_2fa": True}, format="json")
    allowed = as_user(owner).patch(f"/api/v1/tenants/{tenant.pk}/", {"require_2fa": True}, format="json")

    assert denied.status_code == 403
    assert allowed.status_code == 200
    assert allowed.json()["require_2fa"] is True


def _suspend(client: Any, tenant: Any, reason: str = "Unpaid invoices") -> Any:
    return client.post(f"/api/v1/tenants/{tenant.pk}/suspend", {"reason": reason})


@pytest.mark.django_db
def test_suspend__platform_operator__suspends_with_reason_and_audits(as_user, tenant, platform_operator):
    response = _suspend(as_user(platform_operator), tenant)

    assert response.status_code == 200
    assert response.json()["status"] == "suspended"
    assert response.json()["suspension_reason"] == "Unpaid invoices"
    (entry,) = audit_entries("tenant.suspended")
    assert entry.severity == "warning"
    assert entry.details["reason"] == "Unpaid invoices"


@pytest.mark.django_db
def test_suspend__tenant_owner__403(as_user, tenant, owner):
    response = _suspend(as_user(owner), tenant)

    assert response.status_code == 403
    tenant.refresh_from_db()
    assert tenant.status == "active"


@pytest.mark.django_db
def test_suspend__blank_reason__400_and_nothing_changes(as_user, tenant, platform_admin):
    response = _suspend(as_user(platform_admin), tenant, reason="  ")

    assert response.status_code == 400
    assert "reason" in response.json()["errors"]
    tenant.refresh_from_db()
    assert tenant.status == "active"


@pytest.mark.django_db
def test_suspend__twice__409_already_suspended(as_user, tenant, platform_admin):
    client = as_user(platform_admin)
    _suspend(client, tenant)

    response = _suspend(client, tenant)

    assert response.status_code == 409
    assert response.json()["code"] == "already_suspended"


@pytest.mark.django_db
def test_suspended_tenant__member_write__403_tenant_suspended_and_read_still_works(
    as_user, tenant, owner, platform_admin
):
    _suspend(as_user(platform_admin), tenant)
    client = as_user(owner)

    write = client.post(f"/api/v1/tenants/{tenant.pk}/teams/", {"name": "New team"})
    read = client.get(f"/api/v1/tenants/{tenant.pk}/teams/")

    assert write.status_code == 403
    assert write.json()["code"] == "tenant_suspended"
    assert read.status_code == 200


@pytest.mark.django_db
def test_reactivate__after_suspension__members_can_write_again(as_user, tenant, owner, platform_admin):
    staff = as_user(platform_admin)
    _suspend(staff, tenant)

    response = staff.post(f"/api/v1/tenants/{tenant.pk}/reactivate", {"reason": "Paid"})
    write = as_user(owner).post(f"/api/v1/tenants/{tenant.pk}/teams/", {"name": "New team"})

    assert response.status_code == 200
    assert response.json()["status"] == "active"
    assert response.json()["suspended_at"] is None
    assert write.status_code == 201


@pytest.mark.django_db
def test_reactivate__active_tenant__409_not_suspended(as_user, tenant, platform_admin):
    response = as_user(platform_admin).post(f"/api/v1/tenants/{tenant.pk}/reactivate", {"reason": "x"})

    assert response.status_code == 409
    assert response.json()["code"] == "not_suspended"


@pytest.mark.django_db
def test_tenant_detail__nonexistent_tenant__403_for_members_404_for_staff(as_user, owner, platform_admin):
    import uuid

    missing = uuid.uuid4()

    as_member = as_user(owner).get(f"/api/v1/tenants/{missing}/")
    as_staff = as_user(platform_admin).get(f"/api/v1/tenants/{missing}/")

    assert as_member.status_code == 403
    assert as_member.json()["code"] == "not_a_member"
    assert as_staff.status_code == 404


@pytest.mark.django_db
def test_inactive_user__with_a_valid_membership__gets_nothing(as_user, tenant):
    user = member(tenant, "owner")
    user.is_active = False
    user.save()

    response = as_user(user).get(f"/api/v1/tenants/{tenant.pk}/")

    assert response.status_code in (401, 403)


@pytest.mark.django_db
def test_subscription_update__plan_changed__the_tenants_plan_follows(as_user, platform_admin):
    """Billing owns the plan; the tenant's `plan` is a copy that billing's one service writes."""
    from billing.models import Subscription

    client = as_user(platform_admin)
    created = client.post("/api/v1/tenants/", {"name": "Planner", "admin_email": "p@example.com"}).json()

    response = client.patch(
        f"/api/v1/tenants/{created['id']}/subscription", {"plan": "growth"}, format="json"
    )

    assert response.status_code == 200, response.json()
    with platform_bypass(reason="test", log=False):
        assert Subscription.objects.get(tenant_id=created["id"]).plan.code == "growth"
    assert client.get(f"/api/v1/tenants/{created['id']}/").json()["plan"] == "growth"
