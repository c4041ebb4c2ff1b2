"""Tenant isolation in Python and in the database.

Three layers keep tenants apart (DESIGN.md): the API resolves the tenant from the URL and checks
membership (`core.api`); django-scopes makes a query on a tenant-scoped model without an active
scope raise (layer 2); PostgreSQL row-level security filters every row by a transaction-local
setting (layer 3). This module owns layers 2 and 3:

- `TenantScopedModel`: the base of every tenant-scoped model (`tenant` FK, scoped manager).
- `tenant_context(tenant)`: activates the scope and sets `app.tenant_id` for one transaction.
- `platform_bypass(reason=...)`: the one explicit way to work across tenants (admin, roll-ups,
  commands); it is logged every time and audited where it changes things.
- `EnableRowLevelSecurity`: the migration operation that puts a table under RLS.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, overload

import structlog
from django.db import connection, migrations, models, transaction
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import ProjectState
from django_scopes import ScopedManager, scope, scopes_disabled

from core.hooks import record_audit
from core.models import BaseModel
from core.types import HasPk, TenantRef

logger = structlog.get_logger(__name__)

TENANT_SETTING = "app.tenant_id"
USER_SETTING = "app.user_id"
BYPASS_SETTING = "app.bypass_rls"


class TenantScopedModel(BaseModel):
    """A row that belongs to one tenant. Queries need `tenant_context` (or the platform bypass)."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+", db_index=True)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]


@overload
def tenant_pk(tenant: TenantRef) -> uuid.UUID: ...
@overload
def tenant_pk(tenant: None) -> None: ...
def tenant_pk(tenant: TenantRef | None) -> uuid.UUID | None:
    """The id of a tenant given as an instance, a UUID or its text (None stays None)."""
    if tenant is None:
        return None
    return tenant if isinstance(tenant, uuid.UUID) else uuid.UUID(str(getattr(tenant, "pk", tenant)))


def _get(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting(%s, true)", [name])
        return cursor.fetchone()[0] or ""


def settings_statement(values: dict[str, str]) -> tuple[str, list[str]]:
    """The statement that sets these transaction-local settings, and its parameters; a hot path
    sends it ahead of its own query, in the same round trip."""
    writes = ", ".join(["set_config(%s, %s, true)"] * len(values))
    return f"SELECT {writes}", [x for name, value in values.items() for x in (name, value)]


def set_settings(values: dict[str, str], *, read_previous: bool = False) -> dict[str, str]:
    """Set transaction-local settings in one round trip; optionally return what they were.

    is_local = true: the values die with the transaction, so they can never leak into the next
    request that reuses this connection. These run on every request, hence one round trip.
    """
    names = list(values)
    sql, params = settings_statement(values)
    if read_previous:
        reads = ", ".join(["coalesce(current_setting(%s, true), '')"] * len(names))
        sql, params = f"SELECT {reads}; {sql}", [*names, *params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)  # two statements: the first one's row is the one fetched
        return dict(zip(names, cursor.fetchone(), strict=True)) if read_previous else {}


@contextmanager
def _db_settings(**values: str) -> Iterator[None]:
    """Set transaction-local settings inside an atomic block; restore the previous ones after."""
    with transaction.atomic():
        previous = set_settings(values, read_previous=True)
        yield
        # On an exception (or a block marked for rollback) the atomic block rolls back, and
        # PostgreSQL undoes set_config with it.
        if not connection.needs_rollback:
            set_settings(previous)


def current_tenant_id() -> uuid.UUID | None:
    """The tenant whose context is active on this connection's transaction, if any."""
    value = _get(TENANT_SETTING)
    return uuid.UUID(value) if value else None


@contextmanager
def tenant_context(tenant: TenantRef, *, user: HasPk | None = None) -> Iterator[None]:
    """Work as `tenant` (an instance or id): django-scopes scope plus RLS, in one transaction."""
    tenant_id = tenant_pk(tenant)
    if tenant_id is None:
        raise ValueError("tenant_context needs a tenant")
    settings = {TENANT_SETTING: str(tenant_id), BYPASS_SETTING: ""}
    if user is not None:
        settings[USER_SETTING] = str(user.pk)
    with _db_settings(**settings), scope(tenant=tenant_id):
        yield


@contextmanager
def user_context(user: HasPk) -> Iterator[None]:
    """No tenant, but this user may see their own memberships across tenants (RLS policy)."""
    with _db_settings(**{USER_SETTING: str(user.pk), TENANT_SETTING: "", BYPASS_SETTING: ""}):
        yield


@contextmanager
def platform_bypass(
    *, reason: str, actor: HasPk | None = None, log: bool = True, audit: bool = False
) -> Iterator[None]:
    """Work across every tenant. The one escape hatch: say why; it is logged each time.

    audit=True also writes a `platform.bypass` audit entry in the same transaction (commands
    and tasks do; the admin audits its writes through the services instead of every page view).
    """
    if not reason:
        raise ValueError("platform_bypass needs a reason")
    if log:
        logger.info("platform_bypass", reason=reason, actor=str(getattr(actor, "pk", actor) or "system"))
    with _db_settings(**{BYPASS_SETTING: "on", TENANT_SETTING: ""}), scopes_disabled():
        if audit:
            record_audit(
                action="platform.bypass", details={"reason": reason}, actor=actor, system=actor is None
            )
        yield


# --- Row-level security in migrations ---------------------------------------------------------

_TENANT_MATCH = f"tenant_id = NULLIF(current_setting('{TENANT_SETTING}', true), '')::uuid"
_BYPASS = f"current_setting('{BYPASS_SETTING}', true) = 'on'"
_USER_MATCH = f"user_id = NULLIF(current_setting('{USER_SETTING}', true), '')::uuid"


def rls_predicates(
    *, shared_null: bool = False, insert_null: bool = False, own_user_rows: bool = False
) -> tuple[str, str]:
    """The USING and WITH CHECK expressions of a tenant-isolation policy.

    shared_null: rows with tenant_id NULL are platform-wide and readable by everyone (system roles).
    insert_null: rows with tenant_id NULL may be inserted from any context (platform audit entries)
      but only read under the bypass.
    own_user_rows: a user sees their own rows in every tenant (memberships: "my tenants").
    """
    using = [_TENANT_MATCH, _BYPASS]
    check = [_TENANT_MATCH, _BYPASS]
    if shared_null:
        using.append("tenant_id IS NULL")
    if insert_null:
        check.append("tenant_id IS NULL")
    if own_user_rows:
        using.append(_USER_MATCH)
    return " OR ".join(f"({p})" for p in using), " OR ".join(f"({p})" for p in check)


class EnableRowLevelSecurity(migrations.operations.base.Operation):
    """Put a table under row-level security: ENABLE, FORCE (the owner too), one policy."""

    reversible = True
    reduces_to_sql = True

    def __init__(
        self, table: str, *, shared_null: bool = False, insert_null: bool = False, own_user_rows: bool = False
    ):
        self.table = table
        self.shared_null = shared_null
        self.insert_null = insert_null
        self.own_user_rows = own_user_rows

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        kwargs = {
            k: v
            for k, v in {
                "shared_null": self.shared_null,
                "insert_null": self.insert_null,
                "own_user_rows": self.own_user_rows,
            }.items()
            if v
        }
        return ("core.tenancy.EnableRowLevelSecurity", [self.table], kwargs)

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        using, check = rls_predicates(
            shared_null=self.shared_null, insert_null=self.insert_null, own_user_rows=self.own_user_rows
        )
        table = schema_editor.quote_name(self.table)
        schema_editor.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        schema_editor.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        schema_editor.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
        schema_editor.execute(
            f"CREATE POLICY tenant_isolation ON {table} USING ({using}) WITH CHECK ({check})"
        )

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        table = schema_editor.quote_name(self.table)
        schema_editor.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
        schema_editor.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        schema_editor.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")

    def describe(self) -> str:
        return f"Enable row-level security on {self.table}"
