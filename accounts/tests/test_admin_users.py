"""The user admin: staff look, platform admins change, and every change is audited."""

from __future__ import annotations

import pytest

from accounts.models import User
from accounts.services.auth import session_start
from accounts.tests.factories import UserFactory
from audit.models import AuditLogEntry
from core.tenancy import platform_bypass


@pytest.mark.django_db
def test_user_admin__operator__views_but_cannot_change(client):
    client.force_login(UserFactory.create(platform_operator=True))
    target = UserFactory.create()

    listed = client.get("/admin/accounts/user/")
    change = client.post(f"/admin/accounts/user/{target.pk}/change/", {"email": target.email})

    assert listed.status_code == 200
    assert target.email.encode() in listed.content
    assert change.status_code == 403


@pytest.mark.django_db
def test_user_admin__platform_admin_deactivates__audited_and_sessions_end(client):
    admin_user = UserFactory.create(platform_admin=True)
    client.force_login(admin_user)
    target = UserFactory.create(email="leaver@example.com")
    session = session_start(user=target, request=None, mfa_verified=False).session
    form = client.get(f"/admin/accounts/user/{target.pk}/change/").context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "password"}
    data.update(
        {"email": target.email, "platform_role": "none", "is_active": "", "date_joined_0": "", "_save": "1"}
    )
    data["date_joined"] = target.date_joined.strftime("%Y-%m-%d %H:%M:%S")

    response = client.post(f"/admin/accounts/user/{target.pk}/change/", data)

    assert response.status_code == 302, response.content[:2000]
    assert User.objects.get(pk=target.pk).is_active is False
    session.refresh_from_db()
    assert session.revoke_reason == "deactivated"
    with platform_bypass(reason="test", log=False):
        entry = AuditLogEntry.objects.get(action="user.updated")
    assert entry.details["changes"]["is_active"] == {"old": True, "new": False}
    assert entry.severity == "warning"
