"""Lockout, two-factor authentication, and the races that must have exactly one winner."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from freezegun import freeze_time
from rest_framework.test import APIClient

from accounts.services.mfa import confirmed_totp_device
from accounts.tests.conftest import bearer, login, totp_code
from accounts.tests.factories import TEST_PASSWORD, UserFactory
from audit.models import AuditLogEntry
from core.tenancy import platform_bypass
from tenants.tests.factories import TenantFactory, member


def race(n: int, call: Callable[[int], Any]) -> list[Any]:
    """Run `call(i)` in n threads released at the same instant; return the results in order."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = call(i)
        finally:
            connection.close()  # each thread has its own connection; give it back

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def audit_count(action: str) -> int:
    with platform_bypass(reason="test", log=False):
        return AuditLogEntry.objects.filter(action=action).count()


# --- Lockout ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_lockout__threshold_reached__even_the_right_password_gets_429_with_retry_after(api_client, user):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert login(api_client, user.email, "wrong wrong wrong").status_code == 401
    locking = login(api_client, user.email, "wrong wrong wrong")

    response = login(api_client, user.email)

    assert locking.status_code == 429  # the failure that locks says so at once

    assert response.status_code == 429
    assert response.json()["code"] == "account_locked"
    assert 0 < int(response["Retry-After"]) <= 15 * 60
    assert audit_count("auth.account_locked") == 1


@pytest.mark.django_db
def test_lockout__staff_unlock__login_works_again_and_is_audited(api_client, user):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(api_client, user.email, "wrong wrong wrong")
    staff = APIClient()
    staff.force_authenticate(UserFactory.create(platform_operator=True))

    unlocked = staff.post(f"/api/v1/platform/users/{user.pk}/unlock")

    assert unlocked.status_code == 200
    assert unlocked.json()["attempts_cleared"] >= 1
    assert login(api_client, user.email).status_code == 200
    assert audit_count("auth.account_unlocked") == 1


@pytest.mark.django_db
def test_lockout__unlock_by_a_tenant_owner__403(user):
    owner = member(TenantFactory.create(), "owner")
    client = APIClient()
    client.force_authenticate(owner)

    response = client.post(f"/api/v1/platform/users/{user.pk}/unlock")

    assert response.status_code == 403
    assert response.json()["code"] == "platform_staff_only"


@pytest.mark.django_db
def test_lockout__success_before_threshold__resets_the_count(api_client, user):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        login(api_client, user.email, "wrong wrong wrong")
    assert login(api_client, user.email).status_code == 200

    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        login(api_client, user.email, "wrong wrong wrong")

    assert login(api_client, user.email).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_lockout__50_concurrent_wrong_passwords__never_more_than_the_threshold_checked():
    victim = UserFactory.create(email="victim@example.com")

    statuses = race(50, lambda i: login(APIClient(), victim.email, f"guess number {i}").status_code)

    counts = Counter(statuses)
    # Exactly threshold passwords were checked: threshold-1 plain failures, the one that locked,
    # and every other attempt refused without a check.
    assert counts == {401: settings.AXES_FAILURE_LIMIT - 1, 429: 50 - settings.AXES_FAILURE_LIMIT + 1}
    assert audit_count("auth.login_failed") == settings.AXES_FAILURE_LIMIT
    assert login(APIClient(), victim.email).status_code == 429


# --- Two-factor -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_totp__enrol_confirm__backup_codes_once_and_login_needs_the_second_factor(api_client, user, tokens):
    client = bearer(tokens["access"])

    enrol = client.post("/api/v1/auth/2fa/totp")
    confirm = client.post(
        "/api/v1/auth/2fa/totp/confirm", {"code": totp_code(user, confirmed=False)}, format="json"
    )
    first_step = login(api_client, user.email)

    assert enrol.status_code == 200
    assert enrol.json()["otpauth_uri"].startswith("otpauth://totp/")
    assert enrol.json()["qr_svg"].startswith("<svg")
    assert confirm.status_code == 200
    assert len(set(confirm.json()["backup_codes"])) == 10
    assert first_step.status_code == 200
    assert set(first_step.json()) == {"mfa_required", "challenge_token"}


@pytest.mark.django_db
def test_totp__login_with_code__tokens_and_the_same_code_again__refused(api_client, enrolled_user):
    challenge = login(api_client, enrolled_user.email).json()["challenge_token"]
    code = totp_code(enrolled_user, steps_ahead=1)

    first = api_client.post(
        "/api/v1/auth/login/mfa", {"challenge_token": challenge, "code": code}, format="json"
    )
    again = api_client.post(
        "/api/v1/auth/login/mfa", {"challenge_token": challenge, "code": code}, format="json"
    )

    assert first.status_code == 200
    assert first.json()["mfa_method"] == "totp"
    assert bearer(first.json()["access"]).get("/api/v1/auth/me").status_code == 200
    assert again.status_code == 400
    assert again.json()["code"] == "invalid_code"


@pytest.mark.django_db
def test_backup_code__works_once(api_client, enrolled_user):
    challenge = login(api_client, enrolled_user.email).json()["challenge_token"]
    code = enrolled_user.backup_codes[0]

    first = api_client.post(
        "/api/v1/auth/login/mfa", {"challenge_token": challenge, "code": code}, format="json"
    )
    again = api_client.post(
        "/api/v1/auth/login/mfa", {"challenge_token": challenge, "code": code}, format="json"
    )

    assert first.status_code == 200
    assert first.json()["mfa_method"] == "backup"
    assert again.status_code == 400


@pytest.mark.django_db
def test_backup_codes__stored_as_keyed_hashes_never_as_the_codes(enrolled_user):
    from django_otp.plugins.otp_static.models import StaticToken

    from accounts.services.mfa import backup_code_digest

    stored = set(StaticToken.objects.filter(device__user=enrolled_user).values_list("token", flat=True))

    assert len(stored) == 10
    assert not stored & set(enrolled_user.backup_codes)
    assert stored == {backup_code_digest(code) for code in enrolled_user.backup_codes}


@pytest.mark.django_db
def test_backup_code__after_secret_key_rotation__still_accepted(api_client, enrolled_user, settings):
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-secret-key-for-this-test-" + "x" * 40

    from accounts.services import mfa

    assert mfa.mfa_verify(user=enrolled_user, code=enrolled_user.backup_codes[0]) == "backup"
    settings.SECRET_KEY_FALLBACKS = []  # the old key retired: codes hashed under it stop working
    with pytest.raises(mfa.InvalidCode):
        mfa.mfa_verify(user=enrolled_user, code=enrolled_user.backup_codes[1])


@pytest.mark.django_db
def test_backup_codes__migration__plaintext_codes_become_their_hashes(enrolled_user):
    import importlib

    from django.apps import apps
    from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

    from accounts.services.mfa import backup_code_digest

    migration = importlib.import_module("accounts.migrations.0007_hash_backup_codes")
    device = StaticDevice.objects.get(user=enrolled_user)
    legacy = StaticToken.objects.create(device=device, token="0123456789")  # as stored before
    already = set(StaticToken.objects.exclude(pk=legacy.pk).values_list("token", flat=True))

    migration.hash_plaintext_codes(apps, None)

    legacy.refresh_from_db()
    assert legacy.token == backup_code_digest("0123456789")
    assert set(StaticToken.objects.exclude(pk=legacy.pk).values_list("token", flat=True)) == already


@pytest.mark.django_db
def test_mfa__forged_or_wrong_purpose_challenge__401(api_client, enrolled_user):
    from accounts.services.mfa import challenge_issue

    enroll_challenge = challenge_issue(user=enrolled_user, purpose="enroll")
    code = totp_code(enrolled_user, steps_ahead=1)

    forged = api_client.post(
        "/api/v1/auth/login/mfa", {"challenge_token": "x:y:z", "code": code}, format="json"
    )
    wrong_purpose = api_client.post(
        "/api/v1/auth/login/mfa", {"challenge_token": enroll_challenge, "code": code}, format="json"
    )

    assert forged.status_code == wrong_purpose.status_code == 401
    assert forged.json()["code"] == "invalid_challenge"


@pytest.mark.django_db
def test_mfa__wrong_codes__throttled_with_retry_after(api_client, enrolled_user):
    challenge = login(api_client, enrolled_user.email).json()["challenge_token"]

    statuses = [
        api_client.post(
            "/api/v1/auth/login/mfa", {"challenge_token": challenge, "code": "000000"}, format="json"
        )
        for _ in range(4)
    ]

    assert statuses[0].status_code == 400
    throttled = [r for r in statuses if r.status_code == 429]
    assert throttled, [r.status_code for r in statuses]
    assert throttled[0].json()["code"] == "mfa_throttled"
    assert int(throttled[0]["Retry-After"]) >= 1
    assert f"try again in {throttled[0]['Retry-After']} second" in throttled[0].json()["detail"]


@pytest.mark.django_db
def test_mfa__one_wrong_code__counted_once_and_the_right_code_accepted_after_the_wait(
    api_client, enrolled_user
):
    challenge = login(api_client, enrolled_user.email).json()["challenge_token"]

    wrong = api_client.post(
        "/api/v1/auth/login/mfa", {"challenge_token": challenge, "code": "000000"}, format="json"
    )

    assert wrong.status_code == 400
    assert wrong.json()["code"] == "invalid_code"
    device = confirmed_totp_device(enrolled_user)
    assert device is not None
    assert device.throttling_failure_count == 1  # one typo is one failure, not two
    # django-otp's wait after one failure is one second (it doubles with each further one); a
    # later 30-second window, so that the code is not the one the enrolment used.
    with freeze_time(timezone.now() + timedelta(seconds=35)):
        right = api_client.post(
            "/api/v1/auth/login/mfa",
            {"challenge_token": challenge, "code": totp_code(enrolled_user)},
            format="json",
        )
    assert right.status_code == 200, right.content
    assert "access" in right.json()


@pytest.mark.django_db
def test_mfa__password_changed_after_challenge__challenge_dies(api_client, enrolled_user):
    challenge = login(api_client, enrolled_user.email).json()["challenge_token"]
    enrolled_user.set_password("a brand new pass phrase 7")
    enrolled_user.save()

    response = api_client.post(
        "/api/v1/auth/login/mfa",
        {"challenge_token": challenge, "code": totp_code(enrolled_user, steps_ahead=1)},
        format="json",
    )

    assert response.status_code == 401


@pytest.mark.django_db
def test_tenant_requires_2fa__login_without_device__enrolment_then_tokens(api_client, user):
    tenant = TenantFactory.create(require_2fa=True)
    member(tenant, "member", user=user)

    first = login(api_client, user.email)
    challenge = first.json()["challenge_token"]
    enrol = api_client.post("/api/v1/auth/login/mfa/enroll", {"challenge_token": challenge}, format="json")
    done = api_client.post(
        "/api/v1/auth/login/mfa/enroll/confirm",
        {"challenge_token": challenge, "code": totp_code(user, confirmed=False)},
        format="json",
    )

    assert set(first.json()) == {"mfa_enrollment_required", "challenge_token"}
    assert enrol.status_code == 200
    assert done.status_code == 200
    assert len(done.json()["backup_codes"]) == 10
    assert bearer(done.json()["tokens"]["access"]).get("/api/v1/auth/me").status_code == 200


@pytest.mark.django_db
def test_staff_2fa_rule__on__staff_login_needs_enrolment(api_client, settings):
    settings.QM_STAFF_REQUIRE_2FA = True
    staff = UserFactory.create(platform_operator=True)

    response = login(api_client, staff.email)

    assert response.json().get("mfa_enrollment_required") is True
    assert "access" not in response.json()


@pytest.mark.django_db
def test_totp_disable__needs_a_code__refused_while_a_tenant_requires_it(api_client, enrolled_user):
    challenge = login(api_client, enrolled_user.email).json()["challenge_token"]
    access = api_client.post(
        "/api/v1/auth/login/mfa",
        {"challenge_token": challenge, "code": enrolled_user.backup_codes[0]},
        format="json",
    ).json()["access"]
    client = bearer(access)
    member(TenantFactory.create(require_2fa=True), user=enrolled_user)

    required = client.post(
        "/api/v1/auth/2fa/totp/disable", {"code": enrolled_user.backup_codes[1]}, format="json"
    )
    without_code = client.post("/api/v1/auth/2fa/totp/disable", {"code": "123456"}, format="json")

    assert without_code.status_code == 400
    assert required.status_code == 409
    assert required.json()["code"] == "mfa_required"


@pytest.mark.django_db
def test_totp_disable__with_a_code__login_is_single_step_again(api_client, enrolled_user):
    challenge = login(api_client, enrolled_user.email).json()["challenge_token"]
    access = api_client.post(
        "/api/v1/auth/login/mfa",
        {"challenge_token": challenge, "code": enrolled_user.backup_codes[0]},
        format="json",
    ).json()["access"]

    disabled = bearer(access).post(
        "/api/v1/auth/2fa/totp/disable", {"code": enrolled_user.backup_codes[1]}, format="json"
    )

    assert disabled.status_code == 204
    assert "access" in login(api_client, enrolled_user.email).json()


# --- Races with one winner ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_refresh__20_concurrent_refreshes_of_one_token__exactly_one_new_token():
    user = UserFactory.create()
    refresh = login(APIClient(), user.email).json()["refresh"]

    responses = race(
        20, lambda i: APIClient().post("/api/v1/auth/refresh", {"refresh": refresh}, format="json")
    )

    winners = [r for r in responses if r.status_code == 200]
    assert len(winners) == 1
    assert {r.json()["code"] for r in responses if r.status_code != 200} == {"token_already_rotated"}
    assert bearer(winners[0].json()["access"]).get("/api/v1/auth/me").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_totp__one_code_sent_by_20_concurrent_logins__exactly_one_accepted():
    from accounts.services import mfa

    user = UserFactory.create()
    mfa.totp_enroll(user=user)
    mfa.totp_confirm(user=user, code=totp_code(user, confirmed=False))
    challenge = login(APIClient(), user.email, TEST_PASSWORD).json()["challenge_token"]
    code = totp_code(user, steps_ahead=1)

    responses = race(
        20,
        lambda i: APIClient().post(
            "/api/v1/auth/login/mfa", {"challenge_token": challenge, "code": code}, format="json"
        ),
    )

    assert Counter(r.status_code for r in responses)[200] == 1


@pytest.mark.django_db
def test_platform_setting_requires_2fa__for_one_tenant__its_members_must_enrol(api_client, user):
    from core.tenancy import tenant_context
    from tenants.services import setting_set

    tenant = TenantFactory.create()
    member(tenant, "member", user=user)
    staff = UserFactory.create(platform_admin=True)
    before = login(api_client, user.email).json()

    with tenant_context(tenant):  # services run in their tenant's context, as the API sets it
        setting_set(tenant=tenant, key="security.require_2fa", value=True, actor=staff)
    after = login(api_client, user.email).json()

    assert "access" in before
    assert after.get("mfa_enrollment_required") is True
