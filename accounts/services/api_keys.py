"""Writes on API keys: creation (the raw key is returned once, only its SHA-256 is kept) and
revocation. One transaction each, audited inside it; never the key or its hash in the audit."""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Iterable
from datetime import datetime

from django.db import transaction

from accounts import permissions as registry
from accounts.api_key_auth import KEY_PREFIX, hash_key
from accounts.models import ApiKey, User
from accounts.types import TenantRef
from audit.models import Severity
from audit.services import audit_record
from core import clock, context, stream
from core.errors import Conflict, InvalidInput, PermissionDeniedError

# token_urlsafe(32): 32 random bytes, 256 bits, 43 URL-safe characters.
KEY_RANDOM_BYTES = 32
PREFIX_LENGTH = 12  # "qm_live_" and four random characters: enough to tell keys apart in a list
MAX_ALLOWED_IPS = 100
NAME_MAX_LENGTH = 100  # ApiKey.name
MAX_RATE_LIMIT_PER_MINUTE = 100_000


def generate_key() -> str:
    """A fresh raw key with the recognisable prefix secret scanners look for."""
    return KEY_PREFIX + secrets.token_urlsafe(KEY_RANDOM_BYTES)


def _invalid(field: str, messages: list[str]) -> InvalidInput:
    return InvalidInput("Some fields are invalid.", code="validation_error", errors={field: messages})


def _acting_key(acting_key: ApiKey | None) -> ApiKey | None:
    # The request's key, when the caller did not pass it: a service cannot be tricked into
    # treating a key-authenticated call as the user's own by a view that forgot to say so.
    return acting_key if acting_key is not None else context.current().api_key


def normalize_allowed_ips(values: Iterable[str]) -> list[str]:
    """CIDRs (IPv4 or IPv6; a bare address is a /32 or /128) in canonical form, duplicates dropped."""
    values = list(values)
    if len(values) > MAX_ALLOWED_IPS:
        raise _invalid("allowed_ips", [f"At most {MAX_ALLOWED_IPS} entries."])
    networks: list[str] = []
    errors: list[str] = []
    for value in values:
        try:
            # strict=False: "10.1.2.3/24" means 10.1.2.0/24 rather than an error.
            network = str(ipaddress.ip_network(str(value).strip(), strict=False))
        except ValueError:
            errors.append(f"Not an IP address or CIDR range: {value!r}.")
            continue
        if network not in networks:
            networks.append(network)
    if errors:
        raise _invalid("allowed_ips", errors)
    return networks


def _check_scopes(*, scopes: Iterable[str], held: frozenset[str]) -> list[str]:
    wanted = sorted(set(scopes))
    if not wanted:
        raise _invalid("scopes", ["A key needs at least one scope."])
    unknown = registry.unknown(wanted)
    if unknown:
        raise _invalid("scopes", [f"Unknown permission: {p}" for p in unknown])
    beyond = [p for p in wanted if p not in held]
    if beyond:
        raise PermissionDeniedError(
            "A key cannot have scopes you do not hold.",
            code="scope_not_held",
            errors={"scopes": [f"Not held: {p}" for p in beyond]},
        )
    return wanted


@transaction.atomic
def api_key_create(
    *,
    tenant: TenantRef,
    actor: User,
    name: str,
    scopes: Iterable[str],
    allowed_ips: Iterable[str] = (),
    rate_limit_per_minute: int = 600,
    expires_at: datetime | None = None,
    actor_permissions: frozenset[str],
    acting_key: ApiKey | None = None,
) -> tuple[ApiKey, str]:
    """Create a key for `tenant` acting as `actor`, within `actor_permissions` (what the actor may
    do in the tenant: the gate's `TenantAccess.permissions`); return the key and the raw secret,
    which is shown once and never stored."""
    if _acting_key(acting_key) is not None:
        # A key minting keys could shed its own IP allow-list, rate limit and expiry.
        raise PermissionDeniedError(
            "API keys cannot create API keys; a person must.", code="api_key_cannot_create_keys"
        )
    name = (name or "").strip()
    if not name:
        raise _invalid("name", ["This field is required."])
    if len(name) > NAME_MAX_LENGTH:
        raise _invalid("name", [f"At most {NAME_MAX_LENGTH} characters."])
    if not 1 <= int(rate_limit_per_minute) <= MAX_RATE_LIMIT_PER_MINUTE:
        raise _invalid("rate_limit_per_minute", [f"Between 1 and {MAX_RATE_LIMIT_PER_MINUTE}."])
    if expires_at is not None and expires_at <= clock.now():
        raise _invalid("expires_at", ["Must be in the future."])
    networks = normalize_allowed_ips(allowed_ips)
    granted = _check_scopes(scopes=scopes, held=actor_permissions)

    raw_key = generate_key()
    api_key = ApiKey.objects.create(
        tenant_id=tenant.pk,
        created_by=actor,
        name=name,
        prefix=raw_key[:PREFIX_LENGTH],
        key_hash=hash_key(raw_key),
        scopes=granted,
        allowed_ips=networks,
        rate_limit_per_minute=int(rate_limit_per_minute),
        expires_at=expires_at,
    )
    audit_record(
        action="api_key.created",
        tenant=tenant,
        target=api_key,
        details={
            "name": api_key.name,
            "prefix": api_key.prefix,
            "scopes": granted,
            "allowed_ips": networks,
            "rate_limit_per_minute": api_key.rate_limit_per_minute,
            "expires_at": expires_at,
        },
        actor=actor,
    )
    return api_key, raw_key


@transaction.atomic
def api_key_revoke(
    *, api_key: ApiKey, actor: User, actor_permissions: frozenset[str], reason: str = ""
) -> ApiKey:
    """Revoke a key: its next request is refused. One's own keys need api_keys:write (which the
    endpoint checks); anyone else's need api_keys:admin. `actor_permissions`: what the actor may
    do in the key's tenant (through a key, within its scopes: the gate's
    `TenantAccess.permissions`). `reason`, when given, is kept in the audit entry."""
    api_key = ApiKey.objects.select_for_update().select_related("created_by").get(pk=api_key.pk)
    if api_key.created_by_id != actor.pk and "api_keys:admin" not in actor_permissions:
        raise PermissionDeniedError(
            "Revoking another person's API key needs the api_keys:admin permission.",
            code="missing_permission",
        )
    if api_key.revoked_at is not None:
        raise Conflict("This API key is already revoked.", code="already_revoked")
    api_key.revoked_at = clock.now()
    api_key.revoked_by = actor
    api_key.save(update_fields=["revoked_at", "revoked_by", "updated_at"])
    audit_record(
        action="api_key.revoked",
        tenant=api_key.tenant_id,
        target=api_key,
        severity=Severity.WARNING,
        details={
            "name": api_key.name,
            "prefix": api_key.prefix,
            "scopes": api_key.scopes,
            "created_by_id": api_key.created_by_id,
            **({"reason": reason.strip()} if reason.strip() else {}),
        },
        actor=actor,
    )
    # A stream opened with this key closes on commit (its refresh finds the key unusable).
    stream.refresh(api_key.tenant_id, user_id=api_key.created_by_id)
    return api_key
