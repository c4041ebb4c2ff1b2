"""The failed-login policy (accounts.services.lockout): nobody locks an owner out on purpose.

Issue 10, finding 2: five wrong passwords for a victim's e-mail, from anywhere, used to lock the
victim out for 15 minutes, renewable at will. Now an address is locked out of an account only by
its own failures; across addresses, a backoff holds back unknown devices only.
Finding 3: wrong current passwords at /auth/password/change count as failed logins.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.utils import timezone
from freezegun import freeze_time
from rest_framework.test import APIClient

from accounts.tests.conftest import bearer, login, totp_code
from accounts.tests.factories import TEST_PASSWORD, UserFactory
from audit.models import AuditLogEntry
from core.tenancy import platform_bypass

VICTIM_IP = "203.0.113.7"
ATTACKER_IP = "198.51.100.66"


def from_ip(ip: str) -> APIClient:
    return APIClient(REMOTE_ADDR=ip)


def fail(email: str, ip: str, times: int = 1) -> list[Any]:
    return [login(from_ip(ip), email, "wrong-password-123") for _ in range(times)]


def spread_failures(email: str, count: int) -> None:
    """`count` wrong passwords, each from its own address (a botnet), each checked."""
    for n in range(count):
        response = login(from_ip(f"198.51.100.{n + 1}"), email, "wrong-password-123")
        assert response.status_code == 401, response.json()


def recorded_failures(email: str, count: int) -> None:
    """`count` failures as django-axes records them, from as many addresses, just now."""
    AccessFailureLog.objects.bulk_create(
        AccessFailureLog(username=email, ip_address=f"10.0.{n // 250}.{n % 250 + 1}", user_agent="bot")
        for n in range(count)
    )


@pytest.fixture
def victim() -> Any:
    return UserFactory.create(email="victim@example.com")


@pytest.mark.django_db
def test_lockout__attacker_fails_five_times__attacker_locked_and_victim_logs_in_from_its_address(victim):
    refused = fail(victim.email, ATTACKER_IP, times=6)

    # The fifth failure locks the address at once; the sixth attempt is refused unchecked.
    assert [r.status_code for r in refused] == [401] * 4 + [429, 429]
    assert refused[-1].json()["code"] == "account_locked"
    assert 1 <= int(refused[-1]["Retry-After"]) <= 15 * 60
    # The right password from the attacker's address is refused too (the lock is the address's).
    assert login(from_ip(ATTACKER_IP), victim.email).status_code == 429
    response = login(from_ip(VICTIM_IP), victim.email)
    assert response.status_code == 200, response.json()
    assert response.json()["access"]


@pytest.mark.django_db
def test_lockout__attempts_while_locked__do_not_renew_the_lock(victim):
    fail(victim.email, ATTACKER_IP, times=5)
    with freeze_time(timezone.now() + timedelta(minutes=10)):
        assert login(from_ip(ATTACKER_IP), victim.email).status_code == 429
    with freeze_time(timezone.now() + timedelta(minutes=16)):
        assert login(from_ip(ATTACKER_IP), victim.email).status_code == 200


@pytest.mark.django_db
def test_lockout__failures_counted_per_address__in_axes_rows_keyed_by_address(victim):
    fail(victim.email, ATTACKER_IP, times=2)
    fail(victim.email, VICTIM_IP, times=1)

    counts = dict(
        AccessAttempt.objects.filter(username=victim.email).values_list("ip_address", "failures_since_start")
    )
    assert counts == {ATTACKER_IP: 2, VICTIM_IP: 1}
    assert AccessFailureLog.objects.filter(username=victim.email).count() == 3


@pytest.mark.django_db
def test_backoff__failures_from_many_addresses__unknown_device_held_back_without_a_password_check(
    victim, settings
):
    settings.QM_LOCKOUT_ACCOUNT_THRESHOLD = 10
    spread_failures(victim.email, 8)
    recorded_failures(victim.email, 4)  # 12 failures: a backoff of 2 ** (12 - 10) seconds
    checked_before = AccessFailureLog.objects.filter(username=victim.email).count()

    right = login(from_ip(VICTIM_IP), victim.email)
    wrong = login(from_ip(VICTIM_IP), victim.email, "wrong-password-123")

    # The same answer for the right and a wrong password: the backoff tells nothing.
    for response in (right, wrong):
        assert response.status_code == 429
        assert response.json()["code"] == "login_backoff"
        assert 1 <= int(response["Retry-After"]) <= 4
    assert AccessFailureLog.objects.filter(username=victim.email).count() == checked_before
    with platform_bypass(reason="test", log=False):
        assert AuditLogEntry.objects.filter(action="auth.login_backoff").count() == 2


@pytest.mark.django_db
def test_backoff__known_device_token__logs_in_during_the_backoff(victim, settings):
    settings.QM_LOCKOUT_ACCOUNT_THRESHOLD = 10
    device_token = login(from_ip(VICTIM_IP), victim.email).json()["device_token"]
    spread_failures(victim.email, 10)

    response = login(from_ip("192.0.2.200"), victim.email, device_token=device_token)

    assert response.status_code == 200, response.json()
    assert response.json()["access"]


@pytest.mark.django_db
def test_backoff__another_accounts_device_token__still_held_back(victim, settings):
    settings.QM_LOCKOUT_ACCOUNT_THRESHOLD = 10
    other = UserFactory.create()
    foreign_token = login(from_ip(VICTIM_IP), other.email).json()["device_token"]
    spread_failures(victim.email, 10)

    forged = login(from_ip(VICTIM_IP), victim.email, device_token=foreign_token + "x")
    foreign = login(from_ip(VICTIM_IP), victim.email, device_token=foreign_token)

    assert (forged.status_code, forged.json()["code"]) == (429, "login_backoff")
    assert (foreign.status_code, foreign.json()["code"]) == (429, "login_backoff")


@pytest.mark.django_db
def test_backoff__account_with_a_second_factor__password_leads_to_the_challenge(victim, settings):
    from accounts.services import mfa

    mfa.totp_enroll(user=victim)
    mfa.totp_confirm(user=victim, code=totp_code(victim, confirmed=False))
    settings.QM_LOCKOUT_ACCOUNT_THRESHOLD = 10
    spread_failures(victim.email, 10)

    response = login(from_ip(VICTIM_IP), victim.email)

    assert response.status_code == 200, response.json()
    assert response.json()["mfa_required"] is True
    assert "access" not in response.json()


@pytest.mark.django_db
def test_backoff__after_the_delay__one_password_check__a_failure_doubles_the_delay(victim, settings):
    settings.QM_LOCKOUT_ACCOUNT_THRESHOLD = 10
    spread_failures(victim.email, 8)
    recorded_failures(victim.email, 4)  # 12 failures: 4 s

    with freeze_time(timezone.now() + timedelta(seconds=5)):
        assert login(from_ip(VICTIM_IP), victim.email, "wrong-password-123").status_code == 401
        held = login(from_ip(VICTIM_IP), victim.email)
        assert held.status_code == 429
        assert int(held["Retry-After"]) == 8  # 2 ** (13 - 10) after that failure
    with freeze_time(timezone.now() + timedelta(seconds=5 + 9)):
        assert login(from_ip(VICTIM_IP), victim.email).status_code == 200


@pytest.mark.django_db
def test_backoff__delay_capped_at_the_cooloff__and_forgotten_after_the_window(victim, settings):
    settings.QM_LOCKOUT_ACCOUNT_THRESHOLD = 2
    recorded_failures(victim.email, 40)  # 2 ** 38 s uncapped

    held = login(from_ip(VICTIM_IP), victim.email)
    assert held.status_code == 429
    assert int(held["Retry-After"]) == 15 * 60
    with freeze_time(timezone.now() + timedelta(hours=25)):
        assert login(from_ip(VICTIM_IP), victim.email).status_code == 200


@pytest.mark.django_db
def test_backoff__unknown_email__answers_exactly_like_an_account(settings):
    settings.QM_LOCKOUT_ACCOUNT_THRESHOLD = 10
    spread_failures("nobody@example.com", 10)

    response = login(from_ip(VICTIM_IP), "nobody@example.com")

    assert (response.status_code, response.json()["code"]) == (429, "login_backoff")


@pytest.mark.django_db
def test_lockout__existing_session__keeps_working_while_the_account_is_attacked(victim, settings):
    settings.QM_LOCKOUT_ACCOUNT_THRESHOLD = 10
    access = login(from_ip(VICTIM_IP), victim.email).json()["access"]
    spread_failures(victim.email, 10)
    fail(victim.email, VICTIM_IP, times=1)

    response = bearer(access).get("/api/v1/auth/me")

    assert response.status_code == 200
    assert response.json()["user"]["email"] == victim.email


@pytest.mark.django_db
def test_lockout__staff_unlock__lifts_the_address_lock_and_the_backoff(victim, settings):
    settings.QM_LOCKOUT_ACCOUNT_THRESHOLD = 17
    staff = UserFactory.create(platform_role="platform_admin")
    fail(victim.email, ATTACKER_IP, times=5)
    spread_failures(victim.email, 12)
    assert login(from_ip("192.0.2.99"), victim.email).json()["code"] == "login_backoff"

    unlocked = bearer(login(from_ip("192.0.2.1"), staff.email).json()["access"]).post(
        f"/api/v1/platform/users/{victim.pk}/unlock"
    )

    assert unlocked.status_code == 200, unlocked.json()
    assert unlocked.json()["attempts_cleared"] == 13
    assert not AccessFailureLog.objects.filter(username=victim.email).exists()
    assert login(from_ip(ATTACKER_IP), victim.email).status_code == 200
    assert login(from_ip("192.0.2.99"), victim.email).status_code == 200


# --- Finding 3: the current password at /auth/password/change --------------------------------


def change_password(client: APIClient, current: str) -> Any:
    return client.post(
        "/api/v1/auth/password/change",
        {"current_password": current, "new_password": "a-brand-new-passphrase-42"},
        format="json",
    )


@pytest.mark.django_db
def test_password_change__wrong_current_passwords__counted_and_locked_like_logins(victim):
    access = login(from_ip(ATTACKER_IP), victim.email).json()["access"]
    client = bearer(access)
    client.defaults["REMOTE_ADDR"] = ATTACKER_IP

    answers = [change_password(client, f"guess-number-{n:03d}") for n in range(12)]

    assert [a.status_code for a in answers[:4]] == [400] * 4
    assert {a.json()["code"] for a in answers[:4]} == {"wrong_password"}
    assert {a.status_code for a in answers[4:]} == {429}
    assert answers[-1].json()["code"] == "account_locked"
    assert AccessFailureLog.objects.filter(username=victim.email).count() == 5
    # Even the right current password is refused from the locked address; logins from there too.
    assert change_password(client, TEST_PASSWORD).status_code == 429
    assert login(from_ip(ATTACKER_IP), victim.email).status_code == 429
    victim.refresh_from_db()
    assert victim.check_password(TEST_PASSWORD)
    # The owner, elsewhere, is not affected.
    assert login(from_ip(VICTIM_IP), victim.email).status_code == 200


@pytest.mark.django_db
def test_password_change__right_current_password__changes_it(victim):
    client = bearer(login(from_ip(VICTIM_IP), victim.email).json()["access"])
    client.defaults["REMOTE_ADDR"] = VICTIM_IP

    response = change_password(client, TEST_PASSWORD)

    assert response.status_code == 204
    victim.refresh_from_db()
    assert victim.check_password("a-brand-new-passphrase-42")
