"""Writing the audit log. Every other service calls `audit_record` inside its own transaction."""

from __future__ import annotations

import re
from contextlib import ExitStack
from typing import Any

from django.db import models, transaction

from audit.models import ActorType, AuditLogEntry, Severity
from core import context
from core.hygiene import clean_text
from core.tenancy import tenant_context, tenant_pk
from core.types import Principal, TenantRef

MASK = "********"
# Keys whose values are secrets wherever they appear in details. Ids, prefixes and last-four
# hints of secrets are not secrets themselves.
_SECRET_KEY = re.compile(
    r"(pass(word|phrase)?|secret|token|api[_-]?key|private[_-]?key|^key$|seed|authorization|cookie|otp|"
    r"backup[_-]?codes?|ciphertext|credential)",
    re.IGNORECASE,
)
_NOT_SECRET_SUFFIX = re.compile(r"(_id|_ids|_prefix|_last4|_last_four|_at|_count|_name)$", re.IGNORECASE)


def mask_secrets(value: Any, *, _key: str = "") -> Any:
    """A copy of `value` with every secret-looking key's value replaced by a mask."""
    if _key and _SECRET_KEY.search(_key) and not _NOT_SECRET_SUFFIX.search(_key):
        return MASK if value not in (None, "", [], {}) else value
    if isinstance(value, dict):
        return {str(k): mask_secrets(v, _key=str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_secrets(v) for v in value]
    return value


def _jsonable(value: Any) -> Any:
    """`value` as JSON the database stores: text from outside (a refused path, an e-mail typed
    with a NUL) is cleaned rather than refused, so that recording a refusal cannot fail."""
    if isinstance(value, dict):
        return {clean_text(str(k)): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, str):
        return clean_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, models.Model):
        return str(value.pk)
    return clean_text(str(value))


def audit_record(
    *,
    action: str,
    tenant: TenantRef | None = None,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: Any = "",
    target_label: str = "",
    severity: str = Severity.INFO,
    details: dict[str, Any] | None = None,
    actor: Principal | None = None,
    api_key: Any = None,
    system: bool = False,
) -> AuditLogEntry:
    """Write one audit entry; actor, IP, user agent and request id default to the current request.

    Call it inside the transaction of the change it records, so both commit or neither does.
    """
    ctx = context.current()
    if not system:
        actor = actor if actor is not None else ctx.user
        api_key = api_key if api_key is not None else ctx.api_key
    if api_key is not None:
        actor_type, actor_label = ActorType.API_KEY, f"api key {getattr(api_key, 'prefix', api_key.pk)}"
    elif actor is not None and getattr(actor, "is_authenticated", False):
        actor_type, actor_label = ActorType.USER, actor.email
    else:
        actor_type, actor_label, actor = ActorType.SYSTEM, "system", None
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or target.pk
        target_label = target_label or str(target)[:254]
    return AuditLogEntry.objects.create(
        tenant_id=tenant_pk(tenant),
        actor_type=actor_type,
        actor_user_id=getattr(actor, "pk", None),
        actor_api_key_id=getattr(api_key, "pk", None),
        actor_label=clean_text(actor_label[:254]),
        action=action,
        target_type=target_type,
        target_id=clean_text(str(target_id or "")),
        target_label=clean_text(target_label[:254]),
        severity=severity,
        ip_address=ctx.ip_address,
        user_agent=clean_text(ctx.user_agent),
        request_id=ctx.request_id,
        details=mask_secrets(_jsonable(details or {})),
    )


def access_denied_record(*, tenant_id: Any, method: str, path: str, code: str) -> None:
    """Record a refused request (`access.denied`), in a transaction of its own: the request's
    own transaction was rolled back, and the record of the refusal must stay."""
    # The tenant named in the URL, if it exists (another tenant's id, or none at all, may be
    # what was refused); looked up through the entry's own foreign key, not an import of tenants.
    tenant_model = AuditLogEntry._meta.get_field("tenant").related_model
    with transaction.atomic(), ExitStack() as stack:
        tenant = tenant_model._base_manager.filter(pk=tenant_id).first() if tenant_id else None
        if tenant is not None:
            stack.enter_context(tenant_context(tenant))
        audit_record(
            action="access.denied",
            tenant=tenant,
            severity=Severity.WARNING,
            details={"method": method, "path": path, "code": code},
        )


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{field: {"old": ..., "new": ...}} for the fields whose value differs."""
    return {
        k: {"old": _jsonable(before.get(k)), "new": _jsonable(after.get(k))}
        for k in sorted(set(before) | set(after))
        if before.get(k) != after.get(k)
    }
