"""People and access in the back office: the unlock and revoke actions ask for a reason and go
through the services (audited); History shows the audit entries; the login lands on the index;
a tenant member is sent to the console; the staff's second factor is enrolled in the browser,
and a wrong code is answered with the wait."""

from __future__ import annotations

import re

import pytest
from axes.models import AccessAttempt
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import ApiKey
from accounts.services import mfa
from accounts.tests.conftest import totp_code
from accounts.tests.factories import TEST_PASSWORD, ApiKeyFactory, UserFactory
from audit.models import AuditLogEntry
from core.tenancy import platform_bypass


def _audit(action: str) -> list[AuditLogEntry]:
    with platform_bypass(reason="test", log=False):
        return list(AuditLogEntry.objects.filter(action=action).order_by("created_at"))


@pytest.fixture
def staff(db):
    return UserFactory.create(platform_admin=True)


@pytest.mark.django_db
def test_unlock_action__reason_given__lockout_lifted_and_audited(client, staff):
    locked = UserFactory.create()
    AccessAttempt.objects.create(
        username=locked.email,
        ip_address="10.0.0.1",
        user_agent="x",
        failures_since_start=5,
        attempt_time=timezone.now(),
    )
    client.force_login(staff)

    ask = client.post(
        "/admin/accounts/user/", {"action": "unlock_selected", "_selected_action": [str(locked.pk)]}
    )
    done = client.post(
        "/admin/accounts/user/",
        {
            "action": "unlock_selected",
            "_selected_action": [str(locked.pk)],
            "apply": "1",
            "reason": "Called support",
        },
    )

    assert ask.status_code == 200
    assert b"Unlock users" in ask.content
    assert done.status_code == 302
    assert not AccessAttempt.objects.filter(username=locked.email).exists()
    [entry] = _audit("auth.account_unlocked")
    assert entry.details["reason"] == "Called support"
    assert entry.actor_user_id == staff.pk


@pytest.mark.django_db
def test_unlock_action__operator__not_offered(client):
    operator = UserFactory.create(platform_operator=True)
    client.force_login(operator)

    response = client.get("/admin/accounts/user/")

    assert response.status_code == 200
    assert b"unlock_selected" not in response.content


@pytest.mark.django_db
def test_revoke_key_action__reason_given__key_revoked_and_audited(client, staff):
    key = ApiKeyFactory.create()
    client.force_login(staff)

    done = client.post(
        "/admin/accounts/apikey/",
        {
            "action": "revoke_selected",
            "_selected_action": [str(key.pk)],
            "apply": "1",
            "reason": "Leaked in a repo",
        },
    )
    history = client.get(f"/admin/accounts/apikey/{key.pk}/history/")

    assert done.status_code == 302
    with platform_bypass(reason="test", log=False):
        assert ApiKey.objects.get(pk=key.pk).revoked_at is not None
    [entry] = _audit("api_key.revoked")
    assert entry.details["reason"] == "Leaked in a repo"
    assert b"api_key.revoked" in history.content
    assert b"Leaked in a repo" in history.content


@pytest.mark.django_db
def test_api_key_changelist__more_keys__same_query_count(client, staff):
    ApiKeyFactory.create()
    client.force_login(staff)
    with CaptureQueriesContext(connection) as first:
        client.get("/admin/accounts/apikey/")
    ApiKeyFactory.create_batch(4)
    with CaptureQueriesContext(connection) as second:
        client.get("/admin/accounts/apikey/")

    assert len(second.captured_queries) == len(first.captured_queries)


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["apikey", "usersession", "backupcodes", "accessattempt", "accesslog"])
def test_new_pages__staff__load(client, staff, page):
    client.force_login(staff)
    app = "axes" if page.startswith("access") else "accounts"

    assert client.get(f"/admin/{app}/{page}/").status_code == 200


@pytest.mark.django_db
def test_index__app_names__human(client, staff):
    client.force_login(staff)

    html = client.get("/admin/").content.decode()

    assert "Backup codes" in html
    assert "Static devices" not in html
    assert "Sign-in lockouts" in html
    assert "Otp_Static" not in html
    assert ">Axes<" not in html


@pytest.mark.django_db
def test_admin_login__opened_directly__lands_on_the_index(client, settings, staff):
    settings.QM_STAFF_REQUIRE_2FA = False

    response = client.post("/admin/login/", {"username": staff.email, "password": TEST_PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/admin/"


@pytest.mark.django_db
def test_admin_login__tenant_member__told_to_use_the_console(client):
    member = UserFactory.create()

    response = client.post("/admin/login/", {"username": member.email, "password": TEST_PASSWORD})

    html = response.content.decode()
    assert response.status_code == 200
    assert "Tenant owners and members sign in to the console" in html
    assert 'href="/signin/">sign in there</a>' in html


@pytest.mark.django_db
def test_verify__wrong_code__answered_with_the_wait(client, settings, staff):
    settings.QM_STAFF_REQUIRE_2FA = True
    mfa.totp_enroll(user=staff)
    mfa.totp_confirm(user=staff, code=totp_code(staff, confirmed=False))
    client.force_login(staff)

    wrong = client.post("/admin/verify/", {"code": "000000"})
    right_too_soon = client.post("/admin/verify/", {"code": totp_code(staff, steps_ahead=1)})

    assert wrong.status_code == 200
    assert re.search(rb"You can try again in \d+ seconds?\.", wrong.content)
    assert right_too_soon.status_code == 429
    assert re.search(rb"Too many wrong codes: try again in \d+ seconds?\.", right_too_soon.content)
    assert b"border" in wrong.content  # unfold's bordered input, not a bare box


@pytest.mark.django_db
def test_enroll__in_the_browser__qr_then_backup_codes_once_and_session_verified(client, settings, staff):
    settings.QM_STAFF_REQUIRE_2FA = True
    client.force_login(staff)

    closed = client.get("/admin/")
    page = client.get("/admin/enroll/")
    confirmed = client.post("/admin/enroll/", {"code": totp_code(staff, confirmed=False)})
    opened = client.get("/admin/")
    again = client.get("/admin/enroll/")

    assert closed.status_code == 302
    assert b"<svg" in page.content
    assert page["Cache-Control"] == "no-store"
    assert confirmed.status_code == 200
    codes = re.findall(rb'<li class="[^"]*">([0-9a-f]{10})</li>', confirmed.content)
    assert len(codes) == 10
    assert opened.status_code == 200
    assert again.status_code == 302  # enrolled: no second QR code
