"""The tenant context outside requests: Celery tasks and management commands."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from audit.models import AuditLogEntry
from core.tasks import enqueue_on_commit
from core.tenancy import current_tenant_id, platform_bypass
from core.tests.tasks_for_tests import count_teams
from tenants.tests.factories import TeamFactory, TenantFactory, member


@pytest.mark.django_db
def test_tenant_task__runs_inside_the_tenant_it_was_given():
    a, b = TenantFactory.create(), TenantFactory.create()
    TeamFactory.create(tenant=a)
    TeamFactory.create(tenant=b)

    result = count_teams.delay(tenant_id=str(a.pk)).get()

    assert result == {"context": str(a.pk), "teams": [str(a.pk)]}
    assert current_tenant_id() is None


@pytest.mark.django_db
def test_tenant_task__without_tenant_id__refuses():
    with pytest.raises(ValueError, match="tenant task"):
        count_teams.apply(kwargs={"tenant_id": ""}).get()


@pytest.mark.django_db(transaction=True)
def test_enqueue_on_commit__runs_only_after_the_commit():
    tenant = TenantFactory.create()
    results: list[object] = []
    original = count_teams.delay

    def spy(*args: Any, **kwargs: Any) -> Any:
        outcome = original(*args, **kwargs)
        results.append(outcome.get())
        return outcome

    count_teams.delay = spy  # type: ignore[method-assign]  # test spy
    try:
        with transaction.atomic():
            enqueue_on_commit(count_teams, tenant=tenant)
            assert results == []
    finally:
        count_teams.delay = original  # type: ignore[method-assign]

    assert results == [{"context": str(tenant.pk), "teams": []}]


@pytest.mark.django_db
def test_tenant_command__by_slug__lists_only_that_tenants_members():
    a, b = TenantFactory.create(slug="acme"), TenantFactory.create()
    mine, theirs = member(a, "owner"), member(b, "owner")
    out = io.StringIO()

    call_command("tenant_members", "--tenant", "acme", stdout=out)

    assert mine.email in out.getvalue()
    assert theirs.email not in out.getvalue()


@pytest.mark.django_db
def test_tenant_command__unknown_tenant__clear_error():
    with pytest.raises(CommandError, match="No tenant 'nope'"):
        call_command("tenant_members", "--tenant", "nope", stdout=io.StringIO())


@pytest.mark.django_db
def test_platform_command__sees_every_tenant_and_audits_the_bypass():
    a, b = TenantFactory.create(slug="alpha"), TenantFactory.create(slug="beta")
    member(a)
    member(b)
    member(b)
    out = io.StringIO()

    call_command("tenants_report", stdout=out)

    assert out.getvalue().splitlines() == ["alpha\tactive\tstarter\t1", "beta\tactive\tstarter\t2"]
    with platform_bypass(reason="test", log=False):
        entry = AuditLogEntry.objects.get(action="platform.bypass")
    assert entry.details == {"reason": "manage.py tenants_report"}
    assert entry.actor_type == "system"
