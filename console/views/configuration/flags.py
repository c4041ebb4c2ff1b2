"""A tenant's feature flags (`/t/<id>/flags/`): switch, rollout, targeting, evaluation for a subject."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from console.access import refusal_page, render_page, tenant_page
from console.forms import show_domain_error
from console.forms_configuration import (
    EvaluateForm,
    FlagCreateForm,
    FlagEditForm,
    FlagEnvironmentFilterForm,
    FlagRolloutForm,
    FlagToggleForm,
)
from console.views.configuration.common import (
    EVALUATE,
    FLAG_TEMPLATE,
    FLAGS_TEMPLATE,
    _actor,
)
from core.access import TenantAccess
from core.errors import DomainError
from tenants import selectors as tenant_selectors
from tenants import services as tenant_services
from tenants.models import FeatureFlag

# --- Feature flags ----------------------------------------------------------------------------


def _flag_row(flag: FeatureFlag, *, rollout_form: FlagRolloutForm | None = None) -> dict[str, Any]:
    return {
        "flag": flag,
        "rollout_form": rollout_form
        or FlagRolloutForm(
            initial={"rollout_percentage": flag.rollout_percentage}, prefix=f"f{flag.pk.hex[:8]}"
        ),
    }


def _role_choices(access: TenantAccess) -> list[tuple[str, str]]:
    return [(role.slug, role.name) for role in tenant_selectors.role_list(tenant=access.tenant)]


def _flags_context(
    request: HttpRequest,
    access: TenantAccess,
    *,
    create_form: FlagCreateForm | None = None,
    failed_row: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], int]:
    """The flags page: the tenant's flags (filtered by environment), the create form, and the
    evaluation of every flag that applies here for a subject when one is asked for."""
    status = 200
    default = tenant_selectors.current_environment()
    filter_form = FlagEnvironmentFilterForm(
        request.GET if "environment" in request.GET else None, auto_id="filter_%s"
    )
    environment = None
    if filter_form.is_bound:
        if filter_form.is_valid():
            environment = filter_form.cleaned_data["environment"] or None
        else:
            status = 400
    flags = list(tenant_selectors.flag_list(tenant=access.tenant, environment=environment))
    rows = [
        failed_row if failed_row is not None and failed_row["flag"].pk == flag.pk else _flag_row(flag)
        for flag in flags
    ]
    roles = _role_choices(access)
    evaluation, evaluate_form, evaluate_status = _evaluation(request, access, roles)
    context = {
        "rows": rows,
        "filter_form": filter_form,
        "filtered": environment,
        "create_form": create_form or FlagCreateForm(initial={"environment": default, "enabled": True}),
        "evaluate_form": evaluate_form,
        "evaluation": evaluation,
        "may_write": access.allows("flags:write") and not access.tenant.is_suspended,
    }
    return context, max(status, evaluate_status)


def _evaluation(
    request: HttpRequest, access: TenantAccess, roles: list[tuple[str, str]]
) -> tuple[list[Any] | None, EvaluateForm, int]:
    """(results, form, status) of "evaluate for a subject": results None until one is asked for."""
    if f"{EVALUATE}-subject" not in request.GET:
        initial = {"subject": str(access.user.pk), "environment": tenant_selectors.current_environment()}
        return None, EvaluateForm(initial=initial, roles=roles, prefix=EVALUATE), 200
    form = EvaluateForm(request.GET, roles=roles, prefix=EVALUATE)
    if not form.is_valid():
        return None, form, 400
    subject = form.cleaned_data["subject"]
    role = form.cleaned_data["role"] or None
    membership = access.membership
    if role is None and membership is not None and subject == str(access.user.pk):
        role = membership.role.slug  # the caller's own role is at hand, as in the API
    results = tenant_selectors.flags_evaluate(
        tenant=access.tenant, subject=subject, environment=form.cleaned_data["environment"], role=role
    )
    return results, form, 200


@tenant_page("flags:read")
def flags_list(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    """The tenant's flags, a form to add one, and "evaluate for a subject" (htmx: the result
    panel alone)."""
    context, status = _flags_context(request, access)
    if getattr(request, "htmx", False) and f"{EVALUATE}-subject" in request.GET:
        return render_page(request, f"{FLAGS_TEMPLATE}#evaluation", context, access=access, status=status)
    return render_page(request, FLAGS_TEMPLATE, context, access=access, status=status)


def _flags_url(access: TenantAccess) -> str:
    return reverse("console:flags", kwargs={"tenant_id": access.tenant.pk})


@tenant_page("flags:write", methods=("POST",))
def flag_create(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    """Add a flag of this tenant in one environment."""
    form = FlagCreateForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            flag = tenant_services.flag_create(
                tenant=access.tenant, actor=_actor(access), **form.cleaned_data
            )
        except DomainError as exc:
            show_domain_error(form, exc, field="key")
            status = exc.status_code
        else:
            messages.success(request, f"Added the flag {flag.key} ({flag.environment}).")
            return redirect(_flags_url(access))
    context, _ = _flags_context(request, access, create_form=form)
    return render_page(request, FLAGS_TEMPLATE, context, access=access, status=status)


def _flag_or_404(request: HttpRequest, access: TenantAccess, flag_id: UUID) -> FeatureFlag | HttpResponse:
    """One of this tenant's flags; another tenant's or a missing one: the same 404 page."""
    flag = tenant_selectors.flag_list(tenant=access.tenant).filter(pk=flag_id).first()
    if flag is None:
        return refusal_page(request, status=404, detail="There is no such flag.")
    return flag


def _flag_row_answer(
    request: HttpRequest,
    access: TenantAccess,
    flag: FeatureFlag,
    *,
    notice: str = "",
    rollout_form: FlagRolloutForm | None = None,
    status: int = 200,
) -> HttpResponse:
    """After a switch or a rollout change: htmx gets the flag's row (with `notice` or the
    form's error); a plain form the list again (with the error in the row), or a redirect."""
    row = _flag_row(flag, rollout_form=rollout_form)
    if getattr(request, "htmx", False):
        context = {"row": row, "notice": notice, "may_write": True}
        return render_page(request, f"{FLAGS_TEMPLATE}#flag_row", context, access=access, status=status)
    if status >= 400:
        context, _ = _flags_context(request, access, failed_row=row)
        return render_page(request, FLAGS_TEMPLATE, context, access=access, status=status)
    messages.success(request, notice)
    return redirect(_flags_url(access))


@tenant_page("flags:write", methods=("POST",))
def flag_toggle(request: HttpRequest, access: TenantAccess, flag_id: UUID) -> HttpResponse:
    """Switch a flag on or off for everyone (the kill switch)."""
    flag = _flag_or_404(request, access, flag_id)
    if isinstance(flag, HttpResponse):
        return flag
    form = FlagToggleForm(request.POST)
    if not form.is_valid():
        return refusal_page(request, status=400, detail="Say whether to switch the flag on or off.")
    enabled = form.cleaned_data["enabled"]
    flag = tenant_services.flag_update(flag=flag, actor=_actor(access), data={"enabled": enabled})
    notice = f"{flag.key} is {'on' if enabled else 'off'}{'' if enabled else ' for everyone'}."
    return _flag_row_answer(request, access, flag, notice=notice)


@tenant_page("flags:write", methods=("POST",))
def flag_rollout(request: HttpRequest, access: TenantAccess, flag_id: UUID) -> HttpResponse:
    """Set the share of subjects a flag is on for."""
    flag = _flag_or_404(request, access, flag_id)
    if isinstance(flag, HttpResponse):
        return flag
    form = FlagRolloutForm(request.POST, prefix=f"f{flag.pk.hex[:8]}")
    if not form.is_valid():
        return _flag_row_answer(request, access, flag, rollout_form=form, status=400)
    try:
        flag = tenant_services.flag_update(
            flag=flag,
            actor=_actor(access),
            data={"rollout_percentage": form.cleaned_data["rollout_percentage"]},
        )
    except DomainError as exc:
        show_domain_error(form, exc, field="rollout_percentage")
        return _flag_row_answer(request, access, flag, rollout_form=form, status=exc.status_code)
    percentage = Decimal(flag.rollout_percentage).quantize(Decimal("0.01"))
    notice = f"{flag.key} rolls out to {percentage}% of subjects."
    return _flag_row_answer(request, access, flag, notice=notice)


def _flag_context(
    access: TenantAccess, flag: FeatureFlag, form: FlagEditForm | None = None
) -> dict[str, Any]:
    roles = _role_choices(access)
    members = [
        (str(row.user_id), f"{row.user.full_name or row.user.email} ({row.user.email})")
        for row in tenant_selectors.member_list(tenant=access.tenant)
    ]
    targeted = {str(user_id) for user_id in flag.target_users}
    if form is None:
        initial = {
            "description": flag.description,
            "enabled": flag.enabled,
            "rollout_percentage": flag.rollout_percentage,
            "target_roles": list(flag.target_roles),
            "target_users": sorted(targeted),
        }
        form = FlagEditForm(initial=initial, roles=roles, members=members)
    return {
        "flag": flag,
        "form": form,
        "targeted_members": [label for value, label in members if value in targeted],
        "unknown_targets": len(targeted - {value for value, _ in members}),
        "may_write": access.allows("flags:write") and not access.tenant.is_suspended,
    }


@tenant_page("flags:read")
def flag_detail(request: HttpRequest, access: TenantAccess, flag_id: UUID) -> HttpResponse:
    """One flag: its switch, rollout and targeting, editable by those who may."""
    flag = _flag_or_404(request, access, flag_id)
    if isinstance(flag, HttpResponse):
        return flag
    return render_page(request, FLAG_TEMPLATE, _flag_context(access, flag), access=access)


@tenant_page("flags:write", methods=("POST",))
def flag_update(request: HttpRequest, access: TenantAccess, flag_id: UUID) -> HttpResponse:
    """Change a flag's description, switch, rollout and targeting."""
    flag = _flag_or_404(request, access, flag_id)
    if isinstance(flag, HttpResponse):
        return flag
    context = _flag_context(access, flag)
    blank: FlagEditForm = context["form"]
    form = FlagEditForm(
        request.POST,
        roles=blank.fields["target_roles"].choices,  # type: ignore[attr-defined]  # a ChoiceField
        members=blank.fields["target_users"].choices,  # type: ignore[attr-defined]  # a ChoiceField
    )
    status = 400
    if form.is_valid():
        try:
            tenant_services.flag_update(flag=flag, actor=_actor(access), data=dict(form.cleaned_data))
        except DomainError as exc:
            show_domain_error(form, exc)
            status = exc.status_code
        else:
            messages.success(request, f"Saved the flag {flag.key}.")
            return redirect("console:flag", tenant_id=access.tenant.pk, flag_id=flag.pk)
    context["form"] = form
    return render_page(request, FLAG_TEMPLATE, context, access=access, status=status)


@tenant_page("flags:write", methods=("POST",))
def flag_delete(request: HttpRequest, access: TenantAccess, flag_id: UUID) -> HttpResponse:
    """Delete a flag: it is off everywhere from then on."""
    flag = _flag_or_404(request, access, flag_id)
    if isinstance(flag, HttpResponse):
        return flag
    tenant_services.flag_delete(flag=flag, actor=_actor(access))
    messages.success(request, f"Deleted the flag {flag.key} ({flag.environment}).")
    return redirect(_flags_url(access))
