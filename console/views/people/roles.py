"""A tenant's roles: system and custom, with rank and permissions; create, edit, delete custom roles."""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from accounts.models import Role
from console.access import render_page, tenant_page
from console.forms import show_domain_error
from console.forms_people import (
    RoleForm,
    permission_groups,
)
from console.views.people.common import (
    _actor,
    _may,
    _not_found,
    _posted,
    actor_rank,
)
from core.access import TenantAccess
from core.errors import DomainError
from tenants import selectors as tenant_selectors
from tenants import services as tenant_services

# --- Roles ------------------------------------------------------------------------------------

ROLES = "console/people/roles.html"
ROLE_FORM = "console/people/role_form.html"


@tenant_page("roles:read")
def roles(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    """System and custom roles with rank and permissions; custom ones can be made and changed."""
    rows = list(tenant_selectors.role_list(tenant=access.tenant))
    rank = actor_rank(access)
    context = {
        "roles": [
            {
                "role": role,
                "groups": _grouped(role.permissions),
                "editable": not role.is_system and role.rank <= rank and _may(access, "roles:write"),
                "deletable": not role.is_system and role.rank <= rank and _may(access, "roles:delete"),
            }
            for role in rows
        ],
        "may_create": _may(access, "roles:write"),
        "custom_count": sum(1 for role in rows if not role.is_system),
    }
    return render_page(request, ROLES, context, access=access)


def _grouped(keys: list[str]) -> list[tuple[str, list[str]]]:
    """A role's permissions as (resource, [actions]) in the registry's order."""
    held = set(keys)
    groups: dict[str, list[str]] = {}
    for group in permission_groups():
        actions = [p["action"] for p in group["permissions"] if p["key"] in held]
        if actions:
            groups[group["resource"]] = actions
    return list(groups.items())


def _role_form_page(
    request: HttpRequest, access: TenantAccess, form: RoleForm, *, role: Role | None, status: int = 200
) -> HttpResponse:
    selected = _posted(form, "permissions") if form.is_bound else (role.permissions if role else [])
    context = {
        "form": form,
        "role": role,
        "groups": permission_groups(selected=selected, held=access.permissions),
        "rank": actor_rank(access),
    }
    return render_page(request, ROLE_FORM, context, access=access, status=status)


@tenant_page("roles:write", methods=("GET", "POST"))
def role_create(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    """A new custom role: permissions only among those one holds, ranked no higher."""
    if request.method != "POST":
        return _role_form_page(request, access, RoleForm(initial={"rank": 15}), role=None)
    form = RoleForm(request.POST)
    if not form.is_valid():
        return _role_form_page(request, access, form, role=None, status=400)
    data = form.cleaned_data
    try:
        role = tenant_services.role_create(
            tenant=access.tenant,
            actor=_actor(request),
            name=data["name"],
            slug=data["slug"],
            description=data["description"],
            permissions=list(data["permissions"]),
            rank=data["rank"],
        )
    except DomainError as exc:
        show_domain_error(form, exc)
        return _role_form_page(request, access, form, role=None, status=exc.status_code)
    messages.success(request, f"Created the role {role.name}.")
    return redirect("console:roles", tenant_id=access.tenant.pk)


def _custom_role(access: TenantAccess, role_id: UUID) -> Role | None:
    role = tenant_selectors.role_get(tenant=access.tenant, role_id=role_id)
    return None if role is None or role.is_system else role


@tenant_page("roles:write", methods=("GET", "POST"))
def role_edit(request: HttpRequest, access: TenantAccess, role_id: UUID) -> HttpResponse:
    """Change a custom role (not a system one; not one ranked above oneself)."""
    role = _custom_role(access, role_id)
    if role is None:
        return _not_found(request, "custom role")
    if request.method != "POST":
        initial = {k: getattr(role, k) for k in ("name", "slug", "description", "rank", "permissions")}
        return _role_form_page(request, access, RoleForm(initial=initial), role=role)
    form = RoleForm(request.POST)
    if not form.is_valid():
        return _role_form_page(request, access, form, role=role, status=400)
    data = form.cleaned_data
    changes = {
        "name": data["name"],
        "description": data["description"],
        "rank": data["rank"],
        "permissions": list(data["permissions"]),
    }
    try:
        role = tenant_services.role_update(role=role, actor=_actor(request), data=changes)
    except DomainError as exc:
        show_domain_error(form, exc)
        return _role_form_page(request, access, form, role=role, status=exc.status_code)
    messages.success(request, f"Saved the role {role.name}.")
    return redirect("console:roles", tenant_id=access.tenant.pk)


@tenant_page("roles:delete", methods=("POST",))
def role_delete(request: HttpRequest, access: TenantAccess, role_id: UUID) -> HttpResponse:
    """Delete a custom role no member holds and no pending invite names."""
    role = _custom_role(access, role_id)
    if role is None:
        return _not_found(request, "custom role")
    try:
        tenant_services.role_delete(role=role, actor=_actor(request))
    except DomainError as exc:
        messages.error(request, f"The role {role.name} was not deleted: {exc.detail}")
        return redirect("console:roles", tenant_id=access.tenant.pk)
    messages.success(request, f"Deleted the role {role.name}.")
    return redirect("console:roles", tenant_id=access.tenant.pk)
