"""Reads of tenant configuration: resolved settings, feature flags, the secret locker.

`get_setting(tenant, key)` and `is_enabled(flag_key, ...)` are called on hot paths (every request,
every session spawn). They keep each scope's settings and flags (one tenant, or the platform, in
one environment) in this process, stamped with a version that lives in the Django cache (Redis
in production). A change bumps the stamp when it commits, so every process reloads that scope
on its next call; a warm call makes no database query. Decrypted secrets stay in process memory
only: the shared cache holds nothing but the stamps.

While the current transaction holds an uncommitted change of a scope, that scope is read from
the database and not cached (the change could still roll back).
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Q, QuerySet

from core import crypto
from core.errors import InvalidInput, NotFound
from core.tenancy import tenant_context
from tenants import settings_registry
from tenants.models import Environment, FeatureFlag, Membership, Secret, Setting, SettingVersion, Tenant
from tenants.rbac import TENANT_WIDE_ROLES
from tenants.settings_registry import SettingDefinition

BUCKETS = 10_000
# Why a flag is on or off for a subject (the evaluate endpoint reports it).
FLAG_REASONS = ("disabled", "targeted_user", "targeted_role", "targeted_tenant", "rollout", "not_in_rollout")
MASK = "********"
SETTINGS = "settings"
FLAGS = "flags"
# Scopes held per process (each: one tenant's or the platform's rows of one environment).
LOCAL_CACHE_ENTRIES = 4096


def _pk(obj: Any) -> uuid.UUID | None:
    if obj is None:
        return None
    value = getattr(obj, "pk", obj)
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def current_environment(environment: str | None = None) -> str:
    """`environment`, validated; the deployment's own (QM_ENVIRONMENT) when not given."""
    environment = environment or settings.QM_ENVIRONMENT
    if environment not in Environment.values:
        raise InvalidInput(
            "Unknown environment.",
            code="validation_error",
            errors={"environment": [f"One of {', '.join(Environment.values)}."]},
        )
    return environment


def setting_definition(key: str) -> SettingDefinition:
    """The registry entry of `key`; 404 for a key the platform does not know."""
    definition = settings_registry.definition(key)
    if definition is None:
        raise NotFound("No such setting.")
    return definition


# --- The process-local cache and its stamps ---------------------------------------------------


class _LocalCache:
    """A small thread-safe LRU: scope → (stamp, data)."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._data: OrderedDict[tuple[str, str, str], tuple[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, scope: tuple[str, str, str], stamp: str) -> Any:
        with self._lock:
            entry = self._data.get(scope)
            if entry is None or entry[0] != stamp:
                return None
            self._data.move_to_end(scope)
            return entry[1]

    def put(self, scope: tuple[str, str, str], stamp: str, data: Any) -> None:
        with self._lock:
            self._data[scope] = (stamp, data)
            self._data.move_to_end(scope)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def discard(self, scope: tuple[str, str, str]) -> None:
        with self._lock:
            self._data.pop(scope, None)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


_local = _LocalCache(LOCAL_CACHE_ENTRIES)


def _scope(kind: str, tenant_id: uuid.UUID | None, environment: str) -> tuple[str, str, str]:
    return (kind, str(tenant_id) if tenant_id else "platform", environment)


def _stamp_key(scope: tuple[str, str, str]) -> str:
    return "qm:config-stamp:" + ":".join(scope)


def _stamps(scopes: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], str]:
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

    def __init__(self, scopes: set[tuple[str, str, str]]) -> None:
        self.scopes = scopes

    def __call__(self) -> None:
        bump(self.scopes)


def bump(scopes: Iterable[tuple[str, str, str]]) -> None:
    """Invalidate scopes now, in every process (their next call reloads)."""
    scopes = list(scopes)
    cache.set_many({_stamp_key(s): uuid.uuid4().hex for s in scopes}, timeout=None)
    for scope in scopes:
        _local.discard(scope)


def _pending(scope: tuple[str, str, str]) -> bool:
    """Whether this transaction holds an uncommitted change of `scope`."""
    return any(
        isinstance(entry[1], _Invalidate) and scope in entry[1].scopes for entry in connection.run_on_commit
    )


def invalidate_on_commit(kind: str, tenant_id: Any, environment: str) -> None:
    """Called by the services inside a change's transaction."""
    from django.db import transaction

    scope = _scope(kind, _pk(tenant_id), environment)
    if not _pending(scope):
        transaction.on_commit(_Invalidate({scope}))


def clear_local_cache() -> None:
    """Forget every scope held in this process (tests; a worker that wants a clean slate)."""
    _local.clear()


def _cached(
    kind: str,
    tenant_ids: list[uuid.UUID | None],
    environment: str,
    load: Callable[[uuid.UUID | None, str], Any],
) -> list[Any]:
    scopes = [_scope(kind, t, environment) for t in tenant_ids]
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


def _rows_of(model: type[Any], tenant_id: uuid.UUID | None, environment: str) -> list[Any]:
    if tenant_id is None:
        # Platform rows are readable in every context (row-level security shares them).
        return list(model.objects.filter(tenant__isnull=True, environment=environment))
    # A tenant's rows are read as that tenant, whatever context the caller is in: a call from
    # another tenant's context would otherwise see none of them and quietly use the defaults.
    with tenant_context(tenant_id):
        return list(model.objects.filter(tenant_id=tenant_id, environment=environment))


# --- Settings ---------------------------------------------------------------------------------


def setting_plain_value(row: Setting) -> Any:
    """The JSON value stored in `row` (decrypted if secret); None when it holds none."""
    if row.is_secret:
        if not row.value_encrypted:
            return None
        return crypto.decrypt_json(row.value_encrypted, context=row.encryption_context("value_encrypted"))
    return row.value


def version_plain_values(version: SettingVersion) -> tuple[Any, Any]:
    """(old, new) JSON values of a version, decrypted if secret; None where not set."""
    if not version.is_secret:
        return version.old_value, version.new_value
    return tuple(  # type: ignore[return-value]  # exactly two elements
        crypto.decrypt_json(token, context=version.encryption_context(field)) if token else None
        for field, token in (
            ("old_value_encrypted", version.old_value_encrypted),
            ("new_value_encrypted", version.new_value_encrypted),
        )
    )


def _load_settings(tenant_id: uuid.UUID | None, environment: str) -> dict[str, Any]:
    values = {}
    for row in _rows_of(Setting, tenant_id, environment):
        definition = settings_registry.definition(row.key)
        if definition is None or not row.has_value:
            continue  # a key dropped from the registry, or a reset row
        values[row.key] = definition.to_python(setting_plain_value(row))
    return values


def get_setting(tenant: Any, key: str, *, environment: str | None = None) -> Any:
    """The typed value of `key` for `tenant` (None: the platform's): tenant, platform, default.

    Cached in this process and invalidated across processes on change; a warm call makes no
    database query.
    """
    definition = setting_definition(key)
    environment = current_environment(environment)
    tenant_id = _pk(tenant)
    levels: list[uuid.UUID | None] = [tenant_id, None] if tenant_id else [None]
    for values in _cached(SETTINGS, levels, environment, _load_settings):
        if key in values:
            return values[key]
    return definition.to_python(definition.default)


@dataclass(frozen=True)
class SettingView:
    """One registry key as seen from a tenant (or the platform), without decrypting anything."""

    definition: SettingDefinition
    environment: str
    own: Setting | None  # the row at the level being viewed
    platform: Setting | None  # the platform's row, when a tenant is viewed

    @property
    def source(self) -> str:
        if self.own is not None and self.own.has_value:
            return "platform" if self.own.tenant_id is None else "tenant"
        if self.platform is not None and self.platform.has_value:
            return "platform"
        return "default"

    @property
    def effective_row(self) -> Setting | None:
        return {"tenant": self.own, "platform": self.platform or self.own}.get(self.source)

    @property
    def default_display(self) -> Any:
        return None if self.definition.is_secret else self.definition.default

    @property
    def display_value(self) -> Any:
        """The value to show: masked if secret and set; None for an unset secret."""
        row = self.effective_row
        if self.definition.is_secret:
            return MASK if row is not None else None
        return row.value if row is not None else self.definition.default


def setting_list(*, tenant: Tenant | None, environment: str) -> list[SettingView]:
    """Every registry key, resolved for `tenant` (None: the platform level); one query."""
    qs = Setting.objects.filter(environment=environment).select_related("updated_by")
    qs = qs.filter(Q(tenant__isnull=True) | Q(tenant=tenant)) if tenant else qs.filter(tenant__isnull=True)
    rows = {(row.tenant_id, row.key): row for row in qs}
    tenant_id = tenant.pk if tenant else None
    return [
        SettingView(
            definition=d,
            environment=environment,
            own=rows.get((tenant_id, d.key)),
            platform=rows.get((None, d.key)) if tenant else None,
        )
        for d in settings_registry.REGISTRY
    ]


def setting_view(*, tenant: Tenant | None, key: str, environment: str) -> SettingView:
    definition = setting_definition(key)
    return next(v for v in setting_list(tenant=tenant, environment=environment) if v.definition is definition)


def setting_version_list(*, tenant: Tenant | None, key: str, environment: str) -> QuerySet[SettingVersion]:
    """The history of `key` at one level, newest first."""
    setting_definition(key)
    qs = SettingVersion.objects.filter(key=key, environment=environment)
    qs = qs.filter(tenant=tenant) if tenant else qs.filter(tenant__isnull=True)
    return qs.order_by("-version", "-id")


# --- Feature flags ----------------------------------------------------------------------------


def bucket(flag_key: str, subject_id: Any) -> int:
    """The subject's bucket for a flag, 0-9999: the same on every machine, for ever (SHA-256)."""
    digest = hashlib.sha256(f"{flag_key}\x00{subject_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


@dataclass(frozen=True)
class FlagRule:
    """What evaluation needs of a flag, held in process memory."""

    key: str
    source: str  # tenant | platform
    enabled: bool
    threshold: int  # buckets below this are on: percentage x 100
    target_users: frozenset[str]
    target_roles: frozenset[str]
    target_tenants: frozenset[str]

    @classmethod
    def of(cls, flag: FeatureFlag) -> FlagRule:
        return cls(
            key=flag.key,
            source="platform" if flag.tenant_id is None else "tenant",
            enabled=flag.enabled,
            threshold=int(Decimal(flag.rollout_percentage) * 100),
            target_users=frozenset(str(u) for u in flag.target_users),
            target_roles=frozenset(flag.target_roles),
            target_tenants=frozenset(str(t) for t in flag.target_tenants),
        )

    def evaluate(
        self, *, subject_id: str | None, user_id: str | None, role: str | None, tenant_id: str | None
    ) -> tuple[bool, str]:
        """(on?, why): disabled → off; targeted → on; else the bucket decides."""
        if not self.enabled:
            return False, "disabled"
        if (user_id and user_id in self.target_users) or (subject_id and subject_id in self.target_users):
            return True, "targeted_user"
        if role and role in self.target_roles:
            return True, "targeted_role"
        if tenant_id and tenant_id in self.target_tenants:
            return True, "targeted_tenant"
        if self.threshold >= BUCKETS:
            return True, "rollout"
        if subject_id is None or self.threshold <= 0:
            return False, "not_in_rollout"
        if bucket(self.key, subject_id) < self.threshold:
            return True, "rollout"
        return False, "not_in_rollout"


def _load_flags(tenant_id: uuid.UUID | None, environment: str) -> dict[str, FlagRule]:
    return {flag.key: FlagRule.of(flag) for flag in _rows_of(FeatureFlag, tenant_id, environment)}


def _flag_rules(tenant_id: uuid.UUID | None, environment: str) -> dict[str, FlagRule]:
    """The flags that apply in a tenant: its own, with the platform's taking precedence."""
    if tenant_id is None:
        (platform,) = _cached(FLAGS, [None], environment, _load_flags)
        return dict(platform)
    own, platform = _cached(FLAGS, [tenant_id, None], environment, _load_flags)
    # A platform flag wins over a tenant flag of the same key: the platform's kill switch must
    # hold in every tenant.
    return {**own, **platform}


def _role_of(user_id: Any, tenant_id: uuid.UUID) -> str | None:
    with tenant_context(tenant_id):
        row = (
            Membership.objects.filter(tenant_id=tenant_id, user_id=user_id)
            .values_list("role__slug", flat=True)
            .first()
        )
    return row


def is_enabled(
    flag_key: str,
    *,
    user: Any = None,
    tenant: Any = None,
    role: str | None = None,
    subject: Any = None,
    environment: str | None = None,
) -> bool:
    """Whether the flag is on for this user (or subject) in this tenant. Unknown flags are off.

    The subject of the rollout is `subject`, else the user, else the tenant. Pass the user's
    role slug in the tenant as `role` where it is at hand (API views have it): only a flag that
    targets roles, called without it, looks the membership up.
    """
    environment = current_environment(environment)
    tenant_id = _pk(tenant)
    rule = _flag_rules(tenant_id, environment).get(flag_key)
    if rule is None:
        return False
    user_id = str(user.pk) if user is not None else None
    if role is None and rule.target_roles and user is not None and tenant_id is not None and rule.enabled:
        role = _role_of(user.pk, tenant_id)
    subject_id = str(subject) if subject is not None else (user_id or (str(tenant_id) if tenant_id else None))
    on, _ = rule.evaluate(
        subject_id=subject_id, user_id=user_id, role=role, tenant_id=str(tenant_id) if tenant_id else None
    )
    return on


@dataclass(frozen=True)
class FlagEvaluation:
    key: str
    enabled: bool
    reason: str
    source: str


def flags_evaluate(
    *, tenant: Tenant, subject: str, environment: str, role: str | None = None
) -> list[FlagEvaluation]:
    """Every flag that applies in `tenant`, evaluated for `subject` (sorted by key).

    When `subject` is the id of one of the tenant's members, their role is looked up (one query)
    unless `role` is given.
    """
    rules = _flag_rules(tenant.pk, environment)
    if role is None and any(r.target_roles for r in rules.values()):
        try:
            role = _role_of(uuid.UUID(subject), tenant.pk)
        except ValueError:
            role = None  # not a user id: an agent, a session, an external id
    results = []
    for key in sorted(rules):
        on, reason = rules[key].evaluate(
            subject_id=subject, user_id=None, role=role, tenant_id=str(tenant.pk)
        )
        results.append(FlagEvaluation(key=key, enabled=on, reason=reason, source=rules[key].source))
    return results


def flag_list(*, tenant: Tenant | None, environment: str | None = None) -> QuerySet[FeatureFlag]:
    """A tenant's own flags (None: the platform's), by key; every environment unless given."""
    qs = (
        FeatureFlag.objects.filter(tenant=tenant)
        if tenant
        else FeatureFlag.objects.filter(tenant__isnull=True)
    )
    if environment:
        qs = qs.filter(environment=environment)
    return qs.select_related("created_by", "updated_by").order_by("key", "environment", "id")


# --- The secret locker ------------------------------------------------------------------------


@dataclass(frozen=True)
class SecretVisibility:
    """Which of a tenant's secrets a caller may see: all, or tenant-wide ones plus their team's."""

    all_teams: bool
    team_id: uuid.UUID | None = None

    def allows(self, team_id: Any) -> bool:
        return self.all_teams or team_id is None or team_id == self.team_id


ALL_SECRETS = SecretVisibility(all_teams=True)


def secret_visibility(
    *, user: Any, membership: Membership | None, via_api_key: bool = False
) -> SecretVisibility:
    """Platform staff (not through an API key) and the tenant's owners and admins see every
    secret; everyone else sees tenant-wide secrets and those of their own team."""
    if user.is_platform_staff and not via_api_key:
        return ALL_SECRETS
    if membership is None:
        return SecretVisibility(all_teams=False)
    role = membership.role
    if role.tenant_id is None and role.slug in TENANT_WIDE_ROLES:
        return ALL_SECRETS
    return SecretVisibility(all_teams=False, team_id=membership.team_id)


def secret_list(*, tenant: Tenant, visibility: SecretVisibility) -> QuerySet[Secret]:
    """The secrets of `tenant` the caller may see, by name (never with their values)."""
    qs = Secret.objects.filter(tenant=tenant).select_related("team", "created_by")
    if not visibility.all_teams:
        qs = qs.filter(Q(team__isnull=True) | Q(team_id=visibility.team_id))
    return qs.order_by("name", "id")


def secret_get(*, tenant: Tenant, visibility: SecretVisibility, secret_id: Any) -> Secret:
    """One visible secret; another tenant's, another team's or a missing one: 404 alike."""
    secret = secret_list(tenant=tenant, visibility=visibility).filter(pk=secret_id).first()
    if secret is None:
        raise NotFound()
    return secret
