"""The back office for memberships and roles (accounts.Role; here, next to the services that
write them): change a member's role or team, remove a member; create, edit and delete custom
roles. Memberships are added only by tenant creation, sign-up and invites."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from unfold.contrib.filters.admin import AutocompleteSelectFilter
from unfold.decorators import display
from unfold.widgets import UnfoldAdminCheckboxSelectMultipleWidget

from accounts import permissions as registry
from accounts.models import Role
from tenants import selectors, services
from tenants.admin.common import ServiceAdmin, actor_of, changed_fields
from tenants.models import Membership, Team

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

    def get_queryset(self, request: HttpRequest) -> QuerySet[Membership]:
        # The page's title is the membership's __str__: the e-mail and tenant name.
        return super().get_queryset(request).select_related("user", "tenant", "role", "team")

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
            data = changed_fields(form, ROLE_FIELDS)
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
