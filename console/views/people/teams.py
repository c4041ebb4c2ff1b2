"""A tenant's teams: create, rename, delete; a team's members added and taken out."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from console.access import render_page, tenant_page
from console.forms import show_domain_error
from console.forms_people import (
    TeamForm,
    TeamMemberForm,
)
from console.views.people.common import (
    Page,
    _actor,
    _answer,
    _may,
    _membership,
    _not_found,
    actor_rank,
)
from core.access import TenantAccess
from core.errors import DomainError
from tenants import selectors as tenant_selectors
from tenants import services as tenant_services
from tenants.models import Team

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
