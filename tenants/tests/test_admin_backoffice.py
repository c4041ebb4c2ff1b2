"""Tenants in the back office (issue 12): a tenant's History shows its audit entries; invites
are listed and revoked through the service; the tenant page links its members, keys, credits
and subscription; memberships are titled by e-mail and tenant name."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from core.tenancy import platform_bypass
from tenants.models import Invite, InviteStatus, Membership
from tenants.tests.factories import InviteFactory, member


@pytest.fixture
def staff(db):
    return UserFactory.create(platform_admin=True)


@pytest.mark.django_db
def test_tenant_history__after_suspension__shows_the_audit_entry(client, staff, tenant):
    client.force_login(staff)
    client.post(
        "/admin/tenants/tenant/",
        {
            "action": "suspend_selected",
            "_selected_action": [tenant.pk],
            "apply": "1",
            "reason": "Unpaid invoices",
        },
    )

    history = client.get(f"/admin/tenants/tenant/{tenant.pk}/history/").content.decode()

    assert "tenant.suspended" in history
    assert "Unpaid invoices" in history


@pytest.mark.django_db
def test_invite_revoke_action__pending__revoked_and_audited(client, staff, tenant):
    invite = InviteFactory.create(tenant=tenant, expires_at=timezone.now() + timedelta(days=3))
    client.force_login(staff)

    listing = client.get("/admin/tenants/invite/")
    client.post("/admin/tenants/invite/", {"action": "revoke_selected", "_selected_action": [str(invite.pk)]})
    history = client.get(f"/admin/tenants/invite/{invite.pk}/history/")

    assert invite.email.encode() in listing.content
    with platform_bypass(reason="test", log=False):
        assert Invite.objects.get(pk=invite.pk).status == InviteStatus.REVOKED
    assert b"invite.revoked" in history.content


@pytest.mark.django_db
def test_tenant_page__related_links__members_keys_credits(client, staff, tenant):
    client.force_login(staff)

    page = client.get(f"/admin/tenants/tenant/{tenant.pk}/change/").content.decode()

    assert f"/admin/tenants/membership/?tenant__id__exact={tenant.pk}" in page
    assert f"/admin/accounts/apikey/?tenant__id__exact={tenant.pk}" in page
    assert f"/admin/tenants/invite/?tenant__id__exact={tenant.pk}" in page


@pytest.mark.django_db
def test_membership_page__titled_by_email_and_tenant_name(client, staff, tenant):
    user = member(tenant, "admin")
    with platform_bypass(reason="test", log=False):
        membership = Membership.objects.get(user=user, tenant=tenant)
    client.force_login(staff)

    page = client.get(f"/admin/tenants/membership/{membership.pk}/change/").content.decode()

    assert f"{user.email} in {tenant.name}" in page
    assert str(user.pk) not in page.split("<title>")[1].split("</title>")[0]
