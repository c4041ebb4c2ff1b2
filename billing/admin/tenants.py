"""The tenant page, with what billing knows of the tenant: its plan and the limits in force,
its credits and subscription.

The tenant admin itself lives in tenants (tenants.admin.tenants); billing sits above tenants and
owns plans, so it extends that admin here and registers the extension in its place. The limits
a tenant really has come from two places: agents from the subscription's slots (the plan's plus
any bought), which billing enforces; members, concurrent sessions and the monthly credit cap
from the tenant's own `resource_limits`, which tenants enforces. The page shows both, readably,
next to the plan's numbers, instead of a raw JSON that looks like it decides everything.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import admin
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from unfold.decorators import display

from billing import selectors
from billing.admin.common import admin_link, changelist_link, credits_text
from billing.models import CreditAccount
from tenants.admin.tenants import TenantAdmin
from tenants.models import Tenant


def _limit_rows(tenant: Tenant) -> list[tuple[str, str, str]]:
    """(limit, in force, where it comes from) for the tenant: two queries."""
    subscription = selectors.subscription_get(tenant=tenant)
    limits = tenant.resource_limits or {}
    plan = subscription.plan if subscription else None
    rows = []
    if subscription and plan:
        rows.append(
            (
                "Agents",
                str(subscription.agent_slots),
                f"{plan.name} plan: {plan.max_agents}, plus {subscription.purchased_agent_slots} bought",
            )
        )
    else:
        rows.append(("Agents", "—", "no subscription yet"))
    members = limits.get("max_members")
    if members is None:
        rows.append(("Members", "no limit", "no tenant limit set"))
    else:
        note = "tenant limit"
        if plan and plan.max_members != members:
            note += f" (the {plan.name} plan includes {plan.max_members})"
        rows.append(("Members", str(members), note))
    sessions = limits.get("max_concurrent_sessions")
    rows.append(("Concurrent sessions", "no limit" if sessions is None else str(sessions), "tenant limit"))
    cap = limits.get("monthly_credit_cap")
    rows.append(
        ("Monthly credit cap", "none" if cap in (None, "") else credits_text(Decimal(cap)), "tenant limit")
    )
    if plan:
        rows.append(
            ("Included credits a month", credits_text(plan.included_monthly_credits), f"{plan.name} plan")
        )
        markup = subscription.markup_multiplier_override if subscription else None
        rows.append(
            (
                "Markup on usage",
                f"x {markup or plan.markup_multiplier}",
                "tenant override" if markup else f"{plan.name} plan",
            )
        )
    return rows


class TenantBillingAdmin(TenantAdmin):
    list_display = [*TenantAdmin.list_display, "balance_display"]
    fieldsets = (
        (None, {"fields": ("name", "slug", "admin_email", "timezone", "related")}),
        ("Plan and limits", {"fields": ("plan", "effective_limits", "model_defaults", "require_2fa")}),
        ("Credits", {"fields": ("credits",)}),
        (
            "Limit overrides",
            {
                "fields": ("resource_limits",),
                "classes": ["collapse"],
                "description": (
                    "The tenant's own limits: max_members, max_concurrent_sessions and "
                    "monthly_credit_cap are enforced from here. Agents come from the plan's slots "
                    "(above); max_agents here is not used."
                ),
            },
        ),
        ("Status", {"fields": ("status", "suspended_at", "suspension_reason")}),
        ("Dates", {"fields": ("created_at", "updated_at")}),
    )
    change_readonly_fields = [*TenantAdmin.change_readonly_fields, "effective_limits", "credits", "related"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tenant]:
        account = CreditAccount.objects.filter(tenant_id=OuterRef("pk"))
        return (
            super()
            .get_queryset(request)
            .annotate(
                balance=Subquery(account.values("balance")[:1]),
                unlimited=Subquery(account.values("unlimited")[:1]),
            )
        )

    @display(description="Balance", ordering="balance")
    def balance_display(self, obj: Tenant) -> str:
        if getattr(obj, "unlimited", False):
            return "unlimited"
        return credits_text(getattr(obj, "balance", None))

    @display(description="Limits in force")
    def effective_limits(self, obj: Tenant) -> str:
        rows = format_html_join(
            "",
            '<tr><th class="pr-4 py-1 text-left font-medium">{}</th><td class="pr-4 py-1">{}</td>'
            '<td class="py-1 text-base-500">{}</td></tr>',
            _limit_rows(obj),
        )
        return format_html('<table class="text-sm" data-testid="effective-limits">{}</table>', rows)

    @display(description="Credits")
    def credits(self, obj: Tenant) -> str:
        account = selectors.credit_account_get(tenant=obj)
        if account is None:
            return "No credit account yet."
        balance = "unlimited" if account.unlimited else credits_text(account.balance)
        return format_html(
            "{} · {} · {} · {}",
            admin_link(account, f"Balance {balance}"),
            changelist_link("billing_credittransaction", "Ledger", tenant__id__exact=obj.pk),
            changelist_link("billing_lowbalancethreshold", "Thresholds", tenant__id__exact=obj.pk),
            changelist_link("billing_subscription", "Subscription", tenant__id__exact=obj.pk),
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [] if obj is None else self.change_readonly_fields


admin.site.unregister(Tenant)
admin.site.register(Tenant, TenantBillingAdmin)
