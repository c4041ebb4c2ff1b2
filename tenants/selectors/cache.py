"""The process-local cache of tenant configuration (settings and feature flags) and its stamps.

`get_setting` and `is_enabled` run on hot paths (every request, every session spawn). They keep
each scope's rows (one tenant, or the platform, in one environment) in this process, stamped
with a version that lives in the Django cache (Redis in production). A change bumps the stamp
when it commits, so every process reloads that scope on its next call; a warm call makes no
database query. Decrypted secrets stay in process memory only: the shared cache holds nothing
but the stamps.

While the current transaction holds an uncommitted change of a scope, that scope is read from
the database and not cached (the change could still roll back).
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from django.core.cache import cache
from django.db import connection, transaction

from core.tenancy import tenant_context
from tenants.selectors.common import TenantRef, id_of

SETTINGS = "settings"
FLAGS = "flags"
# Scopes held per process (each: one tenant's or the platform's rows of one environment).
LOCAL_CACHE_ENTRIES = 4096

Scope = tuple[str, str, str]


class _LocalCache:
    """A small thread-safe LRU: scope → (stamp, data)."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._data: OrderedDict[Scope, tuple[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, scope: Scope, stamp: str) -> Any:
        with self._lock:
            entry = self._data.get(scope)
            if entry is None or entry[0] != stamp:
                return None
            self._data.move_to_end(scope)
            return entry[1]

    def put(self, scope: Scope, stamp: str, data: Any) -> None:
        with self._lock:
            self._data[scope] = (stamp, data)
            self._data.move_to_end(scope)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def discard(self, scope: Scope) -> None:
        with self._lock:
            self._data.pop(scope, None)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


_local = _LocalCache(LOCAL_CACHE_ENTRIES)


def scope_of(kind: str, tenant_id: uuid.UUID | None, environment: str) -> Scope:
    """The cache scope of one kind of rows (SETTINGS, FLAGS) of a tenant (None: the platform)."""
    return (kind, str(tenant_id) if tenant_id else "platform", environment)


def _stamp_key(scope: Scope) -> str:
    return "qm:config-stamp:" + ":".join(scope)


def _stamps(scopes: list[Scope]) -> dict[Scope, str]:
    """The current stamp of each scope: one cache round trip when they exist."""
    keys = {_stamp_key(s): s for s in scopes}
    found = cache.get_many(list(keys))
    for key in keys.keys() - found.keys():
        # A scope nobody has stamped yet (or an evicted stamp): start one; the first writer wins.
        cache.add(key, uuid.uuid4().hex, timeout=None)
        found[key] = cache.get(key) or uuid.uuid4().hex
    return {scope: found[key] for key, scope in keys.items()}


class _Invalidate:
    """An on-commit hook that bumps scopes' stamps; pending, it marks them as being changed."""

    def __init__(self, scopes: set[Scope]) -> None:
        self.scopes = scopes

    def __call__(self) -> None:
        bump(self.scopes)


def bump(scopes: Iterable[Scope]) -> None:
    """Invalidate scopes now, in every process (their next call reloads)."""
    scopes = list(scopes)
    cache.set_many({_stamp_key(s): uuid.uuid4().hex for s in scopes}, timeout=None)
    for scope in scopes:
        _local.discard(scope)


def _pending(scope: Scope) -> bool:
    """Whether this transaction holds an uncommitted change of `scope`."""
    return any(
        isinstance(entry[1], _Invalidate) and scope in entry[1].scopes for entry in connection.run_on_commit
    )


def invalidate_on_commit(kind: str, tenant: TenantRef | None, environment: str) -> None:
    """Called by the services inside a change's transaction; `tenant` an instance or id (None:
    the platform)."""
    scope = scope_of(kind, id_of(tenant), environment)
    if not _pending(scope):
        transaction.on_commit(_Invalidate({scope}))


def clear_local_cache() -> None:
    """Forget every scope held in this process (tests; a worker that wants a clean slate)."""
    _local.clear()


def cached(
    kind: str,
    tenant_ids: list[uuid.UUID | None],
    environment: str,
    load: Callable[[uuid.UUID | None, str], Any],
) -> list[Any]:
    """Each scope's data, from this process when its stamp is current, else `load`ed (and kept)."""
    scopes = [scope_of(kind, t, environment) for t in tenant_ids]
    stamps = _stamps(scopes)
    result = []
    for tenant_id, scope in zip(tenant_ids, scopes, strict=True):
        if _pending(scope):
            result.append(load(tenant_id, environment))
            continue
        data = _local.get(scope, stamps[scope])
        if data is None:
            data = load(tenant_id, environment)
            _local.put(scope, stamps[scope], data)
        result.append(data)
    return result


def rows_of(model: type[Any], tenant_id: uuid.UUID | None, environment: str) -> list[Any]:
    """A scope's rows of `model` (Setting, FeatureFlag), read as their tenant."""
    if tenant_id is None:
        # Platform rows are readable in every context (row-level security shares them).
        return list(model.objects.filter(tenant__isnull=True, environment=environment))
    # A tenant's rows are read as that tenant, whatever context the caller is in: a call from
    # another tenant's context would otherwise see none of them and quietly use the defaults.
    with tenant_context(tenant_id):
        return list(model.objects.filter(tenant_id=tenant_id, environment=environment))
