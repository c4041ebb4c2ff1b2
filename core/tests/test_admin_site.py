"""Platform staff pass a second factor before the admin opens, when the rule is on."""

from __future__ import annotations

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.services import mfa
from accounts.tests.conftest import totp_code
from accounts.tests.factories import UserFactory


@pytest.fixture
def staff_with_device():
    user = UserFactory.create(platform_admin=True)
    mfa.totp_enroll(user=user)
    mfa.totp_confirm(user=user, code=totp_code(user, confirmed=False))
    return user


@pytest.mark.django_db
def test_admin__rule_off__password_login_is_enough(client, settings, staff_with_device):
    settings.QM_STAFF_REQUIRE_2FA = False
    client.force_login(staff_with_device)

    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_admin__rule_on_unverified__sent_to_the_verify_page(client, settings, staff_with_device):
    settings.QM_STAFF_REQUIRE_2FA = True
    client.force_login(staff_with_device)

    index = client.get("/admin/")
    login = client.get("/admin/login/")

    assert index.status_code == 302
    assert login.status_code == 302
    assert login["Location"] == "/admin/verify/"


@pytest.mark.django_db
def test_admin__rule_on__right_code_opens_wrong_code_does_not(client, settings, staff_with_device):
    settings.QM_STAFF_REQUIRE_2FA = True
    client.force_login(staff_with_device)

    wrong = client.post("/admin/verify/", {"code": "000000"})
    still_closed = client.get("/admin/")
    # django-otp throttles after a wrong code (1 s, doubling); wait it out instead of sleeping.
    TOTPDevice.objects.filter(user=staff_with_device).update(throttling_failure_timestamp=None)
    right = client.post("/admin/verify/", {"code": totp_code(staff_with_device, steps_ahead=1)})
    opened = client.get("/admin/")

    assert wrong.status_code == 200
    assert b"The code is wrong or was already used." in wrong.content
    assert still_closed.status_code == 302
    assert right.status_code == 302
    assert opened.status_code == 200


@pytest.mark.django_db
def test_admin__rule_on_no_device__told_how_to_enrol(client, settings):
    settings.QM_STAFF_REQUIRE_2FA = True
    client.force_login(UserFactory.create(platform_admin=True))

    response = client.get("/admin/verify/")

    assert response.status_code == 200
    assert b"/api/v1/auth/2fa/totp" in response.content
