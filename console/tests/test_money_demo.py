"""The credits, audit and platform pages over the demo data (console.demo: four tenants, a
month of usage, grants, a refund, crossed thresholds, a locked-out user, an audit history):
every page answers 200 with the data it should show, for platform staff and a tenant owner."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from console.demo.seed import demo_seed
from tenants.models import Tenant
from tenants.tests.factories import member

pytestmark = pytest.mark.django_db


def test_money_and_platform_pages__demo_data__every_page_renders_its_data(
    signed_in: Any, platform_operator: Any, settings: Any, tmp_path: Any
) -> None:
    settings.DATA_DIR = tmp_path
    UserFactory.create(platform_admin=True)
    demo_seed()
    staff = signed_in(platform_operator)
    tenants = list(Tenant.objects.order_by("name"))
    assert len(tenants) >= 4
    refunds = 0
    for tenant in tenants:
        credits = staff.get(f"/t/{tenant.pk}/credits/")
        assert credits.status_code == 200, tenant.slug
        assert 'data-testid="ledger"' in credits.content.decode(), tenant.slug
        audit = staff.get(f"/t/{tenant.pk}/audit/")
        assert audit.status_code == 200, tenant.slug
        assert 'data-testid="audit-list"' in audit.content.decode(), tenant.slug
        month = timezone.localtime(timezone.now()).strftime("%Y-%m")
        statement = staff.get(f"/t/{tenant.pk}/credits/statement.csv?month={month}")
        assert statement.status_code == 200
        assert b"closing_balance" in b"".join(statement.streaming_content)
        assert staff.get(f"/platform/credits/?tenant={tenant.pk}").status_code == 200
        assert staff.get(f"/platform/tenants/{tenant.pk}/status/").status_code == 200
        refunds += staff.get(f"/t/{tenant.pk}/credits/?kind=refund").content.decode().count("kind-refund")
    assert refunds >= 1  # the demo's refund, found by the ledger's filter
    dashboard = staff.get("/platform/").content.decode()
    assert 'data-testid="top-tenants"' in dashboard
    assert 'data-testid="low-balances"' in dashboard
    assert staff.get("/platform/tenants/").status_code == 200
    users = staff.get("/platform/users/").content.decode()
    assert "Locked out" in users
    own = signed_in(member(tenants[0], "owner"))
    assert own.get(f"/t/{tenants[0].pk}/credits/").status_code == 200
    assert own.get(f"/t/{tenants[0].pk}/audit/").status_code == 200
    assert own.get("/platform/").status_code == 403
