"""A tenant's secret locker (`/t/<id>/secrets/`): store, rotate, reveal with a reason, delete;
never a value on a page but in a reveal's answer."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from console.access import refusal_page, render_page, tenant_page
from console.forms import show_domain_error
from console.forms_configuration import (
    RevealForm,
    SecretCreateForm,
    SecretRotateForm,
)
from console.views.configuration.common import (
    LOCKER_ENTRY_TEMPLATE,
    LOCKER_TEMPLATE,
    _actor,
    _no_store,
)
from core.access import TenantAccess
from core.errors import DomainError, InvalidInput, NotFound
from tenants import selectors as tenant_selectors
from tenants import services as tenant_services
from tenants.models import Secret

# --- The secret locker ------------------------------------------------------------------------


def _visibility(access: TenantAccess) -> tenant_selectors.SecretVisibility:
    """Which secrets the caller sees: all, or the tenant-wide ones and their team's (as the API)."""
    return tenant_selectors.secret_visibility(user=access.user, membership=access.membership)


def _team_choices(access: TenantAccess) -> list[tuple[str, str]]:
    """The teams the caller may keep secrets for."""
    visibility = _visibility(access)
    return [
        (str(team.pk), f"Team {team.name}")
        for team in tenant_selectors.team_list(tenant=access.tenant)
        if visibility.allows(team.pk)
    ]


def _secrets_context(access: TenantAccess, form: SecretCreateForm | None = None) -> dict[str, Any]:
    teams = _team_choices(access) if access.allows("secrets:write") else []
    return {
        "secrets": list(tenant_selectors.secret_list(tenant=access.tenant, visibility=_visibility(access))),
        "create_form": form or SecretCreateForm(teams=teams),
        "may_write": access.allows("secrets:write") and not access.tenant.is_suspended,
        "sees_all": _visibility(access).all_teams,
    }


@tenant_page("secrets:read")
def secrets_list(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    """The locker: names, providers, last four characters, never values; a form to add one."""
    return render_page(request, LOCKER_TEMPLATE, _secrets_context(access), access=access)


@tenant_page("secrets:write", methods=("POST",))
def secret_create(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    """Put a secret in the locker (for the whole tenant, or a team the caller may keep them for)."""
    form = SecretCreateForm(request.POST, teams=_team_choices(access))
    status = 400
    if form.is_valid():
        data = dict(form.cleaned_data)
        team_id = data.pop("team")
        try:
            team = tenant_selectors.team_get(tenant=access.tenant, team_id=team_id) if team_id else None
            if team_id and team is None:
                raise InvalidInput("Some fields are invalid.", errors={"team": ["That team is gone."]})
            secret = tenant_services.secret_create(
                tenant=access.tenant, actor=_actor(access), team=team, visibility=_visibility(access), **data
            )
        except DomainError as exc:
            show_domain_error(form, exc, field="name")
            status = exc.status_code
        else:
            messages.success(request, f"Stored the secret {secret.name}.")
            return redirect("console:secret", tenant_id=access.tenant.pk, secret_id=secret.pk)
    response = render_page(
        request, LOCKER_TEMPLATE, _secrets_context(access, form), access=access, status=status
    )
    return _no_store(response)  # the form does not echo the value, but the answer was to one


def _secret_or_404(request: HttpRequest, access: TenantAccess, secret_id: UUID) -> Secret | HttpResponse:
    """One secret the caller may see; another tenant's, another team's or a missing one: 404."""
    try:
        return tenant_selectors.secret_get(
            tenant=access.tenant, visibility=_visibility(access), secret_id=secret_id
        )
    except NotFound:
        return refusal_page(request, status=404, detail="There is no such secret.")


def _secret_context(
    access: TenantAccess,
    secret: Secret,
    *,
    rotate_form: SecretRotateForm | None = None,
    reveal_form: RevealForm | None = None,
    revealed: str | None = None,
) -> dict[str, Any]:
    return {
        "secret": secret,
        "rotate_form": rotate_form or SecretRotateForm(),
        "reveal_form": reveal_form or RevealForm(),
        "revealed": revealed,
        "may_write": access.allows("secrets:write") and not access.tenant.is_suspended,
        "may_reveal": access.allows("secrets:admin") and not access.tenant.is_suspended,
    }


@tenant_page("secrets:read")
def secret_detail(request: HttpRequest, access: TenantAccess, secret_id: UUID) -> HttpResponse:
    """One secret without its value: rotate, reveal with a reason, delete."""
    secret = _secret_or_404(request, access, secret_id)
    if isinstance(secret, HttpResponse):
        return secret
    return render_page(request, LOCKER_ENTRY_TEMPLATE, _secret_context(access, secret), access=access)


@tenant_page("secrets:write", methods=("POST",))
def secret_rotate(request: HttpRequest, access: TenantAccess, secret_id: UUID) -> HttpResponse:
    """Replace a secret's value (the provider issued a new key)."""
    secret = _secret_or_404(request, access, secret_id)
    if isinstance(secret, HttpResponse):
        return secret
    form = SecretRotateForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            tenant_services.secret_rotate(
                secret=secret, actor=_actor(access), value=form.cleaned_data["value"]
            )
        except DomainError as exc:
            show_domain_error(form, exc, field="value")
            status = exc.status_code
        else:
            messages.success(request, f"Rotated {secret.name}: the new value is in use from now on.")
            return redirect("console:secret", tenant_id=access.tenant.pk, secret_id=secret.pk)
    context = _secret_context(access, secret, rotate_form=form)
    return _no_store(render_page(request, LOCKER_ENTRY_TEMPLATE, context, access=access, status=status))


@tenant_page("secrets:admin", methods=("POST",))
def secret_reveal(request: HttpRequest, access: TenantAccess, secret_id: UUID) -> HttpResponse:
    """A secret's value, on this answer only, after saying why; audited by the service every
    time (htmx: the reveal panel alone)."""
    secret = _secret_or_404(request, access, secret_id)
    if isinstance(secret, HttpResponse):
        return secret
    form = RevealForm(request.POST)
    status, revealed = 400, None
    if form.is_valid():
        revealed = tenant_services.secret_reveal(
            secret=secret, actor=_actor(access), reason=form.cleaned_data["reason"]
        )
        status = 200
        # Read again for its "last revealed" time, which the reveal has just set.
        secret = tenant_selectors.secret_get(
            tenant=access.tenant, visibility=_visibility(access), secret_id=secret_id
        )
    context = _secret_context(access, secret, reveal_form=form, revealed=revealed)
    partial = bool(getattr(request, "htmx", False))
    context["swap_oob"] = partial  # the panel comes with the new "last revealed" time
    template = f"{LOCKER_ENTRY_TEMPLATE}#reveal" if partial else LOCKER_ENTRY_TEMPLATE
    return _no_store(render_page(request, template, context, access=access, status=status))


@tenant_page("secrets:write", methods=("POST",))
def secret_delete(request: HttpRequest, access: TenantAccess, secret_id: UUID) -> HttpResponse:
    """Take a secret out of the locker."""
    secret = _secret_or_404(request, access, secret_id)
    if isinstance(secret, HttpResponse):
        return secret
    tenant_services.secret_delete(secret=secret, actor=_actor(access))
    messages.success(request, f"Deleted the secret {secret.name}.")
    return redirect("console:secrets", tenant_id=access.tenant.pk)
