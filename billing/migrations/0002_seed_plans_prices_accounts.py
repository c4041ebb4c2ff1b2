"""Seed the plans and the model price table; give tenants that predate billing their account.

Prices are the providers' published list prices in USD per million tokens, each from the day it
took effect; a later row of the same model replaces the earlier one from its own date on. New
prices are added as new rows (the admin refuses edits of rows already in force).
"""

from datetime import UTC, datetime
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.db import migrations

PLANS = [
    {
        "code": "starter",
        "name": "Starter",
        "description": "For a small team trying its first agents.",
        "monthly_price": Decimal("49.00"),
        "included_monthly_credits": Decimal("50"),
        "max_agents": 3,
        "max_members": 5,
        "markup_multiplier": Decimal("5.0"),
        "features": {"support": "community", "sso": False, "audit_log_days": 30},
    },
    {
        "code": "growth",
        "name": "Growth",
        "description": "For departments running agents every day.",
        "monthly_price": Decimal("499.00"),
        "included_monthly_credits": Decimal("600"),
        "max_agents": 25,
        "max_members": 50,
        "markup_multiplier": Decimal("5.0"),
        "features": {"support": "email", "sso": True, "audit_log_days": 90},
    },
    {
        "code": "enterprise",
        "name": "Enterprise",
        "description": "For companies with a workforce of agents; volume markup.",
        "monthly_price": Decimal("4999.00"),
        "included_monthly_credits": Decimal("7500"),
        "max_agents": 250,
        "max_members": 1000,
        "markup_multiplier": Decimal("4.0"),
        "features": {"support": "dedicated", "sso": True, "audit_log_days": 365},
    },
]


def _day(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


# (model, tier, input USD/MTok, output USD/MTok, effective from)
PRICES = [
    ("claude-3-haiku-20240307", "haiku", "0.25", "1.25", "2024-03-07"),
    ("claude-3-5-haiku-20241022", "haiku", "1.00", "5.00", "2024-11-04"),
    ("claude-3-5-haiku-20241022", "haiku", "0.80", "4.00", "2024-12-01"),
    ("claude-haiku-4-5", "haiku", "1.00", "5.00", "2025-10-15"),
    ("claude-3-5-sonnet-20241022", "sonnet", "3.00", "15.00", "2024-10-22"),
    ("claude-3-7-sonnet-20250219", "sonnet", "3.00", "15.00", "2025-02-24"),
    ("claude-sonnet-4-20250514", "sonnet", "3.00", "15.00", "2025-05-22"),
    ("claude-sonnet-4-5", "sonnet", "3.00", "15.00", "2025-09-29"),
    ("claude-3-opus-20240229", "opus", "15.00", "75.00", "2024-03-04"),
    ("claude-opus-4-20250514", "opus", "15.00", "75.00", "2025-05-22"),
    ("claude-opus-4-1", "opus", "15.00", "75.00", "2025-08-05"),
    ("claude-opus-4-5", "opus", "5.00", "25.00", "2025-11-24"),
]


def seed(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    ModelPrice = apps.get_model("billing", "ModelPrice")
    for plan in PLANS:
        Plan.objects.update_or_create(code=plan["code"], defaults=plan)
    for model, tier, input_price, output_price, start in PRICES:
        ModelPrice.objects.update_or_create(
            provider="anthropic",
            model=model,
            effective_from=_day(start),
            defaults={
                "tier": tier,
                "input_usd_per_mtok": Decimal(input_price),
                "output_usd_per_mtok": Decimal(output_price),
            },
        )


def accounts_for_existing_tenants(apps, schema_editor):
    """Tenants created before billing get an empty account and a subscription to their plan.

    The beat task grants their included credits for the period. Runs under the platform bypass:
    the migration role is subject to row-level security like the application.
    """
    Tenant = apps.get_model("tenants", "Tenant")
    Plan = apps.get_model("billing", "Plan")
    Subscription = apps.get_model("billing", "Subscription")
    CreditAccount = apps.get_model("billing", "CreditAccount")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT set_config('app.bypass_rls', 'on', true)")
    plans = {p.code: p for p in Plan.objects.all()}
    now = datetime.now(UTC)
    for tenant in Tenant.objects.all():
        CreditAccount.objects.get_or_create(tenant_id=tenant.pk)
        if not Subscription.objects.filter(tenant_id=tenant.pk).exists():
            Subscription.objects.create(
                tenant_id=tenant.pk,
                plan=plans.get(tenant.plan) or plans["starter"],
                status="active",
                current_period_start=now,
                current_period_end=now + relativedelta(months=1),
            )
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT set_config('app.bypass_rls', '', true)")


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [
        migrations.RunPython(seed, migrations.RunPython.noop),
        migrations.RunPython(accounts_for_existing_tenants, migrations.RunPython.noop),
    ]
