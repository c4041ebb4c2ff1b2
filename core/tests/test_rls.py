"""Layer 3: PostgreSQL row-level security, seen through raw SQL as the application role."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django_scopes import ScopeError

from accounts.tests.factories import ApiKeyFactory
from agents.tests import factories as agents_factories
from alerts.tests.factories import make_alert
from audit.models import AuditLogEntry
from audit.services import audit_record
from audit.tests import factories as audit_factories
from billing.tests import factories as billing_factories
from core.tenancy import current_tenant_id, platform_bypass, tenant_context
from insights.tests import factories as insights_factories
from tenants.models import Team
from tenants.tests.factories import (
    FeatureFlagFactory,
    InviteFactory,
    MembershipFactory,
    RoleFactory,
    SecretFactory,
    TeamFactory,
    TenantFactory,
    setting_value,
)


def _audit_entry(tenant: Any) -> Any:
    with tenant_context(tenant):
        return audit_record(action="test.recorded", tenant=tenant, system=True)


# One way to make a row of each table that carries tenant_id. A new tenant-scoped table without
# an entry here fails test_every_tenant_table__has_a_row_factory, so it cannot skip these tests.
ROW_FACTORIES: dict[str, Callable[[Any], Any]] = {
    "tenants_team": lambda t: TeamFactory.create(tenant=t),
    "tenants_membership": lambda t: MembershipFactory.create(tenant=t),
    "accounts_role": lambda t: RoleFactory.create(tenant=t),
    "audit_auditlogentry": _audit_entry,
    "audit_auditchainhead": audit_factories.make_chain_head,
    "audit_auditarchive": audit_factories.make_archive,
    "accounts_apikey": lambda t: ApiKeyFactory.create(tenant=t),
    "tenants_invite": lambda t: InviteFactory.create(tenant=t),
    # A setting changed through its service writes the setting row and its first version.
    "tenants_setting": lambda t: setting_value(t, "console.dormant_after_days", 14),
    "tenants_settingversion": lambda t: setting_value(t, "providers.openai_api_key", "sk-rls-test-0001"),
    "tenants_featureflag": lambda t: FeatureFlagFactory.create(tenant=t),
    "tenants_secret": lambda t: SecretFactory.create(tenant=t),
    "billing_creditaccount": billing_factories.make_account,
    "billing_credittransaction": billing_factories.make_entry,
    "billing_subscription": billing_factories.make_subscription,
    "billing_reservation": billing_factories.make_reservation,
    "billing_idempotencyrecord": billing_factories.make_idempotency_record,
    "billing_lowbalancethreshold": billing_factories.make_threshold,
    "agents_agent": agents_factories.make_agent,
    "agents_agentchannel": agents_factories.make_channel,
    "agents_skillinstallation": agents_factories.make_installation,
    "agents_agentsession": agents_factories.make_session,
    "agents_agenttask": agents_factories.make_task,
    "agents_agentactivity": agents_factories.make_activity,
    "agents_agentmetricshourly": agents_factories.make_metrics,
    "agents_containerhealth": agents_factories.make_health,
    "agents_containerhealthhourly": agents_factories.make_health_hourly,
    "agents_streamticket": agents_factories.make_stream_ticket,
    "agents_websocketconnection": agents_factories.make_websocket_connection,
    "alerts_alert": make_alert,
    "insights_intervention": insights_factories.make_intervention,
    "insights_recommendation": insights_factories.make_recommendation,
    "insights_dailyanalytics": lambda t: insights_factories.DailyAnalyticsFactory.create(tenant=t),
    "insights_participant": insights_factories.make_participant,
    "insights_relationship": insights_factories.make_relationship,
}


def _tenant_tables() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.table_name FROM information_schema.columns c
            JOIN information_schema.tables t USING (table_schema, table_name)
            WHERE c.table_schema = 'public' AND c.column_name = 'tenant_id' AND t.table_type = 'BASE TABLE'
            ORDER BY 1
            """
        )
        return [row[0] for row in cursor.fetchall()]


def _count(table: str, tenant_id: Any = None) -> int:
    with connection.cursor() as cursor:
        if tenant_id is None:
            cursor.execute(f'SELECT count(*) FROM "{table}"')  # table names from the catalog
        else:
            cursor.execute(f'SELECT count(*) FROM "{table}" WHERE tenant_id = %s', [tenant_id])
        return cursor.fetchone()[0]


@pytest.fixture
def two_tenants_with_rows() -> tuple[Any, Any]:
    a, b = TenantFactory.create(), TenantFactory.create()
    for make in ROW_FACTORIES.values():
        make(a)
        make(b)
    return a, b


@pytest.mark.django_db
def test_every_tenant_table__has_a_row_factory():
    tables = _tenant_tables()

    assert tables, "the catalog query found no tenant-scoped table"
    assert sorted(ROW_FACTORIES) == tables


@pytest.mark.django_db
def test_catalog__every_tenant_table_has_rls_enabled_and_forced():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = ANY(%s)",
            [_tenant_tables()],
        )
        flags = {name: (enabled, forced) for name, enabled, forced in cursor.fetchall()}

    assert flags == dict.fromkeys(_tenant_tables(), (True, True))


@pytest.mark.django_db
@pytest.mark.parametrize("table", sorted(ROW_FACTORIES))
def test_raw_sql__in_tenant_a_context__sees_none_of_tenant_b(two_tenants_with_rows, table):
    a, b = two_tenants_with_rows

    with tenant_context(a):
        own, other = _count(table, a.pk), _count(table, b.pk)

    assert own >= 1
    assert other == 0


@pytest.mark.django_db
@pytest.mark.parametrize("table", sorted(ROW_FACTORIES))
def test_raw_sql__without_context__sees_no_tenant_rows(two_tenants_with_rows, table):
    a, b = two_tenants_with_rows

    assert _count(table, a.pk) == 0
    assert _count(table, b.pk) == 0


@pytest.mark.django_db
def test_raw_sql__without_context__sees_shared_system_roles_only():
    TenantFactory.create()

    with connection.cursor() as cursor:
        cursor.execute("SELECT slug FROM accounts_role ORDER BY rank DESC")
        slugs = [row[0] for row in cursor.fetchall()]

    assert slugs == ["owner", "admin", "member", "viewer"]


@pytest.mark.django_db
def test_raw_sql__insert_into_another_tenant__refused_by_the_policy(two_tenants_with_rows):
    a, b = two_tenants_with_rows

    with (
        pytest.raises(DatabaseError, match="row-level security"),
        tenant_context(a),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "INSERT INTO tenants_team (id, tenant_id, name, slug, description, created_at, updated_at) "
            "VALUES (gen_random_uuid(), %s, 'x', 'x', '', now(), now())",
            [b.pk],
        )


@pytest.mark.django_db
def test_raw_sql__update_of_another_tenants_rows__touches_nothing(two_tenants_with_rows):
    a, b = two_tenants_with_rows

    with tenant_context(a), connection.cursor() as cursor:
        cursor.execute("UPDATE tenants_team SET name = 'hijacked' WHERE tenant_id = %s", [b.pk])
        touched = cursor.rowcount

    assert touched == 0
    with platform_bypass(reason="test", log=False):
        assert not Team.objects.filter(name="hijacked").exists()


@pytest.mark.django_db
def test_platform_bypass__sees_every_tenant(two_tenants_with_rows):
    a, b = two_tenants_with_rows

    with platform_bypass(reason="test", log=False):
        counts = (_count("tenants_team", a.pk), _count("tenants_team", b.pk))

    assert counts == (1, 1)


@pytest.mark.django_db
def test_context__alternating_two_tenants_over_one_connection__never_leaks(two_tenants_with_rows):
    a, b = two_tenants_with_rows
    seen: list[tuple[object, int, int | None]] = []

    for tenant in (a, b, a, b):
        with tenant_context(tenant):
            seen.append((current_tenant_id(), _count("tenants_team"), _count("tenants_team", tenant.pk)))
        seen.append((current_tenant_id(), _count("tenants_team"), None))

    assert seen == [
        (a.pk, 1, 1), (None, 0, None),
        (b.pk, 1, 1), (None, 0, None),
        (a.pk, 1, 1), (None, 0, None),
        (b.pk, 1, 1), (None, 0, None),
    ]  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_context__does_not_survive_its_transaction():
    tenant = TenantFactory.create()
    TeamFactory.create(tenant=tenant)

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('app.tenant_id', %s, true)", [str(tenant.pk)])
        inside = _count("tenants_team")
    after = _count("tenants_team")

    assert (inside, after) == (1, 0)


@pytest.mark.django_db
def test_context__rolled_back_block__restores_the_previous_tenant(two_tenants_with_rows):
    a, b = two_tenants_with_rows

    with tenant_context(a):
        with pytest.raises(RuntimeError), tenant_context(b):
            raise RuntimeError("boom")
        assert current_tenant_id() == a.pk


@pytest.mark.django_db
def test_scopes__query_without_scope__raises():
    with pytest.raises(ScopeError):
        list(Team.objects.all())


@pytest.mark.django_db
def test_scopes__inside_tenant_context__filters_to_the_tenant(two_tenants_with_rows):
    a, _ = two_tenants_with_rows

    with tenant_context(a):
        tenants = set(Team.objects.values_list("tenant_id", flat=True))

    assert tenants == {a.pk}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditlogentry SET action = 'tampered'",
        "DELETE FROM audit_auditlogentry",
    ],
)
def test_audit_table__update_or_delete__fails_for_the_application_role(statement):
    tenant = TenantFactory.create()
    _audit_entry(tenant)

    with (
        pytest.raises(DatabaseError, match="pgtrigger: Cannot"),
        platform_bypass(reason="test", log=False),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)

    with platform_bypass(reason="test", log=False):
        assert AuditLogEntry.objects.filter(action="test.recorded").count() == 1


@pytest.mark.django_db
def test_audit_table__truncate__fails_for_the_application_role():
    # A statement-level trigger: it fires on an empty table too (rows inserted in this same
    # transaction would make PostgreSQL refuse for another reason, pending FK checks).
    with (
        pytest.raises(DatabaseError, match="pgtrigger: Cannot truncate"),
        platform_bypass(reason="test", log=False),
        connection.cursor() as cursor,
    ):
        cursor.execute("TRUNCATE audit_auditlogentry")
