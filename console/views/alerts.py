"""A tenant's alerts (issue 13): the list with status, severity and source filters, acknowledge
and resolve (alerts:write, in place with htmx; plain forms without JavaScript), and the latest
health report of each container.

Guards are the API's: alerts:read to see, alerts:write to acknowledge and resolve; the health
block needs agents:read as well. Writes call alerts.services; a refusal (acknowledging a
resolved alert: 409) is shown in place with its status.
"""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path

from accounts.models import User
from agents import health_selectors
from alerts import selectors, services
from alerts.models import AlertStatus, Severity
from console.access import refusal_page, render_page, tenant_page
from core.access import TenantAccess
from core.errors import DomainError

TEMPLATE = "console/alerts/alerts.html"
SHOWN = 100  # the newest alerts of the filter; the API pages through the rest
CONTAINERS = 50


class AlertFilterForm(forms.Form):
    status = forms.ChoiceField(
        label="Status", required=False, choices=[("", "Unresolved"), *AlertStatus.choices]
    )
    severity = forms.ChoiceField(
        label="Severity", required=False, choices=[("", "Any severity"), *Severity.choices]
    )
    source = forms.RegexField(label="Source", required=False, regex=r"^[A-Za-z0-9_.:-]{1,64}$", max_length=64)


def _filters(request: HttpRequest) -> tuple[AlertFilterForm, dict[str, Any]]:
    form = AlertFilterForm(request.GET or None)
    if not form.is_valid():
        return form, {"unresolved": True}
    values = {k: v for k, v in form.cleaned_data.items() if v}
    return form, values or {"unresolved": True}


def alerts_context(
    access: TenantAccess, request: HttpRequest, *, notice: str = "", error: str = ""
) -> dict[str, Any]:
    form, filters = _filters(request)
    queryset = selectors.alert_list(tenant=access.tenant, filters=filters)
    if filters.get("unresolved"):
        queryset = queryset.filter(resolved_at__isnull=True)
    context: dict[str, Any] = {
        "alerts": list(queryset[:SHOWN]),
        "filters": form,
        "counts": selectors.alert_counts(tenant=access.tenant),
        "may_write": access.allows("alerts:write") and not access.tenant.is_suspended,
        "notice": notice,
        "error": error,
        "query": request.GET.urlencode(),
    }
    if access.allows("agents:read"):
        context["containers"] = list(health_selectors.health_latest(tenant=access.tenant)[:CONTAINERS])
    return context


@tenant_page("alerts:read")
def alerts(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    """The tenant's alerts (unresolved by default) and its containers' health."""
    context = alerts_context(access, request)
    status = 400 if context["filters"].is_bound and not context["filters"].is_valid() else 200
    return render_page(request, TEMPLATE, context, access=access, status=status)


def _answer(
    request: HttpRequest, access: TenantAccess, *, notice: str = "", error: str = "", status: int = 200
) -> HttpResponse:
    """htmx: the list panel alone; otherwise a redirect to the page (the notice as a message) or,
    on a refusal, the page with the error."""
    if getattr(request, "htmx", False):
        context = alerts_context(access, request, notice=notice, error=error)
        return render_page(request, f"{TEMPLATE}#list", context, access=access, status=status)
    if status >= 400:
        context = alerts_context(access, request, error=error)
        return render_page(request, TEMPLATE, context, access=access, status=status)
    messages.success(request, notice)
    url = redirect("console:alerts", tenant_id=access.tenant.pk)
    if request.GET:
        url["Location"] += f"?{request.GET.urlencode()}"
    return url


def _act(request: HttpRequest, access: TenantAccess, alert_id: UUID, action: str) -> HttpResponse:
    alert = selectors.alert_get(tenant=access.tenant, alert_id=alert_id)
    if alert is None:
        return refusal_page(request, status=404, detail="There is no such alert in this tenant.")
    actor = cast(User, request.user)
    try:
        if action == "acknowledge":
            services.alert_acknowledge(alert=alert, actor=actor)
            notice = f"Acknowledged: {alert.title}."
        else:
            services.alert_resolve(alert=alert, actor=actor)
            notice = f"Resolved: {alert.title}."
    except DomainError as exc:
        return _answer(request, access, error=exc.detail, status=exc.status_code)
    return _answer(request, access, notice=notice)


@tenant_page("alerts:write", methods=("POST",))
def alert_acknowledge(request: HttpRequest, access: TenantAccess, alert_id: UUID) -> HttpResponse:
    return _act(request, access, alert_id, "acknowledge")


@tenant_page("alerts:write", methods=("POST",))
def alert_resolve(request: HttpRequest, access: TenantAccess, alert_id: UUID) -> HttpResponse:
    return _act(request, access, alert_id, "resolve")


# Under alerts/inbox/: t/<id>/alerts/ is the overview's (adding a low-balance alert threshold).
INBOX = "t/<uuid:tenant_id>/alerts/inbox/"
urlpatterns = [
    path(INBOX, alerts, name="alerts"),
    path(f"{INBOX}<uuid:alert_id>/acknowledge/", alert_acknowledge, name="alert_acknowledge"),
    path(f"{INBOX}<uuid:alert_id>/resolve/", alert_resolve, name="alert_resolve"),
]
