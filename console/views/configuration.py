"""A tenant's configuration: settings (`/t/<id>/settings/`), feature flags (`/t/<id>/flags/`) and
the secret locker (`/t/<id>/secrets/`).

Each view is guarded with the permission the API's view for the same action names
(tenants/api/settings.py, flags.py, secrets.py) and writes through the same service. Secret
values never appear on a page but in the answer to an explicit reveal, which says why, is
audited by the service and is marked `Cache-Control: no-store`; reloading the page does not show
it again. The queries of each page do not grow with the rows.

Forms work without JavaScript (POST, then a redirect with a message; errors in place); htmx
turns a flag's switch and rollout, the evaluation and a reveal into swaps of their panel.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.http import urlencode

from accounts.models import User
from console.access import refusal_page, render_page, tenant_page
from console.forms import show_domain_error
from console.forms_configuration import (
    EnvironmentForm,
    EvaluateForm,
    FlagCreateForm,
    FlagEditForm,
    FlagEnvironmentFilterForm,
    FlagRolloutForm,
    FlagToggleForm,
    ReasonForm,
    RevealForm,
    RollbackForm,
    SecretCreateForm,
    SecretRotateForm,
    SettingForm,
    setting_initial,
)
from core.access import TenantAccess
from core.errors import DomainError, InvalidInput, NotFound, PermissionDeniedError
from tenants import selectors as tenant_selectors
from tenants import services as tenant_services
from tenants.models import FeatureFlag, Secret, SettingVersion
from tenants.settings_registry import Kind, SettingDefinition

SETTINGS_TEMPLATE = "console/configuration/settings.html"
SETTING_TEMPLATE = "console/configuration/setting.html"
FLAGS_TEMPLATE = "console/configuration/flags.html"
FLAG_TEMPLATE = "console/configuration/flag.html"
LOCKER_TEMPLATE = "console/configuration/secrets.html"
LOCKER_ENTRY_TEMPLATE = "console/configuration/secret.html"
VERSIONS_SHOWN = 50
NOT_SET = "Not set"
NO_STORE = "no-store"
EVALUATE = "eval"  # the evaluation form's prefix: its environment is not the list's filter
SOURCES = {"tenant": "This tenant", "platform": "Platform default", "default": "Built-in default"}


def _actor(access: TenantAccess) -> User:
    user: User = access.user
    return user


def _no_store(response: HttpResponse) -> HttpResponse:
    """A page that shows a secret value: kept by no cache, the browser's included."""
    response["Cache-Control"] = NO_STORE
    return response


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


T = "t/<uuid:tenant_id>/"
urlpatterns = [
    path(f"{T}settings/", settings_list, name="settings"),
    path(f"{T}settings/<str:key>/", setting_detail, name="setting"),
    path(f"{T}settings/<str:key>/set/", setting_set, name="setting_set"),
    path(f"{T}settings/<str:key>/reset/", setting_reset, name="setting_reset"),
    path(f"{T}settings/<str:key>/rollback/", setting_rollback, name="setting_rollback"),
    path(f"{T}settings/<str:key>/reveal/", setting_reveal, name="setting_reveal"),
    path(f"{T}flags/", flags_list, name="flags"),
    path(f"{T}flags/new/", flag_create, name="flag_create"),
    path(f"{T}flags/<uuid:flag_id>/", flag_detail, name="flag"),
    path(f"{T}flags/<uuid:flag_id>/edit/", flag_update, name="flag_update"),
    path(f"{T}flags/<uuid:flag_id>/switch/", flag_toggle, name="flag_toggle"),
    path(f"{T}flags/<uuid:flag_id>/rollout/", flag_rollout, name="flag_rollout"),
    path(f"{T}flags/<uuid:flag_id>/delete/", flag_delete, name="flag_delete"),
    path(f"{T}secrets/", secrets_list, name="secrets"),
    path(f"{T}secrets/new/", secret_create, name="secret_create"),
    path(f"{T}secrets/<uuid:secret_id>/", secret_detail, name="secret"),
    path(f"{T}secrets/<uuid:secret_id>/rotate/", secret_rotate, name="secret_rotate"),
    path(f"{T}secrets/<uuid:secret_id>/reveal/", secret_reveal, name="secret_reveal"),
    path(f"{T}secrets/<uuid:secret_id>/delete/", secret_delete, name="secret_delete"),
]
