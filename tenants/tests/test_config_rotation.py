"""`manage.py rotate_encryption_key`: every stored value moves to the new key and stays readable,
also after an interrupted run."""

from __future__ import annotations

import base64
import io
import os
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection

from audit.models import AuditLogEntry
from core import crypto
from core.tenancy import platform_bypass
from tenants import selectors
from tenants.tests.factories import SecretFactory, TenantFactory, setting_value

OLD = base64.b64encode(os.urandom(32)).decode()
NEW = base64.b64encode(os.urandom(32)).decode()


@pytest.fixture(autouse=True)
def _old_key(settings: Any) -> None:
    settings.QM_ENCRYPTION_KEYS = f"old:{OLD}"
    selectors.clear_local_cache()


def _world() -> None:
    """Secrets and secret settings (with their histories) of two tenants and the platform."""
    for n in range(2):
        tenant = TenantFactory.create()
        for i in range(4):
            SecretFactory.create(tenant=tenant, value=f"sk-tenant{n}-secret{i}-000000")
        setting_value(tenant, "providers.openai_api_key", f"sk-openai-{n}-first")
        setting_value(tenant, "providers.openai_api_key", f"sk-openai-{n}-second")
        setting_value(tenant, "console.dormant_after_days", 9)  # not secret: nothing to rotate
    setting_value(None, "providers.anthropic_api_key", "sk-platform-anthropic")


def _tokens() -> dict[tuple[str, Any, str], str]:
    with platform_bypass(reason="test", log=False):
        return {
            (model._meta.label, row.pk, field): getattr(row, field)
            for model in crypto.encrypted_models()
            for row in model._default_manager.all()
            for field in model.ENCRYPTED_FIELDS
            if getattr(row, field)
        }


def _plaintexts() -> dict[tuple[str, Any, str], bytes]:
    """Every encrypted value decrypted with the configured key ring (raises if one cannot be)."""
    with platform_bypass(reason="test", log=False):
        return {
            (model._meta.label, row.pk, field): crypto.decrypt(
                getattr(row, field), context=row.encryption_context(field)
            )
            for model in crypto.encrypted_models()
            for row in model._default_manager.all()
            for field in model.ENCRYPTED_FIELDS
            if getattr(row, field)
        }


def _key_ids() -> set[str]:
    return {crypto.key_id_of(token) for token in _tokens().values()}


def _rotate(**options: Any) -> str:
    out = io.StringIO()
    call_command("rotate_encryption_key", stdout=out, **options)
    return out.getvalue()


@pytest.mark.django_db
def test_rotate__new_key_first__every_value_under_it_and_readable_without_the_old_key(settings):
    _world()
    before = _plaintexts()
    # 8 secrets; 3 setting rows; versions: per tenant v1 (new) and v2 (old, new), the platform's v1
    assert len(before) == 8 + 3 + (2 * 3 + 1)
    settings.QM_ENCRYPTION_KEYS = f"new:{NEW},old:{OLD}"

    output = _rotate(batch_size=3)

    assert _key_ids() == {"new"}
    settings.QM_ENCRYPTION_KEYS = f"new:{NEW}"  # the old key dropped
    assert _plaintexts() == before
    assert "100%" in output
    assert "Done: every encrypted value is under key new." in output
    with platform_bypass(reason="test", log=False):
        entry = AuditLogEntry.objects.get(action="encryption.key_rotated")
        assert AuditLogEntry.objects.filter(action="platform.bypass").exists()
    assert entry.details["rotated"] == [
        {"model": "tenants.Secret", "rows": 8},
        {"model": "tenants.Setting", "rows": 3},
        {"model": "tenants.SettingVersion", "rows": 5},
    ]


@pytest.mark.django_db
def test_rotate__interrupted_after_some_rows__every_value_readable_and_a_rerun_finishes(
    settings, monkeypatch
):
    _world()
    before = _plaintexts()
    settings.QM_ENCRYPTION_KEYS = f"new:{NEW},old:{OLD}"
    original = crypto.reencrypt
    calls = {"n": 0}

    def crash_after_five(*args: Any, **kwargs: Any) -> str:
        calls["n"] += 1
        if calls["n"] > 5:
            raise RuntimeError("the machine went away")
        return original(*args, **kwargs)

    monkeypatch.setattr(crypto, "reencrypt", crash_after_five)
    with pytest.raises(RuntimeError):
        _rotate(batch_size=2)

    assert _key_ids() == {"new", "old"}  # half done: committed batches on the new key
    assert _plaintexts() == before  # and every value readable with the ring
    monkeypatch.setattr(crypto, "reencrypt", original)
    _rotate(batch_size=2)
    assert _key_ids() == {"new"}
    settings.QM_ENCRYPTION_KEYS = f"new:{NEW}"
    assert _plaintexts() == before


@pytest.mark.django_db
def test_rotate__run_twice__second_run_finds_nothing(settings):
    _world()
    settings.QM_ENCRYPTION_KEYS = f"new:{NEW},old:{OLD}"
    _rotate()
    tokens = _tokens()

    output = _rotate()

    assert "Rows to re-encrypt: 0." in output
    assert _tokens() == tokens  # nothing rewritten


@pytest.mark.django_db
def test_rotate__dry_run__counts_and_changes_nothing(settings):
    _world()
    settings.QM_ENCRYPTION_KEYS = f"new:{NEW},old:{OLD}"
    tokens = _tokens()

    output = _rotate(dry_run=True)

    assert "Rows to re-encrypt: 16." in output
    assert "tenants.Secret: 8" in output
    assert _tokens() == tokens


@pytest.mark.django_db
def test_rotate__a_value_under_a_key_no_longer_in_the_ring__reported_and_the_command_fails(settings):
    _world()
    settings.QM_ENCRYPTION_KEYS = f"lost:{base64.b64encode(os.urandom(32)).decode()}"
    orphan = SecretFactory.create(tenant=TenantFactory.create(), value="sk-under-the-lost-key")
    settings.QM_ENCRYPTION_KEYS = f"new:{NEW},old:{OLD}"

    with pytest.raises(CommandError, match=f"(?s)1 value\\(s\\) could not be decrypted.*{orphan.pk}"):
        _rotate()

    assert crypto.key_id_of(_tokens()[("tenants.Secret", orphan.pk, "ciphertext")]) == "lost"
    assert _key_ids() == {"new", "lost"}


@pytest.mark.django_db
def test_rotate__history_rewritten__still_insert_only_afterwards(settings):
    _world()
    settings.QM_ENCRYPTION_KEYS = f"new:{NEW},old:{OLD}"
    _rotate()

    with (
        pytest.raises(DatabaseError, match="pgtrigger: Cannot"),
        platform_bypass(reason="test", log=False),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE tenants_settingversion SET reason = 'tampered'")


@pytest.mark.django_db
def test_rotate__bad_batch_size__refused():
    with pytest.raises(CommandError, match="batch-size"):
        _rotate(batch_size=0)
