"""A tenant's settings (`/t/<id>/settings/`): each setting's value in force, its versions;
edit, reset, roll back, and reveal with a reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from console.access import refusal_page, render_page, tenant_page
from console.forms import show_domain_error
from console.forms_configuration import (
    EnvironmentForm,
    ReasonForm,
    RevealForm,
    RollbackForm,
    SettingForm,
    setting_initial,
)
from console.views.configuration.common import (
    NOT_SET,
    SETTING_TEMPLATE,
    SETTINGS_TEMPLATE,
    SOURCES,
    VERSIONS_SHOWN,
    _actor,
    _no_store,
)
from core.access import TenantAccess
from core.errors import DomainError, InvalidInput, NotFound, PermissionDeniedError
from tenants import selectors as tenant_selectors
from tenants import services as tenant_services
from tenants.models import SettingVersion
from tenants.settings_registry import Kind, SettingDefinition

# --- Settings ---------------------------------------------------------------------------------


def value_text(definition: SettingDefinition, value: Any) -> str:
    """A setting's JSON value for people: secrets masked, booleans as On/Off, lists joined."""
    if value is None:
        return NOT_SET
    if definition.is_secret:
        return tenant_selectors.MASK
    if definition.kind == Kind.BOOL:
        return "On" if value else "Off"
    if definition.kind == Kind.DECIMAL_LIST:
        return ", ".join(str(item) for item in value) or "None"
    return str(value)


def _version_text(definition: SettingDefinition, version: SettingVersion, which: str) -> str:
    """The old or new value of a version: masked when it was secret, never decrypted."""
    if version.is_secret:
        return tenant_selectors.MASK if getattr(version, f"{which}_value_encrypted") else NOT_SET
    return value_text(definition, getattr(version, f"{which}_value"))


def _may_change(access: TenantAccess, definition: SettingDefinition) -> bool:
    """Whether the caller may set this setting here: the permission, a tenant that is not
    suspended, and a platform admin for a key the platform manages (the service's rule)."""
    if not access.allows("settings:write") or access.tenant.is_suspended:
        return False
    return not definition.platform_managed or bool(getattr(access.user, "is_platform_admin", False))


@dataclass
class EnvironmentChoice:
    """The environment a page shows, and the selector's form (bound, with its error, when the
    query asked for one that does not exist)."""

    environment: str
    form: EnvironmentForm
    status: int = 200


def _environment_choice(request: HttpRequest) -> EnvironmentChoice:
    default = tenant_selectors.current_environment()
    raw = request.GET.get("environment")
    if raw is None:
        return EnvironmentChoice(default, EnvironmentForm(initial={"environment": default}))
    form = EnvironmentForm({"environment": raw})
    if form.is_valid():
        return EnvironmentChoice(form.cleaned_data["environment"], form)
    return EnvironmentChoice(default, form, status=400)


def _posted_environment(request: HttpRequest) -> str:
    """The environment a write is for: the action URL's query, like the API's; unknown: 400."""
    return tenant_selectors.current_environment(request.GET.get("environment") or None)


def _bad_environment(request: HttpRequest, exc: InvalidInput) -> HttpResponse:
    hint = " ".join(exc.errors.get("environment", []))
    return refusal_page(request, status=400, detail=f"{exc.detail} {hint}".strip())


def _setting_url(access: TenantAccess, key: str, environment: str) -> str:
    base = reverse("console:setting", kwargs={"tenant_id": access.tenant.pk, "key": key})
    return f"{base}?{urlencode({'environment': environment})}"


@tenant_page("settings:read")
def settings_list(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    """Every setting the platform knows, with the value in force here and where it comes from."""
    choice = _environment_choice(request)
    views = tenant_selectors.setting_list(tenant=access.tenant, environment=choice.environment)
    rows = [
        {
            "view": view,
            "definition": view.definition,
            "value": value_text(view.definition, view.display_value),
            "source": SOURCES[view.source],
            "may_change": _may_change(access, view.definition),
        }
        for view in views
    ]
    context = {"rows": rows, "environment": choice.environment, "environment_form": choice.form}
    return render_page(request, SETTINGS_TEMPLATE, context, access=access, status=choice.status)


def _setting_context(
    access: TenantAccess,
    definition: SettingDefinition,
    environment: str,
    *,
    form: SettingForm | None = None,
    reset_form: ReasonForm | None = None,
    rollback_form: RollbackForm | None = None,
    reveal_form: RevealForm | None = None,
    revealed: Any = None,
) -> dict[str, Any]:
    """One setting's page: its value here, the edit form, its versions (newest first)."""
    tenant = access.tenant
    view = tenant_selectors.setting_view(tenant=tenant, key=definition.key, environment=environment)
    versions = list(
        tenant_selectors.setting_version_list(tenant=tenant, key=definition.key, environment=environment)[
            :VERSIONS_SHOWN
        ]
    )
    latest = versions[0] if versions else None
    version_rows = [
        {
            "version": version,
            "old": _version_text(definition, version, "old"),
            "new": _version_text(definition, version, "new"),
            "current": version is latest,
            # Rolling back to the value in force changes nothing: no button for it (a secret's
            # values are not decrypted to find out).
            "same": latest is not None
            and not definition.is_secret
            and not version.is_secret
            and version.new_value == latest.new_value,
        }
        for version in versions
    ]
    if form is None:
        form = SettingForm(definition=definition, initial=setting_initial(definition, view.display_value))
    own_value = view.own is not None and view.own.has_value
    return {
        "definition": definition,
        "view": view,
        "environment": environment,
        "environment_query": "?" + urlencode({"environment": environment}),
        "value": value_text(definition, view.display_value),
        "source": SOURCES[view.source],
        "default": value_text(definition, view.default_display) if not definition.is_secret else NOT_SET,
        "own_value": own_value,
        "may_change": _may_change(access, definition),
        "may_reveal": definition.is_secret and own_value and access.allows("settings:admin"),
        "form": form,
        "reset_form": reset_form or ReasonForm(prefix="reset"),
        "rollback_form": rollback_form,
        "reveal_form": reveal_form or RevealForm(prefix="reveal"),
        "revealed": revealed,
        "versions": version_rows,
        "versions_more": len(versions) == VERSIONS_SHOWN,
    }


def _definition_or_404(request: HttpRequest, key: str) -> SettingDefinition | HttpResponse:
    try:
        return tenant_selectors.setting_definition(key)
    except NotFound:
        return refusal_page(request, status=404, detail="There is no such setting.")


@tenant_page("settings:read")
def setting_detail(request: HttpRequest, access: TenantAccess, key: str) -> HttpResponse:
    """One setting: its value here, its default, the edit form and its versions."""
    definition = _definition_or_404(request, key)
    if isinstance(definition, HttpResponse):
        return definition
    choice = _environment_choice(request)
    context = _setting_context(access, definition, choice.environment)
    context["environment_form"] = choice.form
    return render_page(request, SETTING_TEMPLATE, context, access=access, status=choice.status)


def _setting_write(
    request: HttpRequest,
    access: TenantAccess,
    key: str,
    write: Any,
    *,
    form_name: str,
    make_form: Any,
    error_field: str | None,
) -> HttpResponse:
    """The frame of a setting's writes: find the setting and the environment, check the form,
    call the service (`write(definition, environment, form)` → the notice), show its refusal in
    place, else back to the setting's page with the notice."""
    definition = _definition_or_404(request, key)
    if isinstance(definition, HttpResponse):
        return definition
    try:
        environment = _posted_environment(request)
    except InvalidInput as exc:
        return _bad_environment(request, exc)
    form = make_form(definition)
    status = 400
    if form.is_valid():
        try:
            notice = write(definition, environment, form)
        except DomainError as exc:
            # A refusal of the caller (a key the platform manages) is the form's, not the value's.
            refused = isinstance(exc, PermissionDeniedError)
            show_domain_error(form, exc, field=None if refused else error_field)
            status = exc.status_code
        else:
            messages.success(request, notice)
            return redirect(_setting_url(access, key, environment))
    context = _setting_context(access, definition, environment, **{form_name: form})
    return render_page(request, SETTING_TEMPLATE, context, access=access, status=status)


@tenant_page("settings:write", methods=("POST",))
def setting_set(request: HttpRequest, access: TenantAccess, key: str) -> HttpResponse:
    """Set the tenant's value of a setting (the service checks it against the definition)."""

    def write(definition: SettingDefinition, environment: str, form: SettingForm) -> str:
        tenant_services.setting_set(
            tenant=access.tenant,
            key=key,
            value=form.json_value(),
            actor=_actor(access),
            environment=environment,
            reason=form.cleaned_data["reason"],
        )
        return f"Saved {key}."

    return _setting_write(
        request,
        access,
        key,
        write,
        form_name="form",
        make_form=lambda definition: SettingForm(request.POST, definition=definition),
        error_field="value",
    )


@tenant_page("settings:write", methods=("POST",))
def setting_reset(request: HttpRequest, access: TenantAccess, key: str) -> HttpResponse:
    """Remove the tenant's own value: the platform's default (or the built-in one) applies again."""

    def write(definition: SettingDefinition, environment: str, form: ReasonForm) -> str:
        row = tenant_services.setting_reset(
            tenant=access.tenant,
            key=key,
            actor=_actor(access),
            environment=environment,
            reason=form.cleaned_data["reason"],
        )
        return f"Reset {key}: the default applies." if row is not None else f"{key} had no value of its own."

    return _setting_write(
        request,
        access,
        key,
        write,
        form_name="reset_form",
        make_form=lambda definition: ReasonForm(request.POST, prefix="reset"),
        error_field=None,
    )


@tenant_page("settings:write", methods=("POST",))
def setting_rollback(request: HttpRequest, access: TenantAccess, key: str) -> HttpResponse:
    """Make the value what it was after a version: a new version equal to that one."""

    def write(definition: SettingDefinition, environment: str, form: RollbackForm) -> str:
        version = form.cleaned_data["version"]
        tenant_services.setting_rollback(
            tenant=access.tenant,
            key=key,
            version=version,
            actor=_actor(access),
            environment=environment,
            reason=form.cleaned_data["reason"],
        )
        return f"Rolled {key} back to version {version}."

    return _setting_write(
        request,
        access,
        key,
        write,
        form_name="rollback_form",
        make_form=lambda definition: RollbackForm(request.POST),
        error_field=None,
    )


@tenant_page("settings:admin", methods=("POST",))
def setting_reveal(request: HttpRequest, access: TenantAccess, key: str) -> HttpResponse:
    """The tenant's own value of a secret setting, on this answer only; audited by the service."""
    definition = _definition_or_404(request, key)
    if isinstance(definition, HttpResponse):
        return definition
    try:
        environment = _posted_environment(request)
    except InvalidInput as exc:
        return _bad_environment(request, exc)
    form = RevealForm(request.POST, prefix="reveal")
    status, revealed = 400, None
    if form.is_valid():
        try:
            value = tenant_services.setting_reveal(
                tenant=access.tenant,
                key=key,
                actor=_actor(access),
                environment=environment,
                reason=form.cleaned_data["reason"],
            )
        except DomainError as exc:
            show_domain_error(form, exc, field="reason")
            status = exc.status_code
        else:
            status, revealed = 200, {"value": value}
    context = _setting_context(access, definition, environment, reveal_form=form, revealed=revealed)
    return _no_store(render_page(request, SETTING_TEMPLATE, context, access=access, status=status))
