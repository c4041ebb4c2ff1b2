"""A tenant's overview (`/t/<id>/`): balance and runway, 30 days of spend by day, model and API
key, members, the open alerts (a count linking to the alerts page), low-balance alerts and their
open crossings, recent audit entries. Each panel shows only what the caller's permissions allow;
the queries do not grow with the rows.

The low-balance alerts are managed in place (add, remove: `credits:admin`, as in the API):
plain forms that work without JavaScript, which htmx enhances into a swap of the panel.
"""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path

from accounts.models import User
from alerts import selectors as alert_selectors
from audit.selectors import audit_log_list
from billing import selectors as billing_selectors
from billing import services as billing_services
from console import charts
from console.access import render_page, tenant_page
from console.formatting import amount
from console.forms import ThresholdForm, show_domain_error
from core.access import TenantAccess
from core.errors import DomainError
from tenants import selectors as tenant_selectors

TEMPLATE = "console/overview.html"
DAYS = 30
TOP = 5
RECENT_AUDIT = 8


def alerts_context(
    access: TenantAccess, form: ThresholdForm | None = None, *, thresholds: list[Any] | None = None
) -> dict[str, Any]:
    """The low-balance alerts panel: the thresholds (read unless given; an open crossing is one
    the balance is below now) and, for those who may add one, the form."""
    if thresholds is None:
        thresholds = list(billing_selectors.threshold_list(tenant=access.tenant))
    return {
        "thresholds": thresholds,
        "crossings": [row for row in thresholds if row.below],
        "alert_form": form or ThresholdForm(),
    }


def _with_used(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Spend rows with `used`: credits charged plus an unlimited account's shadow cost."""
    return [{**row, "used": row["credits"] + row["shadow_credits"]} for row in rows]


def overview_context(access: TenantAccess, *, alert_form: ThresholdForm | None = None) -> dict[str, Any]:
    tenant = access.tenant
    context: dict[str, Any] = {"days": DAYS}
    if access.allows("credits:read"):
        summary = billing_selectors.credit_summary(tenant=tenant)
        start, end = billing_selectors.spend_period(tenant=tenant, days=DAYS)
        daily = billing_selectors.spend_by_day(tenant=tenant, days=DAYS)
        context.update(
            summary=summary,
            daily=daily,
            chart=charts.daily_bars([(row.day, row.used) for row in daily]),
            by_model=_with_used(
                billing_selectors.spend(
                    tenant=tenant, group_by="model", start=start, end=end, tz=tenant.timezone
                )[:TOP]
            ),
            **alerts_context(access, alert_form, thresholds=summary.thresholds),
        )
        if access.allows("api_keys:read"):
            context["by_key"] = _with_used(
                billing_selectors.spend_by_api_key(tenant=tenant, start=start, end=end, limit=TOP)
            )
    if access.allows("alerts:read"):
        context["alert_counts"] = alert_selectors.alert_counts(tenant=tenant)
    if access.allows("members:read"):
        context["member_count"] = tenant_selectors.member_list(tenant=tenant).count()
    if access.allows("audit:read"):
        context["audit"] = list(audit_log_list(tenant=tenant)[:RECENT_AUDIT])
    return context


@tenant_page("tenant:read")
def overview(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    return render_page(request, TEMPLATE, overview_context(access), access=access)


def _alerts_answer(
    request: HttpRequest,
    access: TenantAccess,
    form: ThresholdForm | None,
    *,
    status: int = 200,
    notice: str = "",
) -> HttpResponse:
    """htmx: the alerts panel alone, with `notice` in its status line; otherwise the overview:
    the whole page with the form's errors when there are any, else a redirect to it (and the
    notice as a message)."""
    if getattr(request, "htmx", False):
        context = {**alerts_context(access, form), "notice": notice}
        return render_page(request, f"{TEMPLATE}#alerts", context, access=access, status=status)
    if status >= 400:
        context = overview_context(access, alert_form=form)
        return render_page(request, TEMPLATE, context, access=access, status=status)
    if notice:
        messages.success(request, notice)
    return redirect("console:overview", tenant_id=access.tenant.pk)


@tenant_page("credits:admin", methods=("POST",))
def alert_create(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    """Add a low-balance alert."""
    form = ThresholdForm(request.POST)
    if not form.is_valid():
        return _alerts_answer(request, access, form, status=400)
    try:
        row = billing_services.threshold_create(
            tenant=access.tenant, actor=cast(User, request.user), threshold=form.cleaned_data["threshold"]
        )
    except DomainError as exc:
        show_domain_error(form, exc, field="threshold")
        return _alerts_answer(request, access, form, status=exc.status_code)
    notice = f"Added: you will be alerted when the balance falls below {amount(row.threshold)} credits."
    return _alerts_answer(request, access, None, notice=notice)


@tenant_page("credits:admin", methods=("POST",))
def alert_delete(request: HttpRequest, access: TenantAccess, threshold_id: UUID) -> HttpResponse:
    """Remove a low-balance alert (another tenant's id answers like a missing one)."""
    row = billing_selectors.threshold_get(tenant=access.tenant, threshold_id=threshold_id)
    if row is None:
        return _alerts_answer(request, access, None, notice="That alert was already removed.")
    billing_services.threshold_delete(threshold=row, actor=cast(User, request.user))
    return _alerts_answer(
        request, access, None, notice=f"Removed the alert below {amount(row.threshold)} credits."
    )


urlpatterns = [
    path("t/<uuid:tenant_id>/", overview, name="overview"),
    path("t/<uuid:tenant_id>/alerts/", alert_create, name="alert_create"),
    path("t/<uuid:tenant_id>/alerts/<uuid:threshold_id>/delete/", alert_delete, name="alert_delete"),
]
