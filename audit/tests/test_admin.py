"""The audit log in the back office: read-only for everyone, visible to platform staff only."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from accounts.tests.factories import UserFactory
from audit.models import AuditLogEntry, Severity
from audit.services import audit_record
from core.context import ActorContext, set_context
from core.tenancy import platform_bypass
from tenants.tests.factories import TenantFactory, member

CHANGELIST = "/admin/audit/auditlogentry/"


def entry_url(entry: AuditLogEntry, suffix: str) -> str:
    return f"{CHANGELIST}{entry.pk}/{suffix}"


def record(tenant: Any, action: str, **kwargs: Any) -> AuditLogEntry:
    with platform_bypass(reason="test", log=False):
        return audit_record(action=action, tenant=tenant, system=True, **kwargs)


def stored(**lookup: Any) -> int:
    with scopes_disabled(), platform_bypass(reason="test", log=False):
        return AuditLogEntry.objects.filter(**lookup).count()


@pytest.fixture
def staff_admin() -> Any:
    return UserFactory.create(platform_admin=True)


@pytest.fixture
def entries() -> dict[str, AuditLogEntry]:
    a, b = TenantFactory.create(name="Acme Rockets"), TenantFactory.create(name="Bluebird Labs")
    return {
        "a": record(a, "team.created", target_label="Acme Ops"),
        "b": record(b, "tenant.suspended", target_label="Bluebird HQ", severity=Severity.WARNING),
    }


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["platform_admin", "platform_operator"])
def test_audit_admin__platform_staff__sees_entries_of_both_tenants(client, entries, who):
    client.force_login(UserFactory.create(**{who: True}))

    listing = client.get(CHANGELIST)
    detail = client.get(entry_url(entries["b"], "change/"))

    assert listing.status_code == 200
    page = listing.content.decode()
    assert "Acme Ops" in page
    assert "tenant.suspended" in page
    assert detail.status_code == 200
    assert "Bluebird Labs" in detail.content.decode()


@pytest.mark.django_db
def test_audit_admin__platform_admin__add_change_delete_refused(client, staff_admin, entries):
    client.force_login(staff_admin)
    entry = entries["a"]

    responses = {
        "add page": client.get(f"{CHANGELIST}add/"),
        "add": client.post(f"{CHANGELIST}add/", {"action": "forged.entry", "actor_type": "system"}),
        "change": client.post(entry_url(entry, "change/"), {"action": "rewritten"}),
        "delete page": client.get(entry_url(entry, "delete/")),
        "delete": client.post(entry_url(entry, "delete/"), {"post": "yes"}),
    }

    assert {name: r.status_code for name, r in responses.items()} == dict.fromkeys(responses, 403)
    assert stored(pk=entry.pk, action="team.created") == 1
    assert stored(action__in=["forged.entry", "rewritten"]) == 0


@pytest.mark.django_db
def test_audit_admin__bulk_delete_action__not_available(client, staff_admin, entries):
    client.force_login(staff_admin)
    entry = entries["a"]

    page = client.get(CHANGELIST).content.decode()
    client.post(CHANGELIST, {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"})

    assert "delete_selected" not in page
    assert stored(pk=entry.pk) == 1


@pytest.mark.django_db
def test_audit_admin__change_page__every_field_read_only(client, staff_admin, entries):
    client.force_login(staff_admin)

    response = client.get(entry_url(entries["a"], "change/"))

    assert response.status_code == 200
    assert list(response.context["adminform"].form.fields) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ("", {"Acme Ops", "Bluebird HQ"}),
        ("severity__exact=warning", {"Bluebird HQ"}),
        ("actor_type__exact=system&action=team.created", {"Acme Ops"}),
        ("actor_type__exact=user", set()),
        ("q=Bluebird", {"Bluebird HQ"}),
        ("q=team.created", {"Acme Ops"}),
        ("created_at__gte=2999-01-01T00:00:00%2B00:00", set()),
    ],
)
def test_audit_admin_changelist__filters_and_search__narrow_the_list(
    client, staff_admin, entries, query, shown
):
    client.force_login(staff_admin)

    response = client.get(f"{CHANGELIST}?{query}")

    assert response.status_code == 200
    page = response.content.decode()
    assert {label for label in ("Acme Ops", "Bluebird HQ") if label in page} == shown


@pytest.mark.django_db
def test_audit_admin_changelist__search_by_request_id__finds_that_requests_entries(client, staff_admin):
    client.force_login(staff_admin)
    tenant = TenantFactory.create()
    for request_id, label in (("req-7f3a9c2b", "Scout"), ("req-0d41e8aa", "Ranger")):
        set_context(ActorContext(request_id=request_id))
        try:
            record(tenant, "agent.paused", target_label=label)
        finally:
            set_context(ActorContext())

    response = client.get(f"{CHANGELIST}?q=req-7f3a9c2b")

    page = response.content.decode()
    assert "Scout" in page
    assert "Ranger" not in page


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["anonymous", "tenant_owner"])
def test_audit_admin__not_platform_staff__redirected_to_login(client, entries, who):
    if who == "tenant_owner":
        client.force_login(member(TenantFactory.create(), "owner"))

    response = client.get(CHANGELIST)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def _queries(client: Any) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(CHANGELIST).status_code == 200
    return len(captured)


@pytest.mark.django_db
def test_audit_admin_changelist__more_rows__same_query_count(client, staff_admin):
    client.force_login(staff_admin)
    for i in range(2):
        record(TenantFactory.create(), "team.created", target_label=f"Team {i}")
    few = _queries(client)

    for i in range(10):
        record(TenantFactory.create(), "agent.paused", target_label=f"Agent {i}")
    many = _queries(client)

    assert many == few
