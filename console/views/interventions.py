"""A tenant's interventions (`/t/<id>/interventions/`): the list (type, target, operator and
role, reason, previous -> new state, reversed or not), the form that runs one (one target or
many, all or none) and the reversal with a reason, whose refusals (409: the target changed
since, already reversed, not reversible) are shown in place.

Guard: interventions:admin, as the API's. insights.services decides the rest: the staff-only
types (suspend, reactivate, grant credits) and the owning permission of the others are checked
there too; the page only offers the types the caller may run (`runnable_types`).
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import NoReverseMatch, path, reverse

from console.access import refusal_page, render_page, tenant_page
from console.forms import show_domain_error
from console.forms_insights import InterventionForm, ReasonForm
from console.views.money import wants_fragment
from core.access import TenantAccess
from core.errors import DomainError
from insights import selectors, services
from insights.models import Intervention, InterventionType

PERMISSION = "interventions:admin"
PAGE_SIZE = 25
LIST = "console/insights/interventions.html"
FORM = "console/insights/intervention_form.html"
TYPE_LABELS = dict(InterventionType.choices)


def may_run(access: TenantAccess, type_: str) -> bool:
    """Whether the caller may run (and reverse) interventions of this type: the service's rule
    (`insights.services.interventions._check_may`), so that no button is offered in vain."""
    kind = services.KINDS.get(type_)
    if kind is None or not access.allows(PERMISSION):
        return False
    if access.staff:
        return True
    return not kind.staff_only and access.allows(kind.permission)


def runnable_types(access: TenantAccess) -> list[tuple[str, str]]:
    return [(t, TYPE_LABELS.get(t, t)) for t in services.KINDS if may_run(access, t)]


# What a target id opens in the console, by the target type of the intervention (or segment).
_TARGET_PAGES: dict[str, tuple[str, str | None]] = {
    "tenants.tenant": ("console:overview", None),
    "tenant": ("console:overview", None),
    "billing.creditaccount": ("console:credits", None),
    "accounts.apikey": ("console:api_keys", None),
    "tenants.featureflag": ("console:flag", "flag_id"),
    "agents.agent": ("console:agent", "agent_id"),
    "agent": ("console:agent", "agent_id"),
    "accounts.user": ("console:members", None),
    "user": ("console:members", None),
}


def target_url(tenant_id: Any, target_type: str, target_id: str) -> str:
    """The console page of a target, or "" when it has none (yet)."""
    found = _TARGET_PAGES.get(target_type)
    if found is None:
        return ""
    name, kwarg = found
    kwargs: dict[str, Any] = {"tenant_id": tenant_id}
    if kwarg:
        kwargs[kwarg] = target_id
    try:
        return reverse(name, kwargs=kwargs)
    except NoReverseMatch:
        return ""


def _state(value: Any) -> str:
    if isinstance(value, dict) and len(value) == 1:
        ((key, inner),) = value.items()
        return f"{key}: {json.dumps(inner)}"
    return json.dumps(value, sort_keys=True, default=str)


def describe(intervention: Intervention, access: TenantAccess) -> dict[str, Any]:
    """One intervention for the template: its targets with links and their state before and after."""
    targets = [
        {
            "id": target_id,
            "url": target_url(access.tenant.pk, intervention.target_type, target_id),
            "previous": _state(intervention.previous_state.get(target_id)),
            "new": _state(intervention.new_state.get(target_id)),
        }
        for target_id in intervention.target_ids
    ]
    reversible = services.KINDS.get(intervention.type)
    return {
        "object": intervention,
        "label": TYPE_LABELS.get(intervention.type, intervention.type),
        "targets": targets,
        "may_reverse": (
            intervention.reversed_at is None
            and reversible is not None
            and reversible.revert is not None
            and may_run(access, intervention.type)
        ),
    }


def _list_context(access: TenantAccess, request: HttpRequest) -> dict[str, Any]:
    page = Paginator(selectors.intervention_list(tenant=access.tenant), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return {
        "page": page,
        "rows": [describe(i, access) for i in page.object_list],
        "may_create": bool(runnable_types(access)),
        "reverse_form": ReasonForm(),
    }


@tenant_page(PERMISSION)
def interventions(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    """The tenant's interventions, newest first, 25 a page; reverse one with a reason."""
    return render_page(request, LIST, _list_context(access, request), access=access)


def _form_context(access: TenantAccess, form: InterventionForm) -> dict[str, Any]:
    return {"form": form, "nav_current": "console:interventions", "types": runnable_types(access)}


@tenant_page(PERMISSION, methods=("GET", "POST"))
def intervention_create(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    """The form (prefilled from `?type=&target=`, as the segment and recommendation pages link
    to it); posting runs the intervention through insights' service, refusals in place."""
    types = runnable_types(access)
    if not types:
        return refusal_page(request, status=403, detail="Your role runs no intervention in this tenant.")
    if request.method == "GET":
        initial = {"type": request.GET.get("type", "")[:32], "target_ids": request.GET.get("target", "")[:64]}
        form = InterventionForm(initial=initial, types=types)
        return render_page(request, FORM, _form_context(access, form), access=access)
    form = InterventionForm(request.POST, types=types)
    if not form.is_valid():
        return render_page(request, FORM, _form_context(access, form), access=access, status=400)
    data = form.cleaned_data
    try:
        done = services.intervention_create(
            tenant=access.tenant,
            operator=services.Operator.of(access),
            type=data["type"],
            target_ids=data["target_ids"],
            reason=data["reason"],
            params=form.params(),
        )
    except DomainError as exc:
        show_domain_error(form, exc)
        return render_page(request, FORM, _form_context(access, form), access=access, status=exc.status_code)
    count = len(done.target_ids)
    messages.success(
        request,
        f"{TYPE_LABELS.get(done.type, done.type)}: done on {count} target{'' if count == 1 else 's'}.",
    )
    return redirect("console:interventions", tenant_id=access.tenant.pk)


@tenant_page(PERMISSION, methods=("POST",))
def intervention_reverse(request: HttpRequest, access: TenantAccess, intervention_id: UUID) -> HttpResponse:
    """Restore every target's previous state, with a reason; htmx: the row alone, with the
    refusal (409 when a target changed since) in place."""
    found = selectors.intervention_list(tenant=access.tenant).filter(pk=intervention_id).first()
    if found is None:
        return refusal_page(request, status=404, detail="There is no such intervention in this tenant.")
    form = ReasonForm(request.POST)
    status, error = 200, ""
    if not form.is_valid():
        status = 400
    else:
        try:
            found = services.intervention_reverse(
                intervention=found, operator=services.Operator.of(access), reason=form.cleaned_data["reason"]
            )
        except DomainError as exc:
            status, error = exc.status_code, exc.detail
            if exc.errors.get("target_ids"):
                error = f"{error} Changed: {', '.join(exc.errors['target_ids'])}."
    if status == 200 and not wants_fragment(request):
        messages.success(request, f"Reversed: {TYPE_LABELS.get(found.type, found.type)}.")
        return redirect("console:interventions", tenant_id=access.tenant.pk)
    row = {
        "row": describe(found, access),
        "reverse_form": form,
        "error": error,
        "just_reversed": status == 200,
    }
    if wants_fragment(request):
        return render_page(request, f"{LIST}#row", row, access=access, status=status)
    context = {**_list_context(access, request), "error": error, "failed_id": found.pk}
    return render_page(request, LIST, context, access=access, status=status)


TENANT = "t/<uuid:tenant_id>/"
urlpatterns = [
    path(f"{TENANT}interventions/", interventions, name="interventions"),
    path(f"{TENANT}interventions/new/", intervention_create, name="intervention_create"),
    path(
        f"{TENANT}interventions/<uuid:intervention_id>/reverse/",
        intervention_reverse,
        name="intervention_reverse",
    ),
]
