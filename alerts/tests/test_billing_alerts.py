"""Billing's low-balance crossings raise alerts (billing.services.common.record_threshold_changes)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from alerts.models import Alert, AlertStatus
from billing import services
from billing.tests.factories import charge, create_test_price, fund
from billing.tests.test_concurrency import hot_tenant, in_threads  # noqa: F401  # the fixture
from core.tenancy import tenant_context


def _alerts(tenant: Any) -> list[Alert]:
    with tenant_context(tenant):
        return list(Alert.objects.filter(tenant=tenant, source="billing").order_by("created_at"))


@pytest.mark.django_db
def test_low_balance__crossing_rearm_crossing__two_alerts_first_resolved(tenant: Any) -> None:
    create_test_price()
    fund(tenant, 10)
    with tenant_context(tenant):
        services.threshold_create(tenant=tenant, actor=None, threshold=Decimal(5))

    charge(tenant, credits=6)  # 4: crosses 5
    charge(tenant, credits=1)  # 3: still below, no second alert
    first = _alerts(tenant)
    fund(tenant, 10)  # 13: re-armed, the alert resolves itself
    charge(tenant, credits=9)  # 4: crosses again

    alerts = _alerts(tenant)
    assert len(first) == 1
    assert first[0].status == AlertStatus.OPEN
    assert first[0].severity == "warning"
    assert "5.000000" in first[0].title
    assert [a.status for a in alerts] == [AlertStatus.RESOLVED, AlertStatus.OPEN]


@pytest.mark.django_db(transaction=True)
def test_low_balance__20_concurrent_charges_cross__exactly_one_alert(hot_tenant: Any) -> None:  # noqa: F811
    tenant = hot_tenant
    fund(tenant, 30)
    with tenant_context(tenant):
        services.threshold_create(tenant=tenant, actor=None, threshold=Decimal(15))

    results = in_threads(20, lambda i: charge(tenant, credits=1))

    assert not [r for r in results if isinstance(r, Exception)]
    alerts = _alerts(tenant)
    assert len(alerts) == 1
    assert alerts[0].status == AlertStatus.OPEN
