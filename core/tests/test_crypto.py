"""Encryption at rest (core/crypto.py): AES-256-GCM, the key ring, associated data."""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from core import crypto

BASE_DIR = Path(__file__).resolve().parents[2]
KEY_A = base64.b64encode(b"A" * 32).decode()
KEY_B = base64.b64encode(b"B" * 32).decode()
TENANT_A, TENANT_B = uuid.uuid4(), uuid.uuid4()
ROW = uuid.uuid4()


def ctx(
    tenant: object = TENANT_A, table: str = "tenants_secret", field: str = "ciphertext", row: object = ROW
):
    return crypto.Context(tenant_id=tenant, table=table, field=field, row_id=row)


@pytest.fixture
def ring() -> crypto.KeyRing:
    return crypto.parse_key_ring(f"k1:{KEY_A},k0:{KEY_B}")


def _flip(token: str, index: int) -> str:
    """The token with one bit of byte `index` of its nonce | ciphertext | tag flipped."""
    prefix, _, body = token.rpartition(":")
    raw = bytearray(crypto._b64decode(body))
    raw[index] ^= 0x01
    return f"{prefix}:{crypto._b64encode(bytes(raw))}"


# --- The key ring -------------------------------------------------------------------------------


def test_parse_key_ring__two_keys__first_encrypts_all_decrypt(ring):
    assert ring.primary == "k1"
    assert ring.key_ids == ("k1", "k0")
    assert ring.keys["k0"] == b"B" * 32


def test_parse_key_ring__urlsafe_base64_without_padding__accepted():
    urlsafe = base64.urlsafe_b64encode(bytes(range(200, 232))).decode().rstrip("=")

    assert crypto.parse_key_ring(f"k:{urlsafe}").keys["k"] == bytes(range(200, 232))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty"),
        ("k1", "KEY_ID:BASE64_KEY"),
        (f"bad id:{KEY_A}", "KEY_ID:BASE64_KEY"),
        ("k1:not-base64!!", "not valid base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", "AES-256 needs 32"),
        (f"k1:{KEY_A},k1:{KEY_B}", "appears twice"),
    ],
)
def test_parse_key_ring__malformed__refused_with_the_reason(spec, message):
    with pytest.raises(crypto.KeyRingError, match=message):
        crypto.parse_key_ring(spec)


def test_generate_key__32_random_bytes_each_time():
    first, second = crypto.generate_key(), crypto.generate_key()

    assert len(base64.b64decode(first)) == 32
    assert first != second


def test_key_ring__from_settings__follows_the_setting(settings):
    settings.QM_ENCRYPTION_KEYS = f"fresh:{KEY_B}"

    assert crypto.key_ring().primary == "fresh"


# --- Encrypting and decrypting ------------------------------------------------------------------


def test_encrypt__round_trip__token_names_the_key_and_hides_the_plaintext(ring):
    token = crypto.encrypt(b"sk-live-canary-1234", context=ctx(), ring=ring)

    assert token.startswith("v1:k1:")
    assert b"canary" not in token.encode()
    assert crypto.decrypt(token, context=ctx(), ring=ring) == b"sk-live-canary-1234"
    assert crypto.key_id_of(token) == "k1"


def test_encrypt__same_plaintext_twice__different_tokens(ring):
    assert crypto.encrypt(b"x", context=ctx(), ring=ring) != crypto.encrypt(b"x", context=ctx(), ring=ring)


def test_encrypt_json_and_text__round_trip(ring):
    value = {"a": [1, "2.50"], "b": None}

    assert (
        crypto.decrypt_json(crypto.encrypt_json(value, context=ctx(), ring=ring), context=ctx(), ring=ring)
        == value
    )
    token = crypto.encrypt_text("héllo", context=ctx(), ring=ring)
    assert crypto.decrypt_text(token, context=ctx(), ring=ring) == "héllo"


def test_decrypt__every_byte_of_nonce_ciphertext_and_tag_tampered__each_fails(ring):
    plaintext = b"sk-tamper-test-0123456789"
    token = crypto.encrypt(plaintext, context=ctx(), ring=ring)
    _, raw = crypto.split_token(token)
    assert len(raw) == crypto.NONCE_BYTES + len(plaintext) + crypto.TAG_BYTES
    regions = {
        "nonce": range(0, 12),
        "ciphertext": range(12, 12 + len(plaintext)),
        "tag": range(len(raw) - 16, len(raw)),
    }

    survived = {
        region: [i for i in indexes if _decrypts(_flip(token, i), ring)]
        for region, indexes in regions.items()
    }

    assert survived == {"nonce": [], "ciphertext": [], "tag": []}
    assert crypto.decrypt(token, context=ctx(), ring=ring) == plaintext  # the untouched one still does


def _decrypts(token: str, ring: crypto.KeyRing) -> bool:
    try:
        crypto.decrypt(token, context=ctx(), ring=ring)
    except crypto.DecryptionError:
        return False
    return True


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-3],  # truncated
        lambda t: t.replace("v1:", "v2:"),  # unknown format version
        lambda t: t.replace(":k1:", ":k9:"),  # a key id not in the ring
        lambda t: t.replace(":k1:", ":k0:"),  # relabelled to the other key
        lambda t: "v1:k1:" + "A" * 10,  # too short
        lambda t: "plain text",
    ],
)
def test_decrypt__malformed_or_relabelled_token__fails(ring, mangle):
    token = crypto.encrypt(b"secret", context=ctx(), ring=ring)

    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(mangle(token), context=ctx(), ring=ring)


def test_encrypt__100000_times__no_nonce_repeats(ring):
    context = ctx()
    nonces = set()
    for _ in range(100_000):
        _, raw = crypto.split_token(crypto.encrypt(b"", context=context, ring=ring))
        nonces.add(raw[: crypto.NONCE_BYTES])

    assert len(nonces) == 100_000


@pytest.mark.parametrize(
    ("moved_to", "why"),
    [
        (ctx(tenant=TENANT_B), "another tenant"),
        (ctx(tenant=None), "the platform level"),
        (ctx(row=uuid.uuid4()), "another row"),
        (ctx(field="old_value_encrypted"), "another field"),
        (ctx(table="tenants_setting"), "another table"),
    ],
)
def test_decrypt__ciphertext_copied_elsewhere__fails(ring, moved_to, why):
    token = crypto.encrypt(b"tenant A's key", context=ctx(), ring=ring)

    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token, context=moved_to, ring=ring)


def test_reencrypt__old_key_token__now_under_the_primary_and_same_plaintext(ring):
    old_ring = crypto.parse_key_ring(f"k0:{KEY_B}")
    token = crypto.encrypt(b"value", context=ctx(), ring=old_ring)

    rotated = crypto.reencrypt(token, context=ctx(), ring=ring)

    assert crypto.key_id_of(rotated) == "k1"
    assert crypto.decrypt(rotated, context=ctx(), ring=ring) == b"value"
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(rotated, context=ctx(), ring=old_ring)


def test_encrypted_models__the_configuration_models__declare_their_fields():
    labels = {m._meta.label: m.ENCRYPTED_FIELDS for m in crypto.encrypted_models()}

    assert labels["tenants.Secret"] == ("ciphertext",)
    assert labels["tenants.Setting"] == ("value_encrypted",)
    assert labels["tenants.SettingVersion"] == ("old_value_encrypted", "new_value_encrypted")


def test_encrypted_models__totp_seeds__registered_and_bound_to_the_device_row():
    from accounts.models import TOTPSeed

    labels = {m._meta.label: m.ENCRYPTED_FIELDS for m in crypto.encrypted_models()}
    context = TOTPSeed(device_id=7, ciphertext="").encryption_context("ciphertext")

    assert labels["accounts.TOTPSeed"] == ("ciphertext",)
    assert context == crypto.Context(tenant_id=None, table="otp_totp_totpdevice", field="key", row_id=7)


# --- Configuration --------------------------------------------------------------------------------


def test_development_key_ring__generated_once__mode_600_and_stable(tmp_path, monkeypatch):
    import config.settings as project_settings

    monkeypatch.setattr(project_settings, "DATA_DIR", tmp_path / "data")

    first = project_settings._development_encryption_keys()
    second = project_settings._development_encryption_keys()

    path = tmp_path / "data" / "encryption_keys"
    assert first == second
    assert crypto.parse_key_ring(first).primary == "dev1"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["encryption_keys"]  # no temporary file left


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST", "QM_ENCRYPTION"))}
    clean.update(env)
    return subprocess.run(  # noqa: S603  # our own interpreter and manage.py
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_production__no_encryption_keys__refuses_to_start_with_a_clear_message():
    result = _manage(
        "check", DJANGO_ENV="production", DJANGO_SECRET_KEY="x" * 60, DJANGO_ALLOWED_HOSTS="qm.example"
    )

    assert result.returncode != 0
    assert "QM_ENCRYPTION_KEYS is not set" in result.stderr


@pytest.mark.slow
def test_settings__malformed_encryption_keys__refuses_to_start():
    result = _manage("check", QM_ENCRYPTION_KEYS="k1:tooshort")

    assert result.returncode != 0
    assert "QM_ENCRYPTION_KEYS is malformed" in result.stderr
