"""A tenant's recommendations (`/t/<id>/recommendations/`): the open ones (reason, confidence, a
link to the target), accepted (runs the suggested intervention through insights' service, which
re-checks the rule: 409 when the target changed since) or dismissed with a reason, in place with
htmx; the history tab lists the decided ones (accepted, dismissed, expired) with who and why.

Guard: interventions:admin, as the API's. Accept is offered only where the caller may run the
suggested intervention (a grant of credits is platform staff's).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path

from console.access import refusal_page, render_page, tenant_page
from console.forms_insights import AcceptForm, ReasonForm
from console.views.interventions import TYPE_LABELS, may_run, target_url
from console.views.money import wants_fragment
from core.access import TenantAccess
from core.errors import DomainError
from insights import selectors, services
from insights.models import Intervention, Recommendation, RecommendationStatus

PERMISSION = "interventions:admin"
PAGE_SIZE = 25
TEMPLATE = "console/insights/recommendations.html"
HISTORY = "history"


def describe(rec: Recommendation, access: TenantAccess) -> dict[str, Any]:
    return {
        "object": rec,
        "action": TYPE_LABELS.get(rec.suggested_action, rec.suggested_action),
        "confidence": int(rec.confidence * 100),
        "target_url": target_url(access.tenant.pk, rec.target_type, rec.target_id),
        "may_accept": rec.status == RecommendationStatus.OPEN and may_run(access, rec.suggested_action),
    }


def _page_context(access: TenantAccess, request: HttpRequest) -> dict[str, Any]:
    history = request.GET.get("tab") == HISTORY
    qs = selectors.recommendation_list(tenant=access.tenant)
    qs = (
        qs.exclude(status=RecommendationStatus.OPEN).order_by("-decided_at", "-id")
        if history
        else qs.filter(status=RecommendationStatus.OPEN).order_by("-confidence", "-created_at", "-id")
    )
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return {
        "history": history,
        "page": page,
        "query": f"tab={HISTORY}" if history else "",
        "rows": [describe(rec, access) for rec in page.object_list],
        "accept_form": AcceptForm(),
        "dismiss_form": ReasonForm(),
    }


@tenant_page(PERMISSION)
def recommendations(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    """The open recommendations, the most confident first (or the decided ones: `?tab=history`).
    Recorded in the audit log (recommendations.viewed), as the API's list."""
    context = _page_context(access, request)
    status = "decided" if context["history"] else RecommendationStatus.OPEN
    services.recommendations_view_record(tenant=access.tenant, actor=request.user, status=status)
    return render_page(request, TEMPLATE, context, access=access)


def _found(access: TenantAccess, recommendation_id: UUID) -> Recommendation | None:
    return selectors.recommendation_list(tenant=access.tenant).filter(pk=recommendation_id).first()


def _answer(
    request: HttpRequest,
    access: TenantAccess,
    rec: Recommendation,
    *,
    status: int,
    error: str = "",
    done: str = "",
    intervention: Intervention | None = None,
    accept_form: AcceptForm | None = None,
    dismiss_form: ReasonForm | None = None,
) -> HttpResponse:
    """htmx: the row alone, with the outcome or the refusal; otherwise the page (or, done, a
    redirect to it with a notice)."""
    if not wants_fragment(request):
        if status == 200:
            messages.success(request, done)
            return redirect("console:recommendations", tenant_id=access.tenant.pk)
        context = {**_page_context(access, request), "error": error, "failed_id": rec.pk}
        return render_page(request, TEMPLATE, context, access=access, status=status)
    row = {
        "row": describe(rec, access),
        "error": error,
        "done": done,
        "intervention": intervention,
        "accept_form": accept_form or AcceptForm(),
        "dismiss_form": dismiss_form or ReasonForm(),
    }
    return render_page(request, f"{TEMPLATE}#row", row, access=access, status=status)


@tenant_page(PERMISSION, methods=("POST",))
def recommendation_accept(
    request: HttpRequest, access: TenantAccess, recommendation_id: UUID
) -> HttpResponse:
    """Run the suggested intervention (linked to the recommendation) and mark it accepted."""
    rec = _found(access, recommendation_id)
    if rec is None:
        return refusal_page(request, status=404, detail="There is no such recommendation in this tenant.")
    form = AcceptForm(request.POST)
    if not form.is_valid():
        return _answer(request, access, rec, status=400, error="Check the reason.", accept_form=form)
    try:
        rec, intervention = services.recommendation_accept(
            recommendation=rec, operator=services.Operator.of(access), reason=form.cleaned_data["reason"]
        )
    except DomainError as exc:
        return _answer(request, access, rec, status=exc.status_code, error=exc.detail)
    action = TYPE_LABELS.get(intervention.type, intervention.type)
    done = f"Accepted: {action} on {rec.target_label or rec.target_id}."
    return _answer(request, access, rec, status=200, done=done, intervention=intervention)


@tenant_page(PERMISSION, methods=("POST",))
def recommendation_dismiss(
    request: HttpRequest, access: TenantAccess, recommendation_id: UUID
) -> HttpResponse:
    """Close the recommendation without acting; the reason is required."""
    rec = _found(access, recommendation_id)
    if rec is None:
        return refusal_page(request, status=404, detail="There is no such recommendation in this tenant.")
    form = ReasonForm(request.POST)
    if not form.is_valid():
        return _answer(request, access, rec, status=400, error="Say why you dismiss it.", dismiss_form=form)
    try:
        rec = services.recommendation_dismiss(
            recommendation=rec, operator=services.Operator.of(access), reason=form.cleaned_data["reason"]
        )
    except DomainError as exc:
        return _answer(request, access, rec, status=exc.status_code, error=exc.detail)
    return _answer(request, access, rec, status=200, done=f"Dismissed: {rec.target_label or rec.target_id}.")


TENANT = "t/<uuid:tenant_id>/"
urlpatterns = [
    path(f"{TENANT}recommendations/", recommendations, name="recommendations"),
    path(
        f"{TENANT}recommendations/<uuid:recommendation_id>/accept/",
        recommendation_accept,
        name="recommendation_accept",
    ),
    path(
        f"{TENANT}recommendations/<uuid:recommendation_id>/dismiss/",
        recommendation_dismiss,
        name="recommendation_dismiss",
    ),
]
