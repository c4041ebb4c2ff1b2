"""Migration 0008: TOTP seeds stored in the clear by django-otp become ciphertexts, and back.

The migration's own operations run on the test database (unapplied, then applied again), inside
the test's transaction, which PostgreSQL rolls back with the schema changes at the end."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django_otp.oath import TOTP

from accounts.models import TOTP_KEY_PLACEHOLDER, EncryptedTOTPDevice, TOTPSeed
from core import crypto

NODE = ("accounts", "0008_totp_seed_encrypted")


class Migration0008:
    """Apply or unapply migration 0008 alone, with the project state around it."""

    def __init__(self) -> None:
        loader = MigrationLoader(connection)
        self.migration = loader.get_migration(*NODE)
        self.before = loader.project_state(NODE, at_end=False)
        self.after = loader.project_state(NODE, at_end=True)

    def apply(self) -> None:
        with connection.schema_editor(atomic=True) as editor:
            self.migration.apply(self.before.clone(), editor)

    def unapply(self) -> None:
        with connection.schema_editor(atomic=True) as editor:
            self.migration.unapply(self.after.clone(), editor)


def _key_column(device_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT key FROM otp_totp_totpdevice WHERE id = %s", [device_id])
        return cursor.fetchone()[0]


def _seed_table_exists() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('accounts_totpseed') IS NOT NULL")
        return bool(cursor.fetchone()[0])


def _code(seed: bytes) -> str:
    totp = TOTP(seed, step=30, t0=0, digits=6)
    totp.time = time.time() + 30
    return f"{totp.token():06d}"


@pytest.fixture
def before_0008(db: None) -> Migration0008:
    """The schema as it was before 0008 (the test's rollback restores it)."""
    migration = Migration0008()
    migration.unapply()
    return migration


def _legacy_device(apps: Any, user: Any, *, seed: bytes, confirmed: bool = True) -> Any:
    """A device as django-otp stored it before 0008: the seed in hex in its `key` column."""
    device = apps.get_model("otp_totp", "TOTPDevice").objects.create(
        user_id=user.pk, name="phone", confirmed=confirmed, key=seed.hex()
    )
    # Rows inserted in this transaction leave foreign-key checks pending, and PostgreSQL refuses
    # to ALTER a table with pending checks; in a real run the rows were committed long before.
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    return device


@pytest.mark.django_db
def test_migration_0008__plaintext_seeds__encrypted_and_a_code_from_the_seed_verifies(before_0008):
    apps = before_0008.before.apps
    user = apps.get_model("accounts", "User").objects.create(email="legacy@example.com", password="!")
    seed, other_seed = os.urandom(20), os.urandom(20)
    legacy = _legacy_device(apps, user, seed=seed)
    unconfirmed = _legacy_device(apps, user, seed=other_seed, confirmed=False)

    before_0008.apply()

    assert _key_column(legacy.pk) == _key_column(unconfirmed.pk) == TOTP_KEY_PLACEHOLDER
    sealed = TOTPSeed.objects.get(device_id=legacy.pk)
    assert seed.hex() not in sealed.ciphertext
    assert crypto.decrypt(sealed.ciphertext, context=TOTPSeed.context_for(legacy.pk)) == seed
    assert TOTPSeed.objects.get(device_id=unconfirmed.pk).open() == other_seed
    assert EncryptedTOTPDevice.objects.get(pk=legacy.pk).verify_token(_code(seed)) is True


@pytest.mark.django_db
def test_migration_0008__reversed__seeds_back_in_the_key_column_and_the_table_gone(before_0008):
    apps = before_0008.before.apps
    user = apps.get_model("accounts", "User").objects.create(email="legacy@example.com", password="!")
    seed = os.urandom(20)
    legacy = _legacy_device(apps, user, seed=seed)
    before_0008.apply()

    before_0008.unapply()

    assert _key_column(legacy.pk) == seed.hex()
    assert _seed_table_exists() is False


@pytest.mark.django_db
def test_migration_0008__a_key_that_is_not_hex__refused_naming_the_device(before_0008):
    apps = before_0008.before.apps
    user = apps.get_model("accounts", "User").objects.create(email="legacy@example.com", password="!")
    broken = apps.get_model("otp_totp", "TOTPDevice").objects.create(
        user_id=user.pk, name="broken", confirmed=True, key="not hex at all"
    )

    refused = pytest.raises(RuntimeError, match=rf"TOTP devices \[{broken.pk}\] have a key that is not hex")
    with refused:
        before_0008.apply()
