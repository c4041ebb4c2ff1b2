"""The back office for tenants, teams, memberships and roles, and the admin's RLS bypass."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.http import HttpResponse
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from accounts.models import Role
from accounts.tests.factories import UserFactory
from audit.models import AuditLogEntry
from core.admin_bypass import AdminPlatformBypassMiddleware
from core.tenancy import BYPASS_SETTING, platform_bypass
from tenants.models import Membership, Team, Tenant, TenantStatus
from tenants.tests.factories import MembershipFactory, RoleFactory, TeamFactory, TenantFactory, member

ADMIN = "/admin"


def url(model: str, suffix: str = "", app: str = "tenants") -> str:
    return f"{ADMIN}/{app}/{model}/{suffix}"


@pytest.fixture
def staff_admin() -> Any:
    return UserFactory.create(platform_admin=True)


@pytest.fixture
def staff_operator() -> Any:
    return UserFactory.create(platform_operator=True)


@pytest.fixture
def two_tenants() -> dict[str, Any]:
    """Two tenants, each with a team, a custom role and an owner in that team."""
    world: dict[str, Any] = {}
    for key, name in (("a", "Acme Rockets"), ("b", "Bluebird Labs")):
        tenant = TenantFactory.create(name=name)
        team = TeamFactory.create(tenant=tenant, name=f"{name} Ops")
        role = RoleFactory.create(tenant=tenant, name=f"{name} Auditor")
        owner = member(tenant, "owner", team=team)
        with scopes_disabled(), platform_bypass(reason="test", log=False):
            membership = Membership.objects.get(tenant=tenant, user=owner)
        world[key] = {"tenant": tenant, "team": team, "role": role, "owner": owner, "membership": membership}
    return world


def audit_actions(tenant: Tenant) -> list[str]:
    with scopes_disabled(), platform_bypass(reason="test", log=False):
        return list(AuditLogEntry.objects.filter(tenant=tenant).values_list("action", flat=True))


def tenant_form(tenant: Tenant, **changes: Any) -> dict[str, Any]:
    data = {
        "name": tenant.name,
        "admin_email": tenant.admin_email,
        "timezone": tenant.timezone,
        "plan": tenant.plan,
        "resource_limits": json.dumps(tenant.resource_limits),
        "model_defaults": json.dumps(tenant.model_defaults),
    }
    data.update(changes)
    return data


# --- Every page loads for a platform admin, across tenants -----------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (url("tenant"), ["Acme Rockets", "Bluebird Labs"]),
        (url("team"), ["Acme Rockets Ops", "Bluebird Labs Ops"]),
        (url("membership"), ["Acme Rockets", "Bluebird Labs"]),
        (url("role", app="accounts"), ["Acme Rockets Auditor", "Bluebird Labs Auditor", "Owner"]),
    ],
)
def test_admin_changelist__platform_admin__lists_rows_of_both_tenants(
    client, staff_admin, two_tenants, path, expected
):
    client.force_login(staff_admin)

    response = client.get(path)

    assert response.status_code == 200
    for text in expected:
        assert text in response.content.decode()


@pytest.mark.django_db
def test_admin_change_and_add_pages__platform_admin__load(client, staff_admin, two_tenants):
    client.force_login(staff_admin)
    a, b = two_tenants["a"], two_tenants["b"]
    owner_role = Role.objects.get(tenant=None, slug="owner")
    pages = [
        url("tenant", f"{a['tenant'].pk}/change/"),
        url("tenant", f"{b['tenant'].pk}/change/"),
        url("team", f"{b['team'].pk}/change/"),
        url("membership", f"{b['membership'].pk}/change/"),
        url("role", f"{b['role'].pk}/change/", app="accounts"),
        url("role", f"{owner_role.pk}/change/", app="accounts"),
        url("tenant", "add/"),
        url("team", "add/"),
        url("role", "add/", app="accounts"),
        f"{ADMIN}/",
    ]

    statuses = {page: client.get(page).status_code for page in pages}

    assert statuses == dict.fromkeys(pages, 200)


@pytest.mark.django_db
def test_membership_add__platform_admin__not_offered(client, staff_admin):
    client.force_login(staff_admin)

    assert client.get(url("membership", "add/")).status_code == 403


# --- Operators look, never touch; non-staff never get in ---------------------------------------


@pytest.mark.django_db
def test_admin_pages__platform_operator__view_only(client, staff_operator, two_tenants):
    client.force_login(staff_operator)
    b = two_tenants["b"]
    tenant = b["tenant"]

    assert client.get(url("tenant")).status_code == 200
    assert client.get(url("membership")).status_code == 200
    assert client.get(url("tenant", f"{tenant.pk}/change/")).status_code == 200
    assert client.get(url("team", f"{b['team'].pk}/change/")).status_code == 200
    assert client.get(url("tenant", "add/")).status_code == 403
    assert client.get(url("team", "add/")).status_code == 403
    assert client.get(url("role", "add/", app="accounts")).status_code == 403
    assert client.get(url("tenant", f"{tenant.pk}/delete/")).status_code == 403
    assert client.get(url("membership", f"{b['membership'].pk}/delete/")).status_code == 403
    response = client.post(url("tenant", f"{tenant.pk}/change/"), tenant_form(tenant, name="Renamed"))
    assert response.status_code == 403
    tenant.refresh_from_db()
    assert tenant.name == "Bluebird Labs"


@pytest.mark.django_db
def test_tenant_actions__platform_operator__neither_offered_nor_run(client, staff_operator, two_tenants):
    client.force_login(staff_operator)
    tenant = two_tenants["a"]["tenant"]

    page = client.get(url("tenant")).content.decode()
    client.post(
        url("tenant"),
        {"action": "suspend_selected", "_selected_action": [tenant.pk], "apply": "1", "reason": "No"},
    )

    assert "suspend_selected" not in page
    tenant.refresh_from_db()
    assert tenant.status == TenantStatus.ACTIVE


@pytest.mark.django_db
def test_tenant_changelist__members__counted_per_tenant(client, staff_admin, two_tenants):
    client.force_login(staff_admin)
    member(two_tenants["b"]["tenant"], "member")
    member(two_tenants["b"]["tenant"], "viewer")

    response = client.get(url("tenant"))

    counts = {t.name: t.member_count for t in response.context["cl"].result_list}
    assert counts == {"Acme Rockets": 1, "Bluebird Labs": 3}


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["anonymous", "tenant_owner", "staff_without_platform_role"])
def test_admin_pages__not_platform_staff__redirected_to_login(client, two_tenants, who):
    if who == "tenant_owner":
        client.force_login(two_tenants["a"]["owner"])
    elif who == "staff_without_platform_role":
        # is_staff opens the admin site, but without a platform role no page opens to them.
        client.force_login(UserFactory.create(is_staff=True))

    response = client.get(url("tenant"))

    if who == "staff_without_platform_role":
        assert response.status_code == 403
    else:
        assert response.status_code == 302
        assert response["Location"].startswith(f"{ADMIN}/login/")


# --- Suspend / reactivate -----------------------------------------------------------------------


@pytest.mark.django_db
def test_tenant_suspend_action__with_reason__suspends_and_audits(client, staff_admin, two_tenants):
    client.force_login(staff_admin)
    tenant, other = two_tenants["a"]["tenant"], two_tenants["b"]["tenant"]

    confirm = client.post(
        url("tenant"), {"action": "suspend_selected", "_selected_action": [tenant.pk], "index": 0}
    )
    assert confirm.status_code == 200
    assert "reason" in confirm.content.decode()
    tenant.refresh_from_db()
    assert tenant.status == TenantStatus.ACTIVE  # nothing happens before the reason is given

    response = client.post(
        url("tenant"),
        {"action": "suspend_selected", "_selected_action": [tenant.pk], "apply": "1", "reason": "Unpaid"},
    )

    assert response.status_code == 302
    tenant.refresh_from_db()
    other.refresh_from_db()
    assert tenant.status == TenantStatus.SUSPENDED
    assert tenant.suspension_reason == "Unpaid"
    assert other.status == TenantStatus.ACTIVE
    with scopes_disabled(), platform_bypass(reason="test", log=False):
        entry = AuditLogEntry.objects.get(tenant=tenant, action="tenant.suspended")
    assert entry.actor_user_id == staff_admin.pk
    assert entry.details["reason"] == "Unpaid"


@pytest.mark.django_db
def test_tenant_suspend_action__blank_reason__asks_again(client, staff_admin, two_tenants):
    client.force_login(staff_admin)
    tenant = two_tenants["a"]["tenant"]

    response = client.post(
        url("tenant"),
        {"action": "suspend_selected", "_selected_action": [tenant.pk], "apply": "1", "reason": "  "},
    )

    assert response.status_code == 200
    tenant.refresh_from_db()
    assert tenant.status == TenantStatus.ACTIVE
    assert "tenant.suspended" not in audit_actions(tenant)


@pytest.mark.django_db
def test_tenant_suspend_action__one_already_suspended__conflict_reported_others_suspended(
    client, staff_admin, two_tenants
):
    client.force_login(staff_admin)
    a, b = two_tenants["a"]["tenant"], two_tenants["b"]["tenant"]
    client.post(
        url("tenant"),
        {"action": "suspend_selected", "_selected_action": [a.pk], "apply": "1", "reason": "First"},
    )

    response = client.post(
        url("tenant"),
        {"action": "suspend_selected", "_selected_action": [a.pk, b.pk], "apply": "1", "reason": "Second"},
        follow=True,
    )

    page = response.content.decode()
    assert "already suspended" in page
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.status, a.suspension_reason) == (TenantStatus.SUSPENDED, "First")
    assert (b.status, b.suspension_reason) == (TenantStatus.SUSPENDED, "Second")


@pytest.mark.django_db
def test_tenant_reactivate_action__suspended_tenant__reactivated_and_audited(
    client, staff_admin, two_tenants
):
    client.force_login(staff_admin)
    tenant = two_tenants["a"]["tenant"]
    client.post(
        url("tenant"),
        {"action": "suspend_selected", "_selected_action": [tenant.pk], "apply": "1", "reason": "Unpaid"},
    )

    client.post(
        url("tenant"),
        {"action": "reactivate_selected", "_selected_action": [tenant.pk], "apply": "1", "reason": "Paid"},
    )

    tenant.refresh_from_db()
    assert tenant.status == TenantStatus.ACTIVE
    assert "tenant.reactivated" in audit_actions(tenant)


# --- Saves go through the services --------------------------------------------------------------


@pytest.mark.django_db
def test_tenant_change__platform_admin__updated_through_service_and_audited(client, staff_admin, two_tenants):
    client.force_login(staff_admin)
    tenant = two_tenants["a"]["tenant"]

    response = client.post(
        url("tenant", f"{tenant.pk}/change/"), tenant_form(tenant, name="Acme Rocketry", plan="growth")
    )

    assert response.status_code == 302
    tenant.refresh_from_db()
    assert (tenant.name, tenant.plan) == ("Acme Rocketry", "growth")
    with scopes_disabled(), platform_bypass(reason="test", log=False):
        entry = AuditLogEntry.objects.get(tenant=tenant, action="tenant.updated")
    assert entry.details["changes"]["plan"] == {"old": "starter", "new": "growth"}


@pytest.mark.django_db
def test_tenant_add__with_owner__created_through_service_with_owner(client, staff_admin):
    client.force_login(staff_admin)
    owner = UserFactory.create()
    data = {
        "name": "Nimbus Works",
        "slug": "",
        "admin_email": "ops@nimbus.example",
        "timezone": "Europe/Berlin",
        "owner_email": owner.email.upper(),
        "plan": "enterprise",
        "resource_limits": json.dumps({"max_agents": 5, "max_members": 10}),
        "model_defaults": json.dumps({"model_tier": "opus", "thinking_mode": "low"}),
    }

    response = client.post(url("tenant", "add/"), data)

    assert response.status_code == 302
    tenant = Tenant.objects.get(slug="nimbus-works")
    assert (tenant.plan, tenant.timezone) == ("enterprise", "Europe/Berlin")
    assert response["Location"] == url("tenant")
    with scopes_disabled(), platform_bypass(reason="test", log=False):
        assert Membership.objects.get(tenant=tenant, user=owner).role.slug == "owner"
    assert sorted(audit_actions(tenant)) == ["member.added", "tenant.created"]


@pytest.mark.django_db
def test_team_change__slug_taken_in_tenant__refusal_shown_on_form(client, staff_admin, two_tenants):
    client.force_login(staff_admin)
    tenant = two_tenants["a"]["tenant"]
    TeamFactory.create(tenant=tenant, name="Research", slug="research")
    team = two_tenants["a"]["team"]

    response = client.post(
        url("team", f"{team.pk}/change/"), {"name": team.name, "slug": "research", "description": ""}
    )

    assert response.status_code == 200
    assert "A team with this slug exists." in response.content.decode()
    with scopes_disabled(), platform_bypass(reason="test", log=False):
        team.refresh_from_db()
    assert team.slug != "research"
    assert "team.updated" not in audit_actions(tenant)


@pytest.mark.django_db
def test_team_add_and_delete__platform_admin__through_services(client, staff_admin, two_tenants):
    client.force_login(staff_admin)
    tenant = two_tenants["b"]["tenant"]

    created = client.post(url("team", "add/"), {"tenant": tenant.pk, "name": "Night Shift", "slug": ""})
    with scopes_disabled(), platform_bypass(reason="test", log=False):
        team = Team.objects.get(tenant=tenant, slug="night-shift")
    deleted = client.post(url("team", f"{team.pk}/delete/"), {"post": "yes"})

    assert (created.status_code, deleted.status_code) == (302, 302)
    with scopes_disabled(), platform_bypass(reason="test", log=False):
        assert not Team.objects.filter(pk=team.pk).exists()
    assert {"team.created", "team.deleted"} <= set(audit_actions(tenant))


@pytest.mark.django_db
def test_membership_change__role_of_own_tenant__changed_and_audited(client, staff_admin, two_tenants):
    client.force_login(staff_admin)
    tenant = two_tenants["a"]["tenant"]
    target = MembershipFactory.create(tenant=tenant)
    role = two_tenants["a"]["role"]

    response = client.post(url("membership", f"{target.pk}/change/"), {"role": role.pk, "team": ""})

    assert response.status_code == 302
    with scopes_disabled(), platform_bypass(reason="test", log=False):
        target.refresh_from_db()
    assert (target.role_id, target.role_assigned_by_id) == (role.pk, staff_admin.pk)
    assert "member.role_changed" in audit_actions(tenant)


@pytest.mark.django_db
def test_membership_change__other_tenants_role__rejected(client, staff_admin, two_tenants):
    client.force_login(staff_admin)
    target = MembershipFactory.create(tenant=two_tenants["a"]["tenant"])
    foreign_role = two_tenants["b"]["role"]

    response = client.post(url("membership", f"{target.pk}/change/"), {"role": foreign_role.pk, "team": ""})

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    with scopes_disabled(), platform_bypass(reason="test", log=False):
        target.refresh_from_db()
    assert target.role.slug == "member"


@pytest.mark.django_db
def test_membership_delete__last_owner__refused_with_message(client, staff_admin, two_tenants):
    client.force_login(staff_admin)
    a = two_tenants["a"]

    response = client.post(url("membership", f"{a['membership'].pk}/delete/"), {"post": "yes"}, follow=True)

    assert response.status_code == 200
    assert "The last owner cannot be removed." in response.content.decode()
    with scopes_disabled(), platform_bypass(reason="test", log=False):
        assert Membership.objects.filter(pk=a["membership"].pk).exists()
    assert "member.removed" not in audit_actions(a["tenant"])


@pytest.mark.django_db
def test_role_admin__system_role__read_only_even_for_platform_admin(client, staff_admin):
    client.force_login(staff_admin)
    role = Role.objects.get(tenant=None, slug="viewer")

    change = client.post(
        url("role", f"{role.pk}/change/", app="accounts"),
        {"name": "Looker", "description": "", "rank": 10, "permissions": ["tenant:read"]},
    )
    delete = client.post(url("role", f"{role.pk}/delete/", app="accounts"), {"post": "yes"})

    assert (change.status_code, delete.status_code) == (403, 403)
    role.refresh_from_db()
    assert role.name != "Looker"


@pytest.mark.django_db
def test_role_add_and_change__custom_role__through_services(client, staff_admin, two_tenants):
    client.force_login(staff_admin)
    tenant = two_tenants["a"]["tenant"]

    created = client.post(
        url("role", "add/", app="accounts"),
        {
            "tenant": tenant.pk,
            "name": "Billing clerk",
            "slug": "",
            "description": "",
            "permissions": ["credits:read", "tenant:read"],
            "rank": 12,
        },
    )
    assert created.status_code == 302
    with platform_bypass(reason="test", log=False):
        role = Role.objects.get(tenant=tenant, slug="billing-clerk")
    changed = client.post(
        url("role", f"{role.pk}/change/", app="accounts"),
        {"name": "Billing clerk", "description": "", "permissions": ["credits:read"], "rank": 12},
    )

    assert changed.status_code == 302
    with platform_bypass(reason="test", log=False):
        role.refresh_from_db()
    assert role.permissions == ["credits:read"]
    assert {"role.created", "role.updated"} <= set(audit_actions(tenant))


# --- No query per row -------------------------------------------------------------------------


def _count_queries(client: Any, path: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return len(queries)


@pytest.mark.django_db
@pytest.mark.parametrize("path", [url("tenant"), url("team"), url("membership"), url("role", app="accounts")])
def test_admin_changelist__more_rows__same_query_count(client, staff_admin, path):
    client.force_login(staff_admin)
    for _ in range(2):
        tenant = TenantFactory.create()
        team = TeamFactory.create(tenant=tenant)
        RoleFactory.create(tenant=tenant)
        MembershipFactory.create(tenant=tenant, team=team)
    few = _count_queries(client, path)

    for _ in range(8):
        tenant = TenantFactory.create()
        team = TeamFactory.create(tenant=tenant)
        RoleFactory.create(tenant=tenant)
        MembershipFactory.create(tenant=tenant, team=team)
    many = _count_queries(client, path)

    assert many == few


# --- The middleware -----------------------------------------------------------------------------


def _bypass_setting() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(current_setting(%s, true), '')", [BYPASS_SETTING])
        return cursor.fetchone()[0]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "path", "bypassed"),
    [
        ("platform_admin", "/admin/tenants/tenant/", True),
        ("platform_operator", "/admin/", True),
        ("platform_admin", "/api/v1/tenants/", False),
        ("tenant_owner", "/admin/tenants/tenant/", False),
        ("anonymous", "/admin/", False),
    ],
)
def test_admin_bypass_middleware__by_user_and_path__bypass_only_for_staff_in_admin(who, path, bypassed):
    users = {
        "platform_admin": lambda: UserFactory.create(platform_admin=True),
        "platform_operator": lambda: UserFactory.create(platform_operator=True),
        "tenant_owner": lambda: member(TenantFactory.create(), "owner"),
        "anonymous": AnonymousUser,
    }
    request = RequestFactory().get(path)
    request.user = users[who]()
    seen = {}

    def view(request: Any) -> HttpResponse:
        seen["bypass"] = _bypass_setting()
        return HttpResponse("ok")

    AdminPlatformBypassMiddleware(view)(request)

    assert (seen["bypass"] == "on") is bypassed
    assert _bypass_setting() == ""  # never outlives the request


@pytest.mark.django_db
def test_admin_bypass_middleware__server_error__writes_rolled_back():
    request = RequestFactory().post("/admin/tenants/tenant/add/")
    request.user = UserFactory.create(platform_admin=True)

    def view(request: Any) -> HttpResponse:
        TenantFactory.create(slug="half-written")
        return HttpResponse(status=500)

    response = AdminPlatformBypassMiddleware(view)(request)

    assert response.status_code == 500
    assert not Tenant.objects.filter(slug="half-written").exists()
