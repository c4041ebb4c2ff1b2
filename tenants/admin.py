"""The back office for tenants, teams, memberships and roles.

Every write goes through `tenants.services` (which audit it); the admin only parses, calls and
renders. Where an admin form cannot map onto a service (a generic "add membership"), the admin
does not offer the operation. Requests run under the platform bypass (core.admin_bypass).
Platform admins change things; platform operators only look.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import AutocompleteSelectFilter
from unfold.decorators import display
from unfold.widgets import (
    UnfoldAdminCheckboxSelectMultipleWidget,
    UnfoldAdminEmailInputWidget,
    UnfoldAdminTextareaWidget,
)

from accounts import permissions as registry
from accounts.models import Role, User, UserManager
from core.admin_bypass import PlatformStaffAdminMixin, ReadOnlyAdmin
from core.errors import DomainError
from tenants import selectors, services, settings_registry
from tenants.models import (
    FeatureFlag,
    Membership,
    Secret,
    Setting,
    SettingVersion,
    Team,
    Tenant,
    TenantStatus,
)

STATUS_LABELS = {
    TenantStatus.ACTIVE: "success",
    TenantStatus.SUSPENDED: "danger",
    TenantStatus.PROVISIONING: "info",
    TenantStatus.FAILED: "warning",
}


def actor_of(request: HttpRequest) -> User:
    """The platform staff member using the back office, as the services' actor."""
    user = request.user
    if not isinstance(user, User):  # the admin site lets no anonymous caller this far
        raise PermissionDenied
    return user


def _error_text(exc: DomainError) -> str:
    details = [f"{field}: {msg}" for field, msgs in exc.errors.items() for msg in msgs]
    return " ".join([exc.detail, *details])


class ServiceAdmin(PlatformStaffAdminMixin, ModelAdmin):
    """A ModelAdmin whose saves call services, with the services' refusals shown on the form.

    A service that refuses (DomainError) inside save_model has its savepoint rolled back; the
    form is then validated once more with the refusal added as errors, so the user sees what
    went wrong next to what they typed, and nothing was written.
    """

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form_class = super().get_form(request, obj, change, **kwargs)
        error: DomainError | None = getattr(request, "_qm_service_error", None)
        if error is None:
            return form_class
        refusal: DomainError = error

        class RefusedForm(form_class):  # type: ignore[misc, valid-type]  # built at run time
            def clean(self) -> Any:
                cleaned = super().clean()
                placed = False
                for field, msgs in refusal.errors.items():
                    for msg in msgs:
                        if field in self.fields:
                            self.add_error(field, msg)
                            placed = True
                        else:
                            self.add_error(None, f"{field}: {msg}")
                if not placed:
                    self.add_error(None, refusal.detail)
                return cleaned

        return RefusedForm

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> Any:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:
            request._qm_service_error = exc  # type: ignore[attr-defined]  # read by get_form
            return super().changeform_view(request, object_id, form_url, extra_context)

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> Any:
        try:
            return super().delete_view(request, object_id, extra_context)
        except DomainError as exc:
            self.message_user(request, _error_text(exc), messages.ERROR)
            opts = self.model._meta
            return HttpResponseRedirect(
                reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[object_id])
            )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # The service saved everything there is (no many-to-many fields, no inlines here).
        pass


def _changed(form: forms.ModelForm, fields: list[str]) -> dict[str, Any]:
    return {f: form.cleaned_data[f] for f in form.changed_data if f in fields}


# --- Tenants ----------------------------------------------------------------------------------


class TenantAddForm(forms.ModelForm):
    slug = forms.SlugField(max_length=50, required=False, help_text="Leave blank to derive it from the name.")
    owner_email = forms.EmailField(
        required=False,
        widget=UnfoldAdminEmailInputWidget,
        help_text="An existing user who becomes the tenant's first owner (optional).",
    )

    class Meta:
        model = Tenant
        fields = [
            "name",
            "slug",
            "admin_email",
            "plan",
            "timezone",
            "model_defaults",
            "resource_limits",
            "require_2fa",
        ]

    def clean_owner_email(self) -> User | None:
        email = UserManager.normalize_email(self.cleaned_data.get("owner_email"))
        if not email:
            return None
        owner = User.objects.filter(email=email, is_active=True).first()
        if owner is None:
            raise forms.ValidationError("No active user has this e-mail address.")
        return owner


class ReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=2000,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
        help_text="Recorded in the audit log.",
    )


@admin.register(Tenant)
class TenantAdmin(ServiceAdmin):
    add_form = TenantAddForm
    list_display = ["name", "slug", "status_label", "plan", "created_at", "member_count"]
    list_filter = ["status", "plan"]
    search_fields = ["name", "slug", "admin_email"]
    ordering = ["name", "id"]
    actions = ["suspend_selected", "reactivate_selected"]
    fieldsets = (
        (None, {"fields": ("name", "slug", "admin_email", "timezone")}),
        ("Plan and limits", {"fields": ("plan", "resource_limits", "model_defaults", "require_2fa")}),
        ("Status", {"fields": ("status", "suspended_at", "suspension_reason")}),
        ("Dates", {"fields": ("created_at", "updated_at")}),
    )
    add_fieldsets = (
        (None, {"fields": ("name", "slug", "admin_email", "timezone", "owner_email")}),
        ("Plan and limits", {"fields": ("plan", "resource_limits", "model_defaults", "require_2fa")}),
    )
    # Status changes only through the suspend / reactivate actions (audited, with a reason);
    # the slug is an identifier others hold on to.
    change_readonly_fields = [
        "slug",
        "status",
        "suspended_at",
        "suspension_reason",
        "created_at",
        "updated_at",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tenant]:
        # One correlated subquery, not a query per row (Membership has no reverse accessor).
        members = (
            Membership.objects.filter(tenant=OuterRef("pk"))
            .order_by()
            .values("tenant")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(member_count=Coalesce(Subquery(members, output_field=IntegerField()), 0))
        )

    @display(description="Members", ordering="member_count")
    def member_count(self, obj: Tenant) -> int:
        return obj.member_count  # type: ignore[attr-defined]  # annotated in get_queryset

    @display(description="Status", ordering="status", label=STATUS_LABELS)
    def status_label(self, obj: Tenant) -> tuple[str, str]:
        return obj.status, obj.get_status_display()

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.add_fieldsets if obj is None else self.fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [] if obj is None else self.change_readonly_fields

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, change, **kwargs)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # No service deletes a tenant (the audit log keeps its rows); suspend it instead.
        return False

    def save_model(self, request: HttpRequest, obj: Tenant, form: Any, change: bool) -> None:
        if change:
            data = _changed(form, services.TENANT_FIELDS)
            if data:
                services.tenant_update(tenant=obj, actor=actor_of(request), data=data)
            return
        fields = {f: form.cleaned_data[f] for f in TenantAddForm.Meta.fields if f in form.cleaned_data}
        created = services.tenant_create(
            actor=actor_of(request), owner=form.cleaned_data.get("owner_email"), **fields
        )
        # The admin's success message, redirect and history entry refer to `obj`.
        obj.pk = created.pk
        obj.slug = created.slug
        obj._state.adding = False

    # --- Suspend / reactivate, with a reason asked on a confirmation page ---------------------

    @admin.action(description="Suspend selected tenants", permissions=["change"])
    def suspend_selected(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> HttpResponse | None:
        return self._status_action(
            request,
            queryset,
            action="suspend_selected",
            title="Suspend tenants",
            verb="suspend",
            service=services.tenant_suspend,
            done="Suspended",
        )

    @admin.action(description="Reactivate selected tenants", permissions=["change"])
    def reactivate_selected(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> HttpResponse | None:
        return self._status_action(
            request,
            queryset,
            action="reactivate_selected",
            title="Reactivate tenants",
            verb="reactivate",
            service=services.tenant_reactivate,
            done="Reactivated",
        )

    def _status_action(
        self,
        request: HttpRequest,
        queryset: QuerySet[Tenant],
        *,
        action: str,
        title: str,
        verb: str,
        service: Callable[..., Tenant],
        done: str,
    ) -> HttpResponse | None:
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "title": title,
                "verb": verb,
                "opts": self.model._meta,
                "tenants": list(queryset),
                "form": form,
                "action": action,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/tenants/tenant/status_confirmation.html", context)
        reason = form.cleaned_data["reason"]
        changed = []
        # Primary-key order: the services lock each tenant row, always in the same order.
        for tenant in queryset.order_by("pk"):
            try:
                service(tenant=tenant, actor=actor_of(request), reason=reason)
            except DomainError as exc:
                self.message_user(request, f"{tenant.name}: {exc.detail}", messages.WARNING)
            else:
                changed.append(tenant.name)
        if changed:
            self.message_user(request, f"{done} {len(changed)}: {', '.join(changed)}.", messages.SUCCESS)
        return None


# --- Teams ------------------------------------------------------------------------------------

TEAM_FIELDS = ["name", "slug", "description"]


class TeamAddForm(forms.ModelForm):
    slug = forms.SlugField(max_length=50, required=False, help_text="Leave blank to derive it from the name.")

    class Meta:
        model = Team
        fields = ["tenant", *TEAM_FIELDS]


@admin.register(Team)
class TeamAdmin(ServiceAdmin):
    list_display = ["name", "slug", "tenant", "member_count", "created_at"]
    list_select_related = ["tenant"]
    list_filter = [("tenant", AutocompleteSelectFilter)]
    search_fields = ["name", "slug", "tenant__name", "tenant__slug"]
    autocomplete_fields = ["tenant"]
    ordering = ["tenant__name", "name", "id"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Team]:
        return super().get_queryset(request).annotate(member_count=Count("memberships"))

    @display(description="Members", ordering="member_count")
    def member_count(self, obj: Team) -> int:
        return obj.member_count  # type: ignore[attr-defined]  # annotated in get_queryset

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = TeamAddForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["tenant", *TEAM_FIELDS]
        return ["tenant", *TEAM_FIELDS, "created_at", "updated_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [] if obj is None else ["tenant", "created_at", "updated_at"]

    def save_model(self, request: HttpRequest, obj: Team, form: Any, change: bool) -> None:
        if change:
            data = _changed(form, TEAM_FIELDS)
            if data:
                services.team_update(team=obj, actor=actor_of(request), data=data)
            return
        created = services.team_create(
            tenant=form.cleaned_data["tenant"],
            actor=actor_of(request),
            name=form.cleaned_data["name"],
            slug=form.cleaned_data["slug"],
            description=form.cleaned_data["description"],
        )
        obj.pk = created.pk
        obj.slug = created.slug
        obj._state.adding = False

    def delete_model(self, request: HttpRequest, obj: Team) -> None:
        services.team_delete(team=obj, actor=actor_of(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Team]) -> None:
        # team_delete refuses nothing, so the bulk "delete selected" action is safe to keep.
        for team in queryset.order_by("pk"):
            services.team_delete(team=team, actor=actor_of(request))


# --- Memberships ------------------------------------------------------------------------------


@admin.register(Membership)
class MembershipAdmin(ServiceAdmin):
    list_display = ["user", "tenant", "role", "team", "joined_at"]
    list_select_related = ["user", "tenant", "role", "team"]
    list_filter = [
        ("tenant", AutocompleteSelectFilter),
        ("role", AutocompleteSelectFilter),
        ("team", AutocompleteSelectFilter),
    ]
    search_fields = ["user__email", "user__full_name", "tenant__name", "tenant__slug"]
    ordering = ["tenant__name", "joined_at", "id"]
    fields = [
        "user",
        "tenant",
        "role",
        "team",
        "joined_at",
        "invited_by",
        "role_assigned_by",
        "role_assigned_at",
    ]
    readonly_fields = ["user", "tenant", "joined_at", "invited_by", "role_assigned_by", "role_assigned_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A membership comes from tenant creation, sign-up or an accepted invite, each with its
        # own service; a bare "add" form would skip what those do.
        return False

    def get_actions(self, request: HttpRequest) -> Any:
        # member_remove can refuse (last owner, rank); one object at a time shows why.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        request._qm_membership = obj  # type: ignore[attr-defined]  # read by formfield_for_foreignkey
        return super().get_form(request, obj, change, **kwargs)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        membership: Membership | None = getattr(request, "_qm_membership", None)
        if membership is not None:
            # Only this tenant's roles and teams are choices: another tenant's id is no option.
            if db_field.name == "role":
                kwargs["queryset"] = selectors.role_list(tenant=membership.tenant)
            elif db_field.name == "team":
                kwargs["queryset"] = Team.objects.filter(tenant_id=membership.tenant_id).order_by(
                    "name", "id"
                )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        role = form.cleaned_data["role"] if "role" in form.changed_data else None
        team = form.cleaned_data["team"] if "team" in form.changed_data else None
        clear_team = "team" in form.changed_data and team is None
        if role is not None or team is not None or clear_team:
            services.member_update(
                membership=obj, actor=actor_of(request), role=role, team=team, clear_team=clear_team
            )

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        services.member_remove(membership=obj, actor=actor_of(request))


# --- Roles (accounts.Role; here, next to the services that write them) ----------------------

ROLE_FIELDS = ["name", "description", "permissions", "rank"]


class RoleForm(forms.ModelForm):
    permissions = forms.MultipleChoiceField(
        choices=[(p.key, f"{p.key}: {p.description}") for p in registry.REGISTRY],
        widget=UnfoldAdminCheckboxSelectMultipleWidget,
        required=False,
    )

    class Meta:
        model = Role
        fields = ROLE_FIELDS


class RoleAddForm(RoleForm):
    slug = forms.SlugField(max_length=50, required=False, help_text="Leave blank to derive it from the name.")

    class Meta:
        model = Role
        fields = ["tenant", "name", "slug", "description", "permissions", "rank"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Custom roles belong to a tenant; system roles come from a migration only.
        self.fields["tenant"].required = True


class RoleKindFilter(admin.SimpleListFilter):
    title = "kind"
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("system", "System"), ("custom", "Custom")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Role]) -> QuerySet[Role]:
        if self.value() == "system":
            return queryset.filter(tenant__isnull=True)
        if self.value() == "custom":
            return queryset.filter(tenant__isnull=False)
        return queryset


@admin.register(Role)
class RoleAdmin(ServiceAdmin):
    form = RoleForm
    list_display = ["name", "slug", "scope", "rank", "member_count", "created_at"]
    list_select_related = ["tenant"]
    list_filter = [RoleKindFilter, ("tenant", AutocompleteSelectFilter)]
    search_fields = ["name", "slug", "tenant__name", "tenant__slug"]
    autocomplete_fields = ["tenant"]
    ordering = ["-rank", "name", "id"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Role]:
        return super().get_queryset(request).annotate(member_count=Count("memberships"))

    @display(description="Tenant", ordering="tenant__name")
    def scope(self, obj: Role) -> str:
        return obj.tenant.name if obj.tenant is not None else "System role"

    @display(description="Members", ordering="member_count")
    def member_count(self, obj: Role) -> int:
        return obj.member_count  # type: ignore[attr-defined]  # annotated in get_queryset

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # System roles are seeded by a migration and shared by every tenant: read-only here.
        return super().has_change_permission(request, obj) and not (obj is not None and obj.is_system)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and not (obj is not None and obj.is_system)

    def get_actions(self, request: HttpRequest) -> Any:
        # role_delete refuses roles still held and system roles; one at a time shows why.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = RoleAddForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["tenant", "name", "slug", "description", "permissions", "rank"]
        return ["tenant", "name", "slug", "description", "permissions", "rank", "created_at", "updated_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return []
        if obj.is_system or not self.has_change_permission(request, obj):
            return self.get_fields(request, obj)
        return ["tenant", "slug", "created_at", "updated_at"]

    def save_model(self, request: HttpRequest, obj: Role, form: Any, change: bool) -> None:
        if change:
            data = _changed(form, ROLE_FIELDS)
            if data:
                services.role_update(role=obj, actor=actor_of(request), data=data)
            return
        cleaned = form.cleaned_data
        created = services.role_create(
            tenant=cleaned["tenant"],
            actor=actor_of(request),
            name=cleaned["name"],
            permissions=list(cleaned["permissions"]),
            rank=cleaned["rank"],
            slug=cleaned["slug"],
            description=cleaned["description"],
        )
        obj.pk = created.pk
        obj.slug = created.slug
        obj._state.adding = False

    def delete_model(self, request: HttpRequest, obj: Role) -> None:
        services.role_delete(role=obj, actor=actor_of(request))


# --- Configuration: settings (values masked, history read-only), flags, the secret locker -------


def _level_name(obj: Any) -> str:
    return obj.tenant.name if obj.tenant_id is not None else "Platform"


def _masked_json(is_secret: bool, value: Any, encrypted: str) -> str:
    from tenants.selectors import MASK

    if is_secret:
        return MASK if encrypted else "—"
    return "—" if value is None else json.dumps(value)


class SettingForm(forms.ModelForm):
    """Key, tenant and environment on creation; a new value (or a reset) and a reason on change."""

    key = forms.ChoiceField(choices=[(d.key, d.key) for d in settings_registry.REGISTRY])
    new_value = forms.CharField(
        required=False,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 2}),
        help_text='JSON of the setting\'s type: 5, true, "5.0", ["100"]. A secret: the value itself '
        "(never shown again; leave blank to keep it).",
    )
    reset = forms.BooleanField(
        required=False, help_text="Remove the value at this level: the platform's (or the default) applies."
    )
    reason = forms.CharField(
        max_length=2000, required=False, help_text="Kept in the history and the audit log."
    )

    class Meta:
        model = Setting
        fields = ["tenant", "environment"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance._state.adding:
            for name in ("key", "tenant", "environment"):
                self.fields.pop(name, None)
        else:
            self.fields["tenant"].required = False
            self.fields["tenant"].help_text = "Empty: the platform default."
        key = None if self.instance._state.adding else self.instance.key
        definition = settings_registry.definition(key) if key else None
        if definition is not None and definition.is_secret:
            self.fields["new_value"].widget = forms.PasswordInput(render_value=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        key = cleaned.get("key") if self.instance._state.adding else self.instance.key
        definition = settings_registry.definition(key or "")
        raw = cleaned.get("new_value") or ""
        if definition is None or cleaned.get("reset"):
            return cleaned
        if not raw:
            if self.instance._state.adding:
                self.add_error("new_value", "Give a value.")
            cleaned["parsed_value"] = None
            return cleaned
        if definition.is_secret and definition.kind == settings_registry.Kind.STR:
            cleaned["parsed_value"] = raw  # a secret string as typed, never parsed
            return cleaned
        try:
            cleaned["parsed_value"] = json.loads(raw)
        except json.JSONDecodeError:
            if definition.kind != settings_registry.Kind.STR:
                self.add_error("new_value", "Not valid JSON.")
            cleaned["parsed_value"] = raw
        return cleaned


@admin.register(Setting)
class SettingAdmin(ServiceAdmin):
    """Setting values, secrets masked; changes go through the versioned, audited services."""

    form = SettingForm
    list_display = ["key", "level", "environment", "value_display", "version", "updated_by", "updated_at"]
    list_select_related = ["tenant", "updated_by"]
    list_filter = ["environment", "category", "is_secret", ("tenant", AutocompleteSelectFilter)]
    search_fields = ["key", "tenant__name", "tenant__slug"]
    autocomplete_fields = ["tenant"]
    ordering = ["key", "environment", "id"]
    actions = None

    @display(description="Tenant", ordering="tenant__name")
    def level(self, obj: Setting) -> str:
        return _level_name(obj)

    @display(description="Value")
    def value_display(self, obj: Setting) -> str:
        return _masked_json(obj.is_secret, obj.value, obj.value_encrypted)

    @display(description="History")
    def history(self, obj: Setting) -> str:
        link = reverse("admin:tenants_settingversion_changelist") + f"?setting__exact={obj.pk}"
        return format_html('<a href="{}">{} version(s)</a>', link, obj.version)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["key", "tenant", "environment", "new_value", "reason"]
        fields = ["key", "level", "environment", "value_display", "history", "updated_by", "updated_at"]
        if self.has_change_permission(request, obj):
            fields += ["new_value", "reset", "reason"]
        return fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return []
        return ["key", "level", "environment", "value_display", "history", "updated_by", "updated_at"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # rows keep their history; "reset" empties a value instead

    def save_model(self, request: HttpRequest, obj: Setting, form: Any, change: bool) -> None:
        cleaned = form.cleaned_data
        reason = cleaned.get("reason", "")
        if change:
            tenant, key, environment = obj.tenant, obj.key, obj.environment
        else:
            tenant, key, environment = cleaned.get("tenant"), cleaned["key"], cleaned["environment"]
        if cleaned.get("reset"):
            services.setting_reset(
                tenant=tenant, key=key, actor=actor_of(request), environment=environment, reason=reason
            )
        elif cleaned.get("parsed_value") is not None:
            services.setting_set(
                tenant=tenant,
                key=key,
                value=cleaned["parsed_value"],
                actor=actor_of(request),
                environment=environment,
                reason=reason,
            )
        if not change:
            saved = Setting.objects.get(tenant=tenant, key=key, environment=environment)
            obj.pk = saved.pk
            obj._state.adding = False


@admin.register(SettingVersion)
class SettingVersionAdmin(ReadOnlyAdmin):
    """The setting history: insert-only in the database, read-only here, values masked."""

    list_display = ["key", "version", "action", "level", "environment", "changed_by_label", "created_at"]
    list_select_related = ["tenant"]
    list_filter = ["environment", "action", "is_secret"]
    search_fields = ["key", "tenant__name", "changed_by_label", "reason"]
    ordering = ["-created_at", "-id"]
    actions = None
    fields = [
        "key",
        "version",
        "action",
        "level",
        "environment",
        "old_display",
        "new_display",
        "rolled_back_to",
        "reason",
        "changed_by_label",
        "created_at",
    ]
    readonly_fields = fields

    @display(description="Tenant", ordering="tenant__name")
    def level(self, obj: SettingVersion) -> str:
        return _level_name(obj)

    @display(description="Old value")
    def old_display(self, obj: SettingVersion) -> str:
        return _masked_json(obj.is_secret, obj.old_value, obj.old_value_encrypted)

    @display(description="New value")
    def new_display(self, obj: SettingVersion) -> str:
        return _masked_json(obj.is_secret, obj.new_value, obj.new_value_encrypted)


FLAG_ADMIN_FIELDS = [
    "description",
    "enabled",
    "rollout_percentage",
    "target_users",
    "target_roles",
    "target_tenants",
]


@admin.register(FeatureFlag)
class FeatureFlagAdmin(ServiceAdmin):
    list_display = ["key", "level", "environment", "enabled", "rollout_percentage", "updated_at"]
    list_select_related = ["tenant"]
    list_filter = ["environment", "enabled", ("tenant", AutocompleteSelectFilter)]
    search_fields = ["key", "description", "tenant__name", "tenant__slug"]
    autocomplete_fields = ["tenant"]
    ordering = ["key", "environment", "id"]
    actions = ["disable_selected"]

    @display(description="Tenant", ordering="tenant__name")
    def level(self, obj: FeatureFlag) -> str:
        return _level_name(obj)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        head = ["tenant", "environment", "key"]
        tail = ["created_by", "updated_by", "created_at", "updated_at"] if obj is not None else []
        return [*head, *FLAG_ADMIN_FIELDS, *tail]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return []
        return ["tenant", "environment", "key", "created_by", "updated_by", "created_at", "updated_at"]

    def get_actions(self, request: HttpRequest) -> Any:
        # flag_delete audits each flag; the generic bulk delete would not.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request: HttpRequest, obj: FeatureFlag, form: Any, change: bool) -> None:
        if change:
            data = _changed(form, FLAG_ADMIN_FIELDS)
            if data:
                services.flag_update(flag=obj, actor=actor_of(request), data=data)
            return
        cleaned = form.cleaned_data
        created = services.flag_create(
            tenant=cleaned.get("tenant"),
            actor=actor_of(request),
            key=cleaned["key"],
            environment=cleaned["environment"],
            **{f: cleaned[f] for f in FLAG_ADMIN_FIELDS if f in cleaned},
        )
        obj.pk = created.pk
        obj._state.adding = False

    def delete_model(self, request: HttpRequest, obj: FeatureFlag) -> None:
        services.flag_delete(flag=obj, actor=actor_of(request))

    @admin.action(description="Disable selected flags (kill switch)", permissions=["change"])
    def disable_selected(self, request: HttpRequest, queryset: QuerySet[FeatureFlag]) -> None:
        done = 0
        for flag in queryset.order_by("pk"):
            if flag.enabled:
                services.flag_update(flag=flag, actor=actor_of(request), data={"enabled": False})
                done += 1
        self.message_user(request, f"Disabled {done} flag(s).", messages.SUCCESS)


@admin.register(Secret)
class SecretAdmin(ServiceAdmin):
    """The secret locker: names, providers, the last four characters at most. Never a value:
    revealing is for the tenant's admins, through the audited API."""

    list_display = [
        "name",
        "tenant",
        "team",
        "provider",
        "last_four",
        "created_at",
        "rotated_at",
        "last_revealed_at",
    ]
    list_select_related = ["tenant", "team"]
    list_filter = ["provider", ("tenant", AutocompleteSelectFilter)]
    search_fields = ["name", "provider", "tenant__name", "tenant__slug"]
    ordering = ["tenant__name", "name", "id"]
    fields = [
        "name",
        "tenant",
        "team",
        "provider",
        "description",
        "last_four",
        "created_by",
        "created_at",
        "updated_at",
        "rotated_at",
        "last_revealed_at",
        "last_revealed_by",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> Any:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def delete_model(self, request: HttpRequest, obj: Secret) -> None:
        services.secret_delete(secret=obj, actor=actor_of(request))
