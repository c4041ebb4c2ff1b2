"""Billing in the back office: every page loads for staff; the ledger cannot be edited there;
new prices are added through the service, audited, never backdated."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from audit.models import AuditLogEntry
from billing.models import CreditTransaction, ModelPrice
from billing.tests.factories import charge, fund, make_reservation, make_subscription
from core.tenancy import platform_bypass

ADMIN = "/admin/billing"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "model", ["plan", "modelprice", "creditaccount", "credittransaction", "reservation", "subscription"]
)
def test_admin_changelists__platform_admin__load_rows_of_every_tenant(
    client, platform_admin, tenant, other_tenant, price, model
):
    for t in (tenant, other_tenant):
        fund(t, 10)
        charge(t, credits=1)
        make_reservation(t)
        make_subscription(t)
    client.force_login(platform_admin)

    response = client.get(f"{ADMIN}/{model}/")

    assert response.status_code == 200


@pytest.mark.django_db
def test_admin_ledger__no_add_change_or_delete(client, platform_admin, tenant):
    fund(tenant, 10)
    with platform_bypass(reason="test", log=False):
        entry = CreditTransaction.objects.get(tenant=tenant)
    client.force_login(platform_admin)

    add = client.get(f"{ADMIN}/credittransaction/add/")
    delete = client.post(f"{ADMIN}/credittransaction/{entry.pk}/delete/", {"post": "yes"})

    assert add.status_code == 403
    assert delete.status_code == 403
    with platform_bypass(reason="test", log=False):
        assert CreditTransaction.objects.filter(pk=entry.pk).exists()


@pytest.mark.django_db
def test_admin_model_price_add__through_the_service_and_audited(client, platform_admin):
    client.force_login(platform_admin)
    start = timezone.now() + timedelta(days=1)

    response = client.post(
        f"{ADMIN}/modelprice/add/",
        {
            "provider": "anthropic",
            "model": "claude-future-1",
            "tier": "opus",
            "input_usd_per_mtok": "4.000000",
            "output_usd_per_mtok": "20.000000",
            "effective_from_0": start.strftime("%Y-%m-%d"),
            "effective_from_1": start.strftime("%H:%M:%S"),
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert ModelPrice.objects.filter(model="claude-future-1").exists()
    with platform_bypass(reason="test", log=False):
        assert AuditLogEntry.objects.filter(action="billing.price_added").count() == 1


@pytest.mark.django_db
def test_model_price_add__backdated__refused(platform_admin):
    from billing import services
    from core.errors import InvalidInput

    with pytest.raises(InvalidInput):
        services.model_price_add(
            actor=platform_admin,
            provider="anthropic",
            model="claude-sonnet-4-5",
            tier="sonnet",
            input_usd_per_mtok=Decimal(1),
            output_usd_per_mtok=Decimal(1),
            effective_from=timezone.now() - timedelta(days=1),
        )


@pytest.mark.django_db
def test_admin_operator__sees_but_cannot_add_prices(client, platform_operator):
    client.force_login(platform_operator)

    assert client.get(f"{ADMIN}/modelprice/").status_code == 200
    assert client.get(f"{ADMIN}/modelprice/add/").status_code == 403
