"""Writes of the secret locker: store, change, rotate, delete, and the audited reveal. One
transaction each, audited inside it; a value is encrypted before it is stored and only its last
four characters stay readable. An `actor` of None is the system.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.models import User
from audit.models import Severity
from audit.services import audit_record, changes
from core import clock, crypto
from core.errors import PermissionDeniedError, full_clean_or_invalid
from tenants.models import Secret, Team, Tenant
from tenants.selectors.secrets import ALL_SECRETS, SecretVisibility
from tenants.services.common import invalid, save_unique, stored_user

SECRET_MAX_LENGTH = 10_000
# Secrets shorter than this show no last four characters: four would give too much away.
LAST_FOUR_MIN_LENGTH = 12


def _last_four(value: str) -> str:
    return value[-4:] if len(value) >= LAST_FOUR_MIN_LENGTH else ""


def _clean_secret_value(value: str) -> str:
    if not isinstance(value, str) or not value:
        raise invalid("value", "A secret needs a value.")
    if len(value) > SECRET_MAX_LENGTH:
        raise invalid("value", f"At most {SECRET_MAX_LENGTH} characters.")
    return value


def _check_team(*, tenant: Tenant, team: Team | None, visibility: SecretVisibility) -> None:
    if team is None:
        return
    if team.tenant_id != tenant.pk:
        raise invalid("team_id", "No such team.")
    if not visibility.allows(team.pk):
        raise PermissionDeniedError(
            "Only the tenant's owners and admins keep secrets for another team.", code="not_your_team"
        )


def _secret_details(secret: Secret) -> dict[str, Any]:
    return {
        "name": secret.name,
        "provider": secret.provider,
        "team_id": secret.team_id,
        "last_four": secret.last_four,
    }


def _encrypt_secret(secret: Secret, value: str) -> None:
    secret.ciphertext = crypto.encrypt_text(value, context=secret.encryption_context("ciphertext"))
    secret.last_four = _last_four(value)


def _save_secret(secret: Secret) -> None:
    save_unique(secret, "name", "A secret with this name exists.")


@transaction.atomic
def secret_create(
    *,
    tenant: Tenant,
    actor: User | None,
    name: str,
    provider: str,
    value: str,
    team: Team | None = None,
    description: str = "",
    visibility: SecretVisibility = ALL_SECRETS,
) -> Secret:
    """Put a secret in the locker, encrypted; only its last four characters stay readable."""
    _check_team(tenant=tenant, team=team, visibility=visibility)
    secret = Secret(
        tenant=tenant,
        team=team,
        name=name,
        provider=provider,
        description=description,
        created_by=stored_user(actor),
    )
    _encrypt_secret(secret, _clean_secret_value(value))
    full_clean_or_invalid(secret, exclude=["tenant", "team", "created_by", "last_revealed_by"])
    _save_secret(secret)
    audit_record(
        action="secret.created", tenant=tenant, target=secret, details=_secret_details(secret), actor=actor
    )
    return secret


SECRET_FIELDS = ["name", "description", "provider", "team"]


@transaction.atomic
def secret_update(
    *, secret: Secret, actor: User | None, data: dict[str, Any], visibility: SecretVisibility = ALL_SECRETS
) -> Secret:
    """Rename, describe or move a secret (to a team the actor may keep secrets for)."""
    tenant = Tenant.objects.get(pk=secret.tenant_id)
    secret = Secret.objects.select_for_update().get(pk=secret.pk)
    if "team" in data:
        _check_team(tenant=tenant, team=data["team"], visibility=visibility)
    before = {
        "name": secret.name,
        "description": secret.description,
        "provider": secret.provider,
        "team_id": secret.team_id,
    }
    for field, value in data.items():
        if field in SECRET_FIELDS:
            setattr(secret, field, value)
    full_clean_or_invalid(secret, exclude=["tenant", "team", "created_by", "last_revealed_by"])
    after = {
        "name": secret.name,
        "description": secret.description,
        "provider": secret.provider,
        "team_id": secret.team_id,
    }
    diff = changes(before, after)
    if diff:
        _save_secret(secret)
        audit_record(
            action="secret.updated", tenant=tenant, target=secret, details={"changes": diff}, actor=actor
        )
    return secret


@transaction.atomic
def secret_rotate(*, secret: Secret, actor: User | None, value: str) -> Secret:
    """Replace a secret's value (the provider issued a new key)."""
    secret = Secret.objects.select_for_update().get(pk=secret.pk)
    previous_last_four = secret.last_four
    _encrypt_secret(secret, _clean_secret_value(value))
    secret.rotated_at = clock.now()
    secret.save()
    audit_record(
        action="secret.rotated",
        tenant=secret.tenant_id,
        target=secret,
        severity=Severity.WARNING,
        details={**_secret_details(secret), "previous_last_four": previous_last_four},
        actor=actor,
    )
    return secret


@transaction.atomic
def secret_delete(*, secret: Secret, actor: User | None) -> None:
    """Take a secret out of the locker."""
    audit_record(
        action="secret.deleted",
        tenant=secret.tenant_id,
        target=secret,
        severity=Severity.WARNING,
        details=_secret_details(secret),
        actor=actor,
    )
    secret.delete()


def secret_value(*, secret: Secret) -> str:
    """The plaintext, for server-side use (an agent channel calling its provider). Never send it
    to a client: that is what `secret_reveal` (audited) is for."""
    return crypto.decrypt_text(secret.ciphertext, context=secret.encryption_context("ciphertext"))


@transaction.atomic
def secret_reveal(*, secret: Secret, actor: User | None, reason: str = "") -> str:
    """The plaintext of a secret for a person; audited every time, with why (`reason`)."""
    secret = Secret.objects.select_for_update().get(pk=secret.pk)
    value = secret_value(secret=secret)
    secret.last_revealed_at = clock.now()
    secret.last_revealed_by = stored_user(actor)
    secret.save(update_fields=["last_revealed_at", "last_revealed_by", "updated_at"])
    audit_record(
        action="secret.revealed",
        tenant=secret.tenant_id,
        target=secret,
        severity=Severity.WARNING,
        details={**_secret_details(secret), "reason": reason},
        actor=actor,
    )
    return value
