"""Writing the audit log. Every other service calls `audit_record` inside its own transaction."""

from __future__ import annotations

import re
from contextlib import ExitStack
from datetime import datetime
from typing import Any

from django.db import connection, models, transaction
from django.urls import Resolver404, resolve

from audit.archive import ChainSlice, delete_statement
from audit.models import GENESIS_HASH, ActorType, AuditArchive, AuditLogEntry, Severity
from core import context
from core.errors import Conflict
from core.gates import once_per
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


def _actor_role(access: Any, *, actor_type: str, actor: Any, tenant: TenantRef | None) -> str:
    """The actor's role at the time: "system", "api_key", the role slug of the membership the
    tenant gate found for this request (when the entry is in that tenant, by that user), else the
    platform role of platform staff; "" when nobody knew it (a service called outside a request)."""
    if actor_type == ActorType.SYSTEM:
        return "system"
    if actor_type == ActorType.API_KEY:
        return "api_key"
    tenant_id = tenant_pk(tenant)
    if (
        access is not None
        and tenant_id is not None
        and access.tenant.pk == tenant_id
        and getattr(access.user, "pk", None) == getattr(actor, "pk", None)
        and access.membership is not None
    ):
        return str(access.membership.role.slug)
    if getattr(actor, "is_platform_staff", False):
        return str(actor.platform_role)
    return ""


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
    actor_role = _actor_role(ctx.access, actor_type=actor_type, actor=actor, tenant=tenant)
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
        actor_role=actor_role,
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


def audit_log_exported(*, tenant: TenantRef, filters: dict[str, Any]) -> AuditLogEntry:
    """Record that the tenant's audit log was exported (a sensitive read), with its filters."""
    return audit_record(action="audit.exported", tenant=tenant, details={"filters": filters})


# A caller refused again and again is recorded at most once per this many seconds for each
# (caller, method, route, tenant): hammering a route cannot flood the log (or its chain).
REFUSAL_INTERVAL_SECONDS = 60


def _route_of(path: str) -> str:
    """The URL pattern `path` resolves to (ids left out), or the path itself."""
    try:
        return str(resolve(path).route)
    except Resolver404:
        return path


def refusal_key(*, tenant: Any, method: str, path: str) -> str:
    """Who was refused what, without the ids in the path: the once-per-interval gate's key. The
    tenant counts only when it exists (an unknown tenant's id is one more route probe)."""
    ctx = context.current()
    actor = f"key:{ctx.api_key.pk}" if ctx.api_key is not None else f"user:{getattr(ctx.user, 'pk', '')}"
    return f"audit-refusal:{actor}:{method}:{_route_of(path)}:{getattr(tenant, 'pk', '-')}"


def access_denied_record(*, tenant_id: Any, method: str, path: str, code: str) -> None:
    """Record a refused request (`access.denied`), in a transaction of its own: the request's
    own transaction was rolled back, and the record of the refusal must stay. At most one entry
    per caller, method, route and tenant every REFUSAL_INTERVAL_SECONDS (core.gates.once_per):
    the repeats of a flood are dropped."""
    # The tenant named in the URL, if it exists (another tenant's id, or none at all, may be
    # what was refused); looked up through the entry's own foreign key, not an import of tenants.
    tenant_model = AuditLogEntry._meta.get_field("tenant").related_model
    with transaction.atomic(), ExitStack() as stack:
        tenant = tenant_model._base_manager.filter(pk=tenant_id).first() if tenant_id else None
        if not once_per(refusal_key(tenant=tenant, method=method, path=path), REFUSAL_INTERVAL_SECONDS):
            return
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


def _insert_only_ignore() -> str:
    trigger = next(t for t in AuditLogEntry._meta.triggers if t.name == "audit_insert_only")  # type: ignore[attr-defined]  # pgtrigger's Meta option
    pgid = trigger.get_pgid(AuditLogEntry)
    return "{" + f"{pgid},{AuditLogEntry._meta.db_table}:{pgid}" + "}"


# Taken by audit_archive_remove for its transaction: two archival runs never remove at once.
_ARCHIVE_LOCK_KEY = 0x61756469  # "audi"


def audit_archive_remove(
    *, slices: list[ChainSlice], file: str, file_sha256: str, before: datetime
) -> list[AuditArchive]:
    """Remove the archived entries of `slices` (written to `file` and verified there) and record
    each chain's anchor, in one transaction with an `audit.archived` entry.

    The one path around the insert-only trigger (pgtrigger's ignore, for this statement only):
    nothing else in the application removes audit entries. Run it under the platform bypass.
    Raises Conflict, removing nothing, if another archival moved an anchor since the plan or the
    rows to remove are not exactly the ones in the file.
    """
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ARCHIVE_LOCK_KEY])
        latest: dict[str, str] = {}
        for anchor in AuditArchive.objects.filter(chain__in=[s.chain for s in slices]).order_by("-last_seq"):
            latest.setdefault(anchor.chain, anchor.last_hash)
        moved = [s.chain for s in slices if latest.get(s.chain, GENESIS_HASH) != s.prev_hash]
        if moved:
            raise Conflict(f"Another archival ran meanwhile (chains {', '.join(moved)}): run again.")
        sql, parameters = delete_statement()
        with connection.cursor() as cursor:
            # pgtrigger's ignore setting for the insert-only trigger (as pgtrigger.ignore sets it),
            # local to this transaction and cleared right after the one DELETE.
            cursor.execute("SELECT set_config('pgtrigger.ignore', %s, true)", [_insert_only_ignore()])
            cursor.execute(sql, parameters(slices))
            removed = cursor.rowcount
            cursor.execute("SELECT set_config('pgtrigger.ignore', '{}', true)")
        expected = sum(s.count for s in slices)
        if removed != expected:
            raise Conflict(f"{removed} entries to remove, {expected} in the archive: nothing removed.")
        anchors = AuditArchive.objects.bulk_create(
            [
                AuditArchive(
                    tenant_id=s.tenant_id,
                    chain=s.chain,
                    first_seq=s.first_seq,
                    last_seq=s.last_seq,
                    count=s.count,
                    last_hash=s.last_hash,
                    before=before,
                    file=file,
                    file_sha256=file_sha256,
                )
                for s in slices
            ]
        )
        audit_record(
            action="audit.archived",
            system=True,
            severity=Severity.WARNING,
            details={
                "file": file,
                "file_sha256": file_sha256,
                "before": before.isoformat(),
                "entries": removed,
                "chains": {
                    s.chain: {"from": s.first_seq, "to": s.last_seq, "last_hash": s.last_hash} for s in slices
                },
            },
        )
    return anchors
