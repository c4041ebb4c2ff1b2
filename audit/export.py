"""The audit log as JSON Lines, streamed: one entry per line, in chain order.

The request that asks for an export checks access and commits before the response body is
sent, so the stream opens its own transaction in the tenant's context (django-scopes scope and
row-level security) and keeps it for its whole length: rows come from a server-side cursor,
`EXPORT_CHUNK` at a time, never the whole log in memory. A client that goes away closes the
generator, which ends the transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet

from audit.models import AuditLogEntry
from core.tenancy import tenant_context
from core.types import TenantRef

EXPORT_CHUNK = 2000

EXPORT_FIELDS = (
    "id",
    "created_at",
    "tenant_id",
    "chain_seq",
    "actor_type",
    "actor_user_id",
    "actor_api_key_id",
    "actor_label",
    "actor_role",
    "action",
    "target_type",
    "target_id",
    "target_label",
    "severity",
    "ip_address",
    "user_agent",
    "request_id",
    "details",
    "prev_hash",
    "hash",
)


def _line(row: dict[str, Any]) -> str:
    return json.dumps(row, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":")) + "\n"


def jsonl_stream(*, tenant: TenantRef, queryset: QuerySet[AuditLogEntry]) -> Iterator[str]:
    """`queryset`'s entries as JSON Lines, oldest link first, read inside `tenant`'s context for
    as long as the stream lasts."""
    with tenant_context(tenant):
        rows = queryset.order_by("chain_seq").values(*EXPORT_FIELDS).iterator(chunk_size=EXPORT_CHUNK)
        for row in rows:
            yield _line(row)
