"""TOTP seeds at rest (issue 10, finding 15): encrypted with the key ring, bound to the device row,
re-encrypted by `rotate_encryption_key`, never in the clear in django-otp's table or a dump."""

from __future__ import annotations

import base64
import io
import os
import re
import time
from typing import Any

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.util import random_hex

from accounts.models import TOTP_KEY_PLACEHOLDER, EncryptedTOTPDevice, TOTPSeed
from accounts.services import mfa
from accounts.tests.conftest import bearer, login
from accounts.tests.factories import UserFactory
from audit.models import AuditLogEntry
from core import crypto
from core.tenancy import platform_bypass

OLD = base64.b64encode(os.urandom(32)).decode()
NEW = base64.b64encode(os.urandom(32)).decode()


def seed_of(otpauth_uri: str) -> bytes:
    """The seed as the user's authenticator app reads it from the enrolment URI."""
    match = re.search(r"[?&]secret=([A-Z2-7]+)", otpauth_uri)
    assert match, otpauth_uri
    return base64.b32decode(match.group(1))


def code_from(seed: bytes, *, steps_ahead: int = 0) -> str:
    """What an authenticator app holding `seed` shows now (or `steps_ahead` periods later)."""
    totp = TOTP(seed, step=30, t0=0, digits=6)
    totp.time = time.time() + steps_ahead * 30
    return f"{totp.token():06d}"


def enrol(user: Any) -> tuple[bytes, list[str]]:
    """Enrol and confirm through the services; the seed (from the URI) and the backup codes."""
    seed = seed_of(mfa.totp_enroll(user=user)["otpauth_uri"])
    return seed, mfa.totp_confirm(user=user, code=code_from(seed))


def raw_rows(user: Any) -> list[tuple[Any, str, str | None]]:
    """(device id, otp_totp_totpdevice.key, accounts_totpseed.ciphertext) as stored."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT d.id, d.key, s.ciphertext FROM otp_totp_totpdevice d "
            "LEFT JOIN accounts_totpseed s ON s.device_id = d.id WHERE d.user_id = %s ORDER BY d.id",
            [user.pk],
        )
        return list(cursor.fetchall())


def spellings(seed: bytes) -> set[str]:
    """Every way a seed is commonly written: hex (django-otp's column) and base32 (the URI)."""
    b32 = base64.b32encode(seed).decode().rstrip("=")
    return {seed.hex(), seed.hex().upper(), b32, b32.lower()}


@pytest.fixture
def _old_key_ring(settings: Any) -> None:
    settings.QM_ENCRYPTION_KEYS = f"old:{OLD}"


# --- Stored encrypted ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.usefixtures("_old_key_ring")
def test_totp_seed__enrolled__key_column_holds_the_placeholder_and_the_seed_only_as_ciphertext():
    user = UserFactory.create()

    seed, _ = enrol(user)

    [(device_id, key, ciphertext)] = raw_rows(user)
    assert key == TOTP_KEY_PLACEHOLDER
    assert ciphertext is not None
    assert ciphertext.startswith("v1:old:")
    assert not any(s in ciphertext for s in spellings(seed))
    assert crypto.decrypt(ciphertext, context=TOTPSeed.context_for(device_id)) == seed
    assert len(seed) == 20


@pytest.mark.django_db
def test_totp__code_from_the_seed_shown_at_enrolment__verifies_once_after_encryption(api_client):
    user = UserFactory.create()
    seed, _ = enrol(user)
    challenge = login(api_client, user.email).json()["challenge_token"]

    first = api_client.post(
        "/api/v1/auth/login/mfa",
        {"challenge_token": challenge, "code": code_from(seed, steps_ahead=1)},
        format="json",
    )

    assert first.status_code == 200, first.json()
    assert first.json()["mfa_method"] == "totp"
    assert mfa.mfa_enabled(user) is True


@pytest.mark.django_db
def test_totp_enrolment__through_the_api__the_uri_carries_the_seed_the_database_does_not(api_client, user):
    client = bearer(login(api_client, user.email).json()["access"])

    enrolment = client.post("/api/v1/auth/2fa/totp")
    seed = seed_of(enrolment.json()["otpauth_uri"])
    confirm = client.post("/api/v1/auth/2fa/totp/confirm", {"code": code_from(seed)}, format="json")

    assert enrolment.status_code == 200
    assert confirm.status_code == 200, confirm.json()
    [(_, key, ciphertext)] = raw_rows(user)
    assert key == TOTP_KEY_PLACEHOLDER
    assert ciphertext
    assert not any(s in ciphertext for s in spellings(seed))


@pytest.mark.django_db
def test_totp_device__seed_written_through_django_otp_model__refused_by_the_database():
    user = UserFactory.create()

    refused = pytest.raises(IntegrityError, match="otp_totp_totpdevice_key_encrypted_elsewhere")
    with refused, transaction.atomic():
        TOTPDevice.objects.create(user=user, name="plain", key=random_hex(20))

    assert not TOTPDevice.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_totp_disable__with_a_code__device_and_its_encrypted_seed_both_gone():
    user = UserFactory.create()
    seed, _ = enrol(user)

    mfa.totp_disable(user=user, code=code_from(seed, steps_ahead=1))

    assert raw_rows(user) == []
    assert not TOTPSeed.objects.exists()


@pytest.mark.django_db
def test_totp_reenrol__unconfirmed_device_replaced__old_seed_row_deleted_with_it():
    user = UserFactory.create()
    first = seed_of(mfa.totp_enroll(user=user)["otpauth_uri"])

    second = seed_of(mfa.totp_enroll(user=user)["otpauth_uri"])

    [(device_id, _, ciphertext)] = raw_rows(user)
    assert first != second
    assert TOTPSeed.objects.get().device_id == device_id
    assert crypto.decrypt(ciphertext or "", context=TOTPSeed.context_for(device_id)) == second


@pytest.mark.django_db
def test_otp_tables__no_row_level_security__and_the_app_role_is_neither_superuser_nor_bypassrls():
    """What migration 0008 relies on: it runs as the application's role over tables without RLS."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
            "WHERE relname IN ('otp_totp_totpdevice', 'accounts_totpseed') ORDER BY relname"
        )
        tables = cursor.fetchall()
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        role = cursor.fetchone()

    assert tables == [("accounts_totpseed", False, False), ("otp_totp_totpdevice", False, False)]
    assert role == (False, False)


# --- Fails closed --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_totp_seed__ciphertext_moved_to_another_device__code_refused_400_not_500_backup_code_works(
    api_client, caplog
):
    victim, attacker = UserFactory.create(), UserFactory.create()
    victim_seed, victim_backup = enrol(victim)
    attacker_seed, _ = enrol(attacker)
    [(victim_device, _, _)] = raw_rows(victim)
    [(_, _, attacker_ciphertext)] = raw_rows(attacker)
    # Someone with write access to the table copies a seed they know over the victim's.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE accounts_totpseed SET ciphertext = %s WHERE device_id = %s",
            [attacker_ciphertext, victim_device],
        )

    def second_step(code: str) -> Any:
        challenge = login(api_client, victim.email).json()["challenge_token"]
        EncryptedTOTPDevice.objects.filter(user=victim).update(throttling_failure_timestamp=None)
        return api_client.post(
            "/api/v1/auth/login/mfa", {"challenge_token": challenge, "code": code}, format="json"
        )

    with caplog.at_level("ERROR"):
        with_copied_seed = second_step(code_from(attacker_seed, steps_ahead=1))
        with_own_seed = second_step(code_from(victim_seed, steps_ahead=1))
    with_backup = second_step(victim_backup[0])

    assert with_copied_seed.status_code == 400
    assert with_copied_seed.json()["code"] == "invalid_code"
    assert with_own_seed.status_code == 400
    assert with_own_seed.json()["code"] == "invalid_code"
    assert "totp.seed_unreadable" in caplog.text
    assert with_backup.status_code == 200
    assert with_backup.json()["mfa_method"] == "backup"


@pytest.mark.django_db
def test_totp_seed__row_missing__code_refused_as_invalid_not_a_server_error():
    user = UserFactory.create()
    seed, _ = enrol(user)
    TOTPSeed.objects.all().delete()

    with pytest.raises(mfa.InvalidCode):
        mfa.mfa_verify(user=user, code=code_from(seed, steps_ahead=1))


@pytest.mark.django_db
@pytest.mark.usefixtures("_old_key_ring")
def test_totp_seed__key_no_longer_in_the_ring__code_refused_as_invalid(settings):
    user = UserFactory.create()
    seed, _ = enrol(user)
    settings.QM_ENCRYPTION_KEYS = f"new:{NEW}"  # the old key dropped without rotating

    with pytest.raises(mfa.InvalidCode):
        mfa.mfa_verify(user=user, code=code_from(seed, steps_ahead=1))


@pytest.mark.django_db
def test_admin_verify__seed_unreadable__the_form_says_wrong_code_no_500(client, settings):
    settings.QM_STAFF_REQUIRE_2FA = True
    staff = UserFactory.create(platform_admin=True)
    seed, _ = enrol(staff)
    TOTPSeed.objects.update(ciphertext="v1:gone:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    client.force_login(staff)

    response = client.post("/admin/verify/", {"code": code_from(seed, steps_ahead=1)})

    assert response.status_code == 200
    assert b"The code is wrong or was already used." in response.content
    assert client.get("/admin/").status_code == 302


# --- Key rotation ---------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.usefixtures("_old_key_ring")
def test_rotate_encryption_key__totp_seeds__under_the_new_key_and_the_device_still_verifies(settings):
    users = UserFactory.create_batch(3)
    seeds = {user.pk: enrol(user)[0] for user in users}
    settings.QM_ENCRYPTION_KEYS = f"new:{NEW},old:{OLD}"

    out = io.StringIO()
    call_command("rotate_encryption_key", batch_size=2, stdout=out)
    settings.QM_ENCRYPTION_KEYS = f"new:{NEW}"  # the old key dropped

    assert {crypto.key_id_of(t) for t in TOTPSeed.objects.values_list("ciphertext", flat=True)} == {"new"}
    assert all(raw_rows(user)[0][1] == TOTP_KEY_PLACEHOLDER for user in users)
    for user in users:
        assert mfa.mfa_verify(user=user, code=code_from(seeds[user.pk], steps_ahead=1)) == "totp"
    with platform_bypass(reason="test", log=False):
        entry = AuditLogEntry.objects.get(action="encryption.key_rotated")
    assert {"model": "accounts.TOTPSeed", "rows": 3} in entry.details["rotated"]
    assert "Done: every encrypted value is under key new." in out.getvalue()


@pytest.mark.django_db
@pytest.mark.usefixtures("_old_key_ring")
def test_rotate_encryption_key__dry_run__counts_the_totp_seeds(settings):
    enrol(UserFactory.create())
    settings.QM_ENCRYPTION_KEYS = f"new:{NEW},old:{OLD}"

    out = io.StringIO()
    call_command("rotate_encryption_key", dry_run=True, stdout=out)

    assert "accounts.TOTPSeed: 1" in out.getvalue()
    assert crypto.key_id_of(TOTPSeed.objects.get().ciphertext) == "old"


# --- Admin ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_totp_devices__platform_admin__listed_without_any_seed_and_no_qr_view(client, settings):
    settings.QM_STAFF_REQUIRE_2FA = False
    owner = UserFactory.create(email="phone-owner@example.com")
    seed, _ = enrol(owner)
    [(device_id, _, ciphertext)] = raw_rows(owner)
    client.force_login(UserFactory.create(platform_admin=True))

    listing = client.get("/admin/accounts/encryptedtotpdevice/")
    detail = client.get(f"/admin/accounts/encryptedtotpdevice/{device_id}/change/")
    stock_config = client.get(f"/admin/otp_totp/totpdevice/{device_id}/config/")
    pages = listing.content.decode() + detail.content.decode()

    assert listing.status_code == 200
    assert "phone-owner@example.com" in listing.content.decode()
    assert detail.status_code == 200
    assert stock_config.status_code == 404
    assert not any(s in pages for s in spellings(seed))
    assert ciphertext
    assert ciphertext not in pages
    assert TOTP_KEY_PLACEHOLDER not in pages


@pytest.mark.django_db
def test_admin_totp_devices__platform_admin__cannot_add_change_or_delete(client, settings):
    settings.QM_STAFF_REQUIRE_2FA = False
    owner = UserFactory.create()
    enrol(owner)
    [(device_id, _, _)] = raw_rows(owner)
    client.force_login(UserFactory.create(platform_admin=True))

    add = client.get("/admin/accounts/encryptedtotpdevice/add/")
    delete = client.post(f"/admin/accounts/encryptedtotpdevice/{device_id}/delete/", {"post": "yes"})

    assert add.status_code == 403
    assert delete.status_code == 403
    assert raw_rows(owner)[0][0] == device_id


# --- A dump of the database -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_pg_dump__after_enrolment_and_a_login__no_totp_seed_in_any_spelling(api_client):
    """The committed database, dumped as an operator would back it up: django-otp's device table
    and the seed table are in it, the seed is not."""
    from tenants.tests.test_config_acceptance import _pg_dump, _sql_dump

    user = UserFactory.create()
    client = bearer(login(api_client, user.email).json()["access"])
    seed = seed_of(client.post("/api/v1/auth/2fa/totp").json()["otpauth_uri"])
    confirm = client.post("/api/v1/auth/2fa/totp/confirm", {"code": code_from(seed)}, format="json")
    assert confirm.status_code == 200
    challenge = login(api_client, user.email).json()["challenge_token"]
    second = api_client.post(
        "/api/v1/auth/login/mfa",
        {"challenge_token": challenge, "code": code_from(seed, steps_ahead=1)},
        format="json",
    )
    assert second.status_code == 200, second.json()
    [(_, _, ciphertext)] = raw_rows(user)

    for dump in (_sql_dump(), _pg_dump()):
        assert not [s for s in spellings(seed) if s in dump]
        assert TOTP_KEY_PLACEHOLDER in dump  # django-otp's device table was dumped
        assert ciphertext
        assert ciphertext in dump  # and so was the seed table


@pytest.mark.django_db
@pytest.mark.usefixtures("_old_key_ring")
def test_rotate_encryption_key__no_totp_device__audit_entry_names_only_the_models_rotated(settings):
    from tenants.tests.factories import SecretFactory, TenantFactory

    SecretFactory.create(tenant=TenantFactory.create(), value="sk-rotate-me-000000")
    settings.QM_ENCRYPTION_KEYS = f"new:{NEW},old:{OLD}"

    call_command("rotate_encryption_key", stdout=io.StringIO())

    with platform_bypass(reason="test", log=False):
        entry = AuditLogEntry.objects.get(action="encryption.key_rotated")
    assert entry.details["rotated"] == [{"model": "tenants.Secret", "rows": 1}]
