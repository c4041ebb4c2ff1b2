"""People and access in a tenant: members, invites, roles, teams, API keys; and the signed-in
user's own sessions (devices).

Each page is a GET guarded by the permission the API's list needs; each action is a POST of its
own, guarded by the permission the API's write needs (members:write to change a role or a team,
members:delete to remove, invites:write, roles:write/delete, teams:write/delete,
api_keys:write), and calls the same service. The services decide the rest (rank rules,
permissions one holds, the last owner, limits); their refusals are shown in place, with their
status. Without JavaScript an action answers with a redirect to its page and a message (or the
page with the error); with htmx, the members list, a team's members and the invites list are
swapped in place.

A new API key's secret is shown once: the creation redirects to a page that takes it out of the
session (where it waited, encrypted, for that one request) and shows it; a reload finds nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, cast
from uuid import UUID

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_http_methods
from django_htmx.http import retarget

from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts.models import ApiKey, Role, User
from accounts.services import api_keys as api_key_services
from console.access import refusal_page, render_page, tenant_page, user_page
from console.forms import show_domain_error
from console.forms_people import (
    NO_TEAM,
    ApiKeyForm,
    InviteForm,
    MemberForm,
    RoleForm,
    TeamForm,
    TeamMemberForm,
    permission_groups,
)
from core import crypto
from core.access import TenantAccess
from core.errors import DomainError
from tenants import selectors as tenant_selectors
from tenants import services as tenant_services
from tenants.models import InviteStatus, Membership, Team
from tenants.selectors.people import member_rows

NEW_KEYS_SESSION_KEY = "qm_console_new_api_keys"  # api key id -> its secret, encrypted, until shown


# --- Shared -----------------------------------------------------------------------------------


def _actor(request: HttpRequest) -> User:
    return cast(User, request.user)


def _is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _may(access: TenantAccess, permission: str) -> bool:
    """Whether the caller may press a button needing `permission`: the gate's answer, and no
    write at all in a suspended tenant (the gate refuses those)."""
    return access.allows(permission) and not access.tenant.is_suspended


def actor_rank(access: TenantAccess) -> int:
    """The caller's rank here, as tenants.services.actor_rank reckons it, from the gate's answer
    (no query): platform admins above all, else their role's rank, else nothing."""
    if access.user.is_platform_admin:
        return tenant_services.PLATFORM_ADMIN_RANK
    return int(access.membership.role.rank) if access.membership is not None else 0


def grantable_roles(roles: list[Role], access: TenantAccess) -> list[Role]:
    """The roles the caller may hand out: ranked no higher, holding nothing the caller lacks
    (the services check it again; this only spares people a refused choice)."""
    rank = actor_rank(access)
    return [role for role in roles if role.rank <= rank and set(role.permissions) <= access.permissions]


@dataclass(frozen=True)
class Page:
    """Where an action answers: the page's template, how to build its context, its URL name
    (and arguments beyond the tenant) and the partial htmx swaps."""

    template: str
    build: Callable[[], dict[str, Any]]
    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    partial: str | None = None


def _answer(
    request: HttpRequest,
    access: TenantAccess,
    page: Page,
    *,
    status: int = 200,
    notice: str = "",
    error: str = "",
) -> HttpResponse:
    """An action's answer. htmx: the page's partial alone, with the notice or error in it.
    Otherwise: a success redirects to the page (the notice as a message); a refusal renders the
    page with the error, with its status."""
    if _is_htmx(request) and page.partial:
        context = {**page.build(), "notice": notice, "error": error}
        return render_page(request, f"{page.template}#{page.partial}", context, access=access, status=status)
    if status < 400:
        if notice:
            messages.success(request, notice)
        return redirect(f"console:{page.name}", tenant_id=access.tenant.pk, **page.kwargs)
    return render_page(request, page.template, {**page.build(), "error": error}, access=access, status=status)


def _posted(form: forms.Form, name: str) -> list[str]:
    """The values a bound form received for a multiple-choice field (kept on a refused form)."""
    return [str(value) for value in form.data.getlist(name)] if form.is_bound else []  # type: ignore[attr-defined]  # a QueryDict


def _not_found(request: HttpRequest, what: str) -> HttpResponse:
    return refusal_page(request, status=404, detail=f"There is no such {what} in this tenant.")


# --- Members ----------------------------------------------------------------------------------

MEMBERS = "console/people/members.html"


def members_context(
    access: TenantAccess,
    request: HttpRequest,
    *,
    failed: UUID | None = None,
    failed_form: MemberForm | None = None,
) -> dict[str, Any]:
    tenant = access.tenant
    query = request.GET.get("q", "").strip()[:100].replace("\x00", "")
    rows = list(member_rows(tenant=tenant, filters={"q": query}))
    roles = list(tenant_selectors.role_list(tenant=tenant))
    teams = list(tenant_selectors.team_list(tenant=tenant))
    grantable = grantable_roles(roles, access)
    rank = actor_rank(access)
    may_write, may_delete = _may(access, "members:write"), _may(access, "members:delete")
    members = []
    for row in rows:
        above = row.role.rank > rank
        form = None
        if may_write and not above:
            choices = grantable if row.role in grantable else [row.role, *grantable]
            if failed_form is not None and row.pk == failed:
                form = failed_form
            else:
                initial = {"role": str(row.role_id), "team": str(row.team_id or NO_TEAM)}
                form = MemberForm(roles=choices, teams=teams, initial=initial, prefix=f"m-{row.pk}")
        members.append(
            {
                "row": row,
                "form": form,
                "removable": may_delete and not above,
                "you": row.user_id == access.user.pk,
                "failed": row.pk == failed,
            }
        )
    return {"members": members, "q": query, "teams": teams}


@tenant_page("members:read")
def members(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    """The tenant's members: role, team, two-factor state, last seen; change a role or team,
    remove someone (within one's rank)."""
    return render_page(request, MEMBERS, members_context(access, request), access=access)


def _membership(access: TenantAccess, membership_id: UUID) -> Membership | None:
    return tenant_selectors.member_list(tenant=access.tenant).filter(pk=membership_id).first()


@tenant_page("members:write", methods=("POST",))
def member_update(request: HttpRequest, access: TenantAccess, membership_id: UUID) -> HttpResponse:
    """Change a member's role and team (members:write, as the API's PATCH)."""
    membership = _membership(access, membership_id)
    if membership is None:
        return _not_found(request, "member")
    tenant = access.tenant
    roles = list(tenant_selectors.role_list(tenant=tenant))
    teams = list(tenant_selectors.team_list(tenant=tenant))
    form = MemberForm(request.POST, roles=roles, teams=teams, prefix=f"m-{membership.pk}")

    def build() -> dict[str, Any]:
        return members_context(access, request, failed=membership.pk, failed_form=form)

    answer = Page(MEMBERS, build, "members", partial="list")
    if not form.is_valid():
        return _answer(request, access, answer, status=400)
    role = next(r for r in roles if str(r.pk) == form.cleaned_data["role"])
    team_id = form.cleaned_data["team"]
    team = next((t for t in teams if str(t.pk) == team_id), None)
    try:
        tenant_services.member_update(
            membership=membership, actor=_actor(request), role=role, team=team, clear_team=team is None
        )
    except DomainError as exc:
        show_domain_error(form, exc, field="role")
        return _answer(request, access, answer, status=exc.status_code)
    notice = f"{membership.user.email} is now {role.name}{f' in {team.name}' if team else ''}."
    return _answer(
        request, access, replace(answer, build=lambda: members_context(access, request)), notice=notice
    )


@tenant_page("members:delete", methods=("POST",))
def member_remove(request: HttpRequest, access: TenantAccess, membership_id: UUID) -> HttpResponse:
    """Remove a member (members:delete, as the API's DELETE)."""
    membership = _membership(access, membership_id)
    if membership is None:
        return _not_found(request, "member")
    answer = Page(MEMBERS, lambda: members_context(access, request), "members", partial="list")
    try:
        tenant_services.member_remove(membership=membership, actor=_actor(request))
    except DomainError as exc:
        return _answer(request, access, answer, status=exc.status_code, error=exc.detail)
    return _answer(request, access, answer, notice=f"Removed {membership.user.email} from the tenant.")


# --- Invites ----------------------------------------------------------------------------------

INVITES = "console/people/invites.html"


def invites_context(
    access: TenantAccess, request: HttpRequest, *, form: InviteForm | None = None
) -> dict[str, Any]:
    tenant = access.tenant
    wanted = request.GET.get("status", "")
    status = wanted if wanted in InviteStatus.values else ""
    invites = list(tenant_selectors.invite_list(tenant=tenant, status=status or None))
    context: dict[str, Any] = {
        "invites": invites,
        "status": status,
        "statuses": InviteStatus.choices,
        "may_write": _may(access, "invites:write"),
    }
    if context["may_write"]:
        roles = grantable_roles(list(tenant_selectors.role_list(tenant=tenant)), access)
        teams = list(tenant_selectors.team_list(tenant=tenant))
        member_role = next((r for r in roles if r.slug == "member" and r.is_system), None)
        initial = {"role": str(member_role.pk)} if member_role else {}
        context["form"] = form or InviteForm(roles=roles, teams=teams, initial=initial)
    return context


@tenant_page("invites:read")
def invites(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    """The tenant's invites by status; invite someone, revoke a pending invite."""
    return render_page(request, INVITES, invites_context(access, request), access=access)


@tenant_page("invites:write", methods=("POST",))
def invite_create(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    """Invite someone by e-mail with a role (and a team): the invite e-mail carries the link."""
    tenant = access.tenant
    roles = list(tenant_selectors.role_list(tenant=tenant))
    teams = list(tenant_selectors.team_list(tenant=tenant))
    form = InviteForm(request.POST, roles=grantable_roles(roles, access), teams=teams)
    answer = Page(
        INVITES, lambda: invites_context(access, request, form=form), "invites", partial="invite_form"
    )
    if not form.is_valid():
        return _answer(request, access, answer, status=400)
    role = next(r for r in roles if str(r.pk) == form.cleaned_data["role"])
    team = next((t for t in teams if str(t.pk) == form.cleaned_data["team"]), None)
    try:
        invite, _token = tenant_services.invite_create(
            tenant=tenant, actor=_actor(request), email=form.cleaned_data["email"], role=role, team=team
        )
    except DomainError as exc:
        show_domain_error(form, exc, field="email")
        return _answer(request, access, answer, status=exc.status_code)
    notice = f"Invited {invite.email} as {role.name}: the invite e-mail is on its way."
    # The list changes as well as the form: htmx gets both, in place of both.
    answer = replace(answer, build=lambda: invites_context(access, request), partial="invites_main")
    response = _answer(request, access, answer, notice=notice)
    return retarget(response, "#invites-main") if _is_htmx(request) else response


@tenant_page("invites:write", methods=("POST",))
def invite_revoke(request: HttpRequest, access: TenantAccess, invite_id: UUID) -> HttpResponse:
    """Revoke a pending invite: its link stops working at once."""
    invite = tenant_selectors.invite_list(tenant=access.tenant).filter(pk=invite_id).first()
    if invite is None:
        return _not_found(request, "invite")
    answer = Page(INVITES, lambda: invites_context(access, request), "invites", partial="invites_main")
    try:
        tenant_services.invite_revoke(invite=invite, actor=_actor(request))
    except DomainError as exc:
        return _answer(request, access, answer, status=exc.status_code, error=exc.detail)
    return _answer(request, access, answer, notice=f"Revoked the invite to {invite.email}.")


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


# --- Teams ------------------------------------------------------------------------------------

TEAMS = "console/people/teams.html"
TEAM = "console/people/team.html"


def teams_context(access: TenantAccess, *, form: TeamForm | None = None) -> dict[str, Any]:
    return {
        "teams": list(tenant_selectors.team_list(tenant=access.tenant)),
        "form": form or TeamForm(),
        "may_write": _may(access, "teams:write"),
        "may_delete": _may(access, "teams:delete"),
    }


@tenant_page("teams:read")
def teams(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    """The tenant's teams with their member counts; create, rename, delete."""
    return render_page(request, TEAMS, teams_context(access), access=access)


@tenant_page("teams:write", methods=("POST",))
def team_create(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    form = TeamForm(request.POST)
    answer = Page(TEAMS, lambda: teams_context(access, form=form), "teams")
    if not form.is_valid():
        return _answer(request, access, answer, status=400)
    try:
        team = tenant_services.team_create(
            tenant=access.tenant,
            actor=_actor(request),
            name=form.cleaned_data["name"],
            description=form.cleaned_data["description"],
        )
    except DomainError as exc:
        show_domain_error(form, exc, field="name")
        return _answer(request, access, answer, status=exc.status_code)
    return _answer(request, access, answer, notice=f"Created the team {team.name}.")


def _team(access: TenantAccess, team_id: UUID) -> Team | None:
    return tenant_selectors.team_get(tenant=access.tenant, team_id=team_id)


@tenant_page("teams:write", methods=("POST",))
def team_rename(request: HttpRequest, access: TenantAccess, team_id: UUID) -> HttpResponse:
    team = _team(access, team_id)
    if team is None:
        return _not_found(request, "team")
    form = TeamForm(request.POST, prefix=f"t-{team.pk}")
    answer = Page(TEAMS, lambda: teams_context(access), "teams")
    if not form.is_valid():
        error = "; ".join(
            f"{form.fields[name].label}: {' '.join(map(str, errs))}" for name, errs in form.errors.items()
        )
        return _answer(request, access, answer, status=400, error=f"{team.name} was not renamed. {error}")
    old = team.name
    try:
        team = tenant_services.team_update(
            team=team,
            actor=_actor(request),
            data={"name": form.cleaned_data["name"], "description": form.cleaned_data["description"]},
        )
    except DomainError as exc:
        return _answer(request, access, answer, status=exc.status_code, error=exc.detail)
    return _answer(request, access, answer, notice=f"Saved the team {team.name} (was {old}).")


@tenant_page("teams:delete", methods=("POST",))
def team_delete(request: HttpRequest, access: TenantAccess, team_id: UUID) -> HttpResponse:
    team = _team(access, team_id)
    if team is None:
        return _not_found(request, "team")
    tenant_services.team_delete(team=team, actor=_actor(request))
    messages.success(
        request, f"Deleted the team {team.name}; its members stay in the tenant, without a team."
    )
    return redirect("console:teams", tenant_id=access.tenant.pk)


def team_context(access: TenantAccess, team: Team, *, form: TeamMemberForm | None = None) -> dict[str, Any]:
    context: dict[str, Any] = {"team": team, "may_write": _may(access, "members:write")}
    if access.allows("members:read"):
        everyone = list(tenant_selectors.member_list(tenant=access.tenant))
        rank = actor_rank(access)
        context["members"] = [
            {"row": row, "removable": context["may_write"] and row.role.rank <= rank}
            for row in everyone
            if row.team_id == team.pk
        ]
        others = [row for row in everyone if row.team_id != team.pk and row.role.rank <= rank]
        if context["may_write"] and others:
            context["form"] = form or TeamMemberForm(memberships=others)
    return context


@tenant_page("teams:read")
def team(request: HttpRequest, access: TenantAccess, team_id: UUID) -> HttpResponse:
    """One team: its members; add one, take one out (members:write, as the API's member PATCH)."""
    found = _team(access, team_id)
    if found is None:
        return _not_found(request, "team")
    return render_page(request, TEAM, team_context(access, found), access=access)


@tenant_page("members:write", methods=("POST",))
def team_member_add(request: HttpRequest, access: TenantAccess, team_id: UUID) -> HttpResponse:
    found = _team(access, team_id)
    if found is None:
        return _not_found(request, "team")
    everyone = list(tenant_selectors.member_list(tenant=access.tenant))
    form = TeamMemberForm(request.POST, memberships=everyone)
    answer = Page(
        TEAM, lambda: team_context(access, found, form=form), "team", {"team_id": found.pk}, "team_members"
    )
    if not form.is_valid():
        return _answer(request, access, answer, status=400)
    membership = next(row for row in everyone if str(row.pk) == form.cleaned_data["membership"])
    try:
        tenant_services.member_update(membership=membership, actor=_actor(request), team=found)
    except DomainError as exc:
        show_domain_error(form, exc, field="membership")
        return _answer(request, access, answer, status=exc.status_code)
    answer = replace(answer, build=lambda: team_context(access, found))
    return _answer(request, access, answer, notice=f"Added {membership.user.email} to {found.name}.")


@tenant_page("members:write", methods=("POST",))
def team_member_remove(
    request: HttpRequest, access: TenantAccess, team_id: UUID, membership_id: UUID
) -> HttpResponse:
    found = _team(access, team_id)
    membership = _membership(access, membership_id)
    if found is None or membership is None or membership.team_id != found.pk:
        return _not_found(request, "team member")
    answer = Page(TEAM, lambda: team_context(access, found), "team", {"team_id": found.pk}, "team_members")
    try:
        tenant_services.member_update(membership=membership, actor=_actor(request), clear_team=True)
    except DomainError as exc:
        return _answer(request, access, answer, status=exc.status_code, error=exc.detail)
    return _answer(request, access, answer, notice=f"Took {membership.user.email} out of {found.name}.")


# --- API keys ---------------------------------------------------------------------------------

API_KEYS = "console/people/api_keys.html"
API_KEY_FORM = "console/people/api_key_form.html"
API_KEY_CREATED = "console/people/api_key_created.html"


def _key_status(key: ApiKey, now: Any) -> str:
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= now:
        return "expired"
    return "active"


@tenant_page("api_keys:read")
def api_keys(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    """The tenant's API keys: prefix, scopes, last use, expiry, status; revoke one."""
    now = timezone.now()
    may_write = _may(access, "api_keys:write")
    may_admin = access.allows("api_keys:admin")
    keys = [
        {
            "key": key,
            "status": _key_status(key, now),
            "revocable": key.revoked_at is None
            and may_write
            and (may_admin or key.created_by_id == access.user.pk),
        }
        for key in account_selectors.api_key_list(tenant=access.tenant)
    ]
    context = {"keys": keys, "may_create": may_write}
    return render_page(request, API_KEYS, context, access=access)


def _key_context(key_id: Any, tenant_id: Any) -> crypto.Context:
    # Bound to this tenant and key: a token moved to another key or tenant does not decrypt.
    return crypto.Context(tenant_id=tenant_id, table="console_session", field="new_api_key", row_id=key_id)


def _api_key_form_page(
    request: HttpRequest, access: TenantAccess, form: ApiKeyForm, *, status: int = 200
) -> HttpResponse:
    selected = _posted(form, "scopes")
    context = {
        "form": form,
        "groups": permission_groups(selected=selected, held=access.permissions),
    }
    return render_page(request, API_KEY_FORM, context, access=access, status=status)


@tenant_page("api_keys:write", methods=("GET", "POST"))
def api_key_create(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    """A new key: name, scopes (among one's own permissions), expiry, IP allow-list."""
    if request.method != "POST":
        return _api_key_form_page(request, access, ApiKeyForm(held=access.permissions))
    form = ApiKeyForm(request.POST, held=access.permissions)
    if not form.is_valid():
        return _api_key_form_page(request, access, form, status=400)
    data = form.cleaned_data
    try:
        api_key, raw_key = api_key_services.api_key_create(
            tenant=access.tenant,
            actor=_actor(request),
            name=data["name"],
            scopes=data["scopes"],
            allowed_ips=data["allowed_ips"],
            rate_limit_per_minute=data["rate_limit_per_minute"],
            expires_at=data["expires_at"],
            actor_permissions=access.permissions,
        )
    except DomainError as exc:
        show_domain_error(form, exc, field="name")
        return _api_key_form_page(request, access, form, status=exc.status_code)
    waiting = dict(request.session.get(NEW_KEYS_SESSION_KEY, {}))
    waiting[str(api_key.pk)] = crypto.encrypt_text(
        raw_key, context=_key_context(api_key.pk, access.tenant.pk)
    )
    request.session[NEW_KEYS_SESSION_KEY] = waiting
    return redirect("console:api_key_created", tenant_id=access.tenant.pk, api_key_id=api_key.pk)


@tenant_page("api_keys:write")
def api_key_created(request: HttpRequest, access: TenantAccess, api_key_id: UUID) -> HttpResponse:
    """The new key's secret, this once: taken out of the session as it is shown."""
    api_key = account_selectors.api_key_get(tenant=access.tenant, api_key_id=api_key_id)
    if api_key is None:
        return _not_found(request, "API key")
    waiting = dict(request.session.get(NEW_KEYS_SESSION_KEY, {}))
    token = waiting.pop(str(api_key.pk), None)
    raw_key = ""
    if token is not None:
        request.session[NEW_KEYS_SESSION_KEY] = waiting
        try:
            raw_key = crypto.decrypt_text(token, context=_key_context(api_key.pk, access.tenant.pk))
        except crypto.CryptoError:
            raw_key = ""
    context = {"api_key": api_key, "raw_key": raw_key}
    response = render_page(request, API_KEY_CREATED, context, access=access)
    response["Cache-Control"] = "no-store"  # the key is in this page: no copy anywhere
    return response


@tenant_page("api_keys:write", methods=("POST",))
def api_key_revoke(request: HttpRequest, access: TenantAccess, api_key_id: UUID) -> HttpResponse:
    """Revoke a key: one's own with api_keys:write, anyone's with api_keys:admin (the service's rule)."""
    api_key = account_selectors.api_key_get(tenant=access.tenant, api_key_id=api_key_id)
    if api_key is None:
        return _not_found(request, "API key")
    try:
        api_key_services.api_key_revoke(
            api_key=api_key, actor=_actor(request), actor_permissions=access.permissions
        )
    except DomainError as exc:
        messages.error(request, f"{api_key.name} was not revoked: {exc.detail}")
        return redirect("console:api_keys", tenant_id=access.tenant.pk)
    messages.success(request, f"Revoked {api_key.name} ({api_key.prefix}…): its next request is refused.")
    return redirect("console:api_keys", tenant_id=access.tenant.pk)


# --- The user's own sessions ------------------------------------------------------------------

DEVICES = "console/people/devices.html"


@user_page
@require_http_methods(["GET", "POST"])
def devices(request: HttpRequest) -> HttpResponse:
    """The signed-in user's live sessions (this console, other browsers, API logins), this one
    marked; end another one, or every other one."""
    user = _actor(request)
    current = request.console_session  # type: ignore[attr-defined]  # set by user_page
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "revoke_others":
            count = account_services.sessions_revoke_all(
                user=user, reason="revoked_by_user", actor=user, keep=current
            )
            messages.success(request, f"Signed out {count} other session{'' if count == 1 else 's'}.")
            return redirect("console:devices")
        if action == "revoke":
            session_id = request.POST.get("session", "")
            try:
                session = account_selectors.session_get_own(user=user, session_id=UUID(session_id))
            except ValueError:
                session = None
            if session is None or session.pk == current.pk:
                # Another user's session answers like an unknown one; this one ends by signing out.
                messages.error(request, "There is no such session to end here.")
                return redirect("console:devices")
            account_services.session_revoke(session=session, actor=user, reason="revoked_by_user")
            messages.success(request, f"Ended the session on {session.device_name or 'an unnamed device'}.")
            return redirect("console:devices")
        messages.error(request, "Unknown action.")
        return redirect("console:devices")
    sessions = sorted(
        account_selectors.session_list_live(user=user),
        key=lambda s: (s.pk != current.pk, -s.last_used_at.timestamp()),
    )
    return render_page(request, DEVICES, {"sessions": sessions, "current": current})


TENANT = "t/<uuid:tenant_id>/"
urlpatterns = [
    path(f"{TENANT}members/", members, name="members"),
    path(f"{TENANT}members/<uuid:membership_id>/", member_update, name="member_update"),
    path(f"{TENANT}members/<uuid:membership_id>/remove/", member_remove, name="member_remove"),
    path(f"{TENANT}invites/", invites, name="invites"),
    path(f"{TENANT}invites/new/", invite_create, name="invite_create"),
    path(f"{TENANT}invites/<uuid:invite_id>/revoke/", invite_revoke, name="invite_revoke"),
    path(f"{TENANT}roles/", roles, name="roles"),
    path(f"{TENANT}roles/new/", role_create, name="role_create"),
    path(f"{TENANT}roles/<uuid:role_id>/edit/", role_edit, name="role_edit"),
    path(f"{TENANT}roles/<uuid:role_id>/delete/", role_delete, name="role_delete"),
    path(f"{TENANT}teams/", teams, name="teams"),
    path(f"{TENANT}teams/new/", team_create, name="team_create"),
    path(f"{TENANT}teams/<uuid:team_id>/", team, name="team"),
    path(f"{TENANT}teams/<uuid:team_id>/rename/", team_rename, name="team_rename"),
    path(f"{TENANT}teams/<uuid:team_id>/delete/", team_delete, name="team_delete"),
    path(f"{TENANT}teams/<uuid:team_id>/members/", team_member_add, name="team_member_add"),
    path(
        f"{TENANT}teams/<uuid:team_id>/members/<uuid:membership_id>/remove/",
        team_member_remove,
        name="team_member_remove",
    ),
    path(f"{TENANT}api-keys/", api_keys, name="api_keys"),
    path(f"{TENANT}api-keys/new/", api_key_create, name="api_key_create"),
    path(f"{TENANT}api-keys/<uuid:api_key_id>/created/", api_key_created, name="api_key_created"),
    path(f"{TENANT}api-keys/<uuid:api_key_id>/revoke/", api_key_revoke, name="api_key_revoke"),
    path("account/sessions/", devices, name="devices"),
]
