"""Members and invites of a tenant: change a role or team, remove; invite, revoke."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from uuid import UUID

from django.http import HttpRequest, HttpResponse
from django_htmx.http import retarget

from console.access import render_page, tenant_page
from console.forms import show_domain_error
from console.forms_people import (
    NO_TEAM,
    InviteForm,
    MemberForm,
)
from console.views.people.common import (
    Page,
    _actor,
    _answer,
    _is_htmx,
    _may,
    _membership,
    _not_found,
    actor_rank,
    grantable_roles,
)
from core.access import TenantAccess
from core.errors import DomainError
from tenants import selectors as tenant_selectors
from tenants import services as tenant_services
from tenants.models import InviteStatus
from tenants.selectors.people import member_rows

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
