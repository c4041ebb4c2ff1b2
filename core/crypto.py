"""Encryption at rest: AES-256-GCM with a key ring from the environment.

The key ring is `QM_ENCRYPTION_KEYS` ("kid1:base64key,kid2:base64key"): the first key encrypts,
every key decrypts, so a new key is put first, `manage.py rotate_encryption_key` re-encrypts
every stored value under it, and only then the old key is removed.

A stored value is a token `v1:<key id>:<base64url(nonce | ciphertext | tag)>`, text that fits
any column, names its key (rotation skips rows already on the current key) and carries a fresh
96-bit random nonce per encryption. Each encryption is bound to where the value lives through
the associated data (tenant, table, field and row): a token copied to another row, field or
tenant fails to decrypt, exactly as a tampered one does.

Models that hold tokens list their fields in `ENCRYPTED_FIELDS` and say where a field's value
lives with `encryption_context(field)`; that is how the rotation command finds them.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

TOKEN_VERSION = "v1"  # noqa: S105  # a format version, not a password
NONCE_BYTES = 12  # 96 bits: GCM's native nonce size
KEY_BYTES = 32  # AES-256
TAG_BYTES = 16
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_AAD_PREFIX = b"quartermaster/" + TOKEN_VERSION.encode()


class CryptoError(Exception):
    """Base of the errors below."""


class KeyRingError(CryptoError):
    """The configured key ring is malformed."""


class DecryptionError(CryptoError):
    """A token cannot be decrypted: unknown key, malformed, tampered with, or moved."""


@dataclass(frozen=True)
class KeyRing:
    """Key ids mapped to 32-byte keys; `primary` is the id of the key that encrypts."""

    primary: str
    keys: dict[str, bytes]

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self.keys)


def _decode_key(kid: str, encoded: str) -> bytes:
    encoded = encoded.strip()
    padded = encoded + "=" * (-len(encoded) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyRingError(f"key {kid!r} is not valid base64") from exc
    if len(raw) != KEY_BYTES:
        raise KeyRingError(f"key {kid!r} is {len(raw)} bytes long; AES-256 needs {KEY_BYTES}")
    return raw


def parse_key_ring(spec: str) -> KeyRing:
    """Parse "kid1:base64key,kid2:base64key" (the first encrypts). Raises KeyRingError."""
    keys: dict[str, bytes] = {}
    for entry in (part.strip() for part in spec.split(",")):
        if not entry:
            continue
        kid, sep, encoded = entry.partition(":")
        kid = kid.strip()
        if not sep or not _KEY_ID.match(kid):
            raise KeyRingError(
                "each entry must be KEY_ID:BASE64_KEY, the id 1-32 letters, digits, '_' or '-'"
            )
        if kid in keys:
            raise KeyRingError(f"key id {kid!r} appears twice")
        keys[kid] = _decode_key(kid, encoded)
    if not keys:
        raise KeyRingError("the key ring is empty")
    return KeyRing(primary=next(iter(keys)), keys=keys)


def generate_key() -> str:
    """A fresh random AES-256 key, base64-encoded for QM_ENCRYPTION_KEYS."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


@lru_cache(maxsize=8)
def _ring_from(spec: str) -> KeyRing:
    return parse_key_ring(spec)


def key_ring() -> KeyRing:
    """The configured key ring (settings.QM_ENCRYPTION_KEYS), parsed once per value."""
    from django.conf import settings

    return _ring_from(settings.QM_ENCRYPTION_KEYS)


@dataclass(frozen=True)
class Context:
    """Where a value lives; bound to its ciphertext as associated data.

    tenant_id None means a platform-wide value. The row id is the row's primary key (UUIDs are
    assigned before saving, so it is always known).
    """

    tenant_id: Any
    table: str
    field: str
    row_id: Any

    def associated_data(self) -> bytes:
        # NUL separators: no two different contexts encode to the same bytes.
        parts = [
            str(self.tenant_id) if self.tenant_id is not None else "platform",
            self.table,
            self.field,
            str(self.row_id),
        ]
        return b"\x00".join([_AAD_PREFIX, *(p.encode() for p in parts)])


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encrypt(plaintext: bytes, *, context: Context, ring: KeyRing | None = None) -> str:
    """Encrypt under the primary key with a fresh random nonce; returns the token."""
    ring = ring or key_ring()
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(ring.keys[ring.primary]).encrypt(nonce, plaintext, context.associated_data())
    return f"{TOKEN_VERSION}:{ring.primary}:{_b64encode(nonce + sealed)}"


def split_token(token: str) -> tuple[str, bytes]:
    """(key id, nonce | ciphertext | tag) of a token. Raises DecryptionError if malformed."""
    version, _, rest = token.partition(":")
    kid, _, body = rest.partition(":")
    if version != TOKEN_VERSION or not kid or not body:
        raise DecryptionError("not an encrypted value of this format")
    try:
        raw = _b64decode(body)
    except (binascii.Error, ValueError) as exc:
        raise DecryptionError("malformed encrypted value") from exc
    if len(raw) < NONCE_BYTES + TAG_BYTES:
        raise DecryptionError("malformed encrypted value")
    return kid, raw


def key_id_of(token: str) -> str:
    """The id of the key a token was encrypted with."""
    return split_token(token)[0]


def token_prefix(kid: str) -> str:
    """What every token encrypted with key `kid` starts with (for queries that skip them)."""
    return f"{TOKEN_VERSION}:{kid}:"


def decrypt(token: str, *, context: Context, ring: KeyRing | None = None) -> bytes:
    """Decrypt a token stored at `context`. Raises DecryptionError on any mismatch."""
    ring = ring or key_ring()
    kid, raw = split_token(token)
    key = ring.keys.get(kid)
    if key is None:
        raise DecryptionError(f"the key {kid!r} is not in the key ring")
    try:
        return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.associated_data())
    except InvalidTag as exc:
        # Deliberately one message for tampering, a wrong key and a moved value.
        raise DecryptionError("the value fails authentication") from exc


def encrypt_json(value: Any, *, context: Context, ring: KeyRing | None = None) -> str:
    return encrypt(json.dumps(value, separators=(",", ":")).encode(), context=context, ring=ring)


def decrypt_json(token: str, *, context: Context, ring: KeyRing | None = None) -> Any:
    return json.loads(decrypt(token, context=context, ring=ring))


def encrypt_text(value: str, *, context: Context, ring: KeyRing | None = None) -> str:
    return encrypt(value.encode(), context=context, ring=ring)


def decrypt_text(token: str, *, context: Context, ring: KeyRing | None = None) -> str:
    return decrypt(token, context=context, ring=ring).decode()


def reencrypt(token: str, *, context: Context, ring: KeyRing | None = None) -> str:
    """The same plaintext under the primary key (a fresh nonce), for key rotation."""
    ring = ring or key_ring()
    return encrypt(decrypt(token, context=context, ring=ring), context=context, ring=ring)


def encrypted_models() -> list[Any]:
    """Every installed model that stores tokens (declares ENCRYPTED_FIELDS)."""
    from django.apps import apps

    return sorted(
        (m for m in apps.get_models() if getattr(m, "ENCRYPTED_FIELDS", None)),
        key=lambda m: m._meta.label,
    )
