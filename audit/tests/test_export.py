"""GET /api/v1/tenants/{id}/audit-logs/export: JSON Lines, streamed in the tenant's context."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from audit import export
from audit.chain import link_hash
from audit.models import AuditLogEntry
from audit.services import audit_record
from core.tenancy import platform_bypass, tenant_context
from tenants.tests.factories import TenantFactory, member


def _url(tenant: Any, query: str = "") -> str:
    return f"/api/v1/tenants/{tenant.pk}/audit-logs/export{query}"


@pytest.fixture
def logged_tenant():
    tenant, other = TenantFactory.create(), TenantFactory.create()
    owner = member(tenant, "owner")
    with tenant_context(tenant):
        for i in range(5):
            audit_record(action="team.created" if i % 2 else "member.removed", tenant=tenant, actor=owner)
    with tenant_context(other):
        audit_record(action="team.created", tenant=other, system=True)
    client = APIClient()
    client.force_authenticate(owner)
    return tenant, owner, client


def _lines(response: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]


@pytest.mark.django_db
def test_export__owner__every_entry_of_the_tenant_as_a_line_in_chain_order(logged_tenant):
    tenant, _, client = logged_tenant

    response = client.get(_url(tenant))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson"
    lines = _lines(response)
    assert {line["tenant_id"] for line in lines} == {str(tenant.pk)}  # the other tenant's: none
    actions = [line["action"] for line in lines]
    assert actions.count("team.created") == 2
    assert actions.count("member.removed") == 3
    assert actions[-1] == "audit.exported"  # the export records itself, before the stream starts
    assert [line["chain_seq"] for line in lines] == list(range(1, len(lines) + 1))
    for before, after in itertools.pairwise(lines):
        assert after["prev_hash"] == before["hash"]  # the chain can be followed in the file


@pytest.mark.django_db
def test_export__lines_hash_to_what_the_database_computes(logged_tenant):
    tenant, _, client = logged_tenant

    lines = _lines(client.get(_url(tenant)))

    with platform_bypass(reason="test", log=False), connection.cursor() as cursor:
        cursor.execute(
            "SELECT id::text, qm_audit_content(e) FROM audit_auditlogentry e WHERE tenant_id = %s",
            [tenant.pk],
        )
        content = dict(cursor.fetchall())
    for line in lines:
        assert line["hash"] == link_hash(line["prev_hash"], content[line["id"]])


@pytest.mark.django_db
def test_export__action_filter__same_as_the_list(logged_tenant):
    tenant, _, client = logged_tenant

    lines = _lines(client.get(_url(tenant, "?action=team.*")))

    assert [line["action"] for line in lines] == ["team.created", "team.created"]


@pytest.mark.django_db
def test_export__bad_filter__400_json_with_a_code(logged_tenant):
    tenant, _, client = logged_tenant

    response = client.get(_url(tenant, "?severity=apocalyptic"))

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


@pytest.mark.django_db
def test_export__request__recorded_with_its_filters(logged_tenant):
    tenant, owner, client = logged_tenant

    b"".join(client.get(_url(tenant, "?action=team.*")).streaming_content)

    with tenant_context(tenant):
        entry = AuditLogEntry.objects.get(action="audit.exported")
    assert entry.details == {"filters": {"action": "team.*"}}
    assert entry.actor_user_id == owner.pk


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["member", "other_tenant_owner", "anonymous"])
def test_export__caller_without_audit_read__refused_and_nothing_streamed(logged_tenant, who):
    tenant, _, _ = logged_tenant
    client = APIClient()
    if who == "member":
        client.force_authenticate(member(tenant, "member"))
    elif who == "other_tenant_owner":
        client.force_authenticate(member(TenantFactory.create(), "owner"))

    response = client.get(_url(tenant))

    assert response.status_code in (401, 403)
    assert not getattr(response, "streaming", False)
    assert "code" in response.json()


@pytest.mark.django_db
def test_export__while_streaming__server_side_cursor_in_the_tenants_context(logged_tenant, monkeypatch):
    tenant, _, client = logged_tenant
    monkeypatch.setattr(export, "EXPORT_CHUNK", 2)
    stream = iter(client.get(_url(tenant)).streaming_content)

    first = next(stream)  # the stream has started; the request's own transaction is over

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_cursors WHERE NOT is_holdable")
        open_cursors = cursor.fetchone()[0]
        cursor.execute("SELECT current_setting('app.tenant_id', true)")
        tenant_setting = cursor.fetchone()[0]
    rest = list(stream)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_cursors WHERE NOT is_holdable")
        open_after = cursor.fetchone()[0]
        cursor.execute("SELECT coalesce(current_setting('app.tenant_id', true), '')")
        setting_after = cursor.fetchone()[0]

    assert json.loads(first)["chain_seq"] == 1
    assert open_cursors == 1  # rows come from a server-side cursor, 2 at a time, not a list
    assert tenant_setting == str(tenant.pk)  # row-level security holds for the whole stream
    assert len(rest) == 5  # 6 entries: 5 written, 1 for the export
    assert (open_after, setting_after) == (0, "")  # closed, and the context with it
