"""The skills marketplace of a tenant (issue 13): published skills (and deprecated ones, which
installations keep) by category and search, with their rating; install one on an agent the caller
may change, pinned to the version shown (agents.services.skill_install: a draft, an incompatible
role or a version that moved on is refused, the reason shown on that skill in place); the skills
installed on the agents the caller sees, uninstalled from here; rate a skill 1-5.

Guards are the API's: skills:read to see (and rate, as any signed-in user may through the API),
skills:write plus the agent's change_agent to install and uninstall; an agent or installation the
caller may not change answers as a missing one.
"""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from django.contrib import messages
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path

from accounts.models import User
from agents import selectors, services
from agents.models import Agent, Skill, SkillInstallation
from console.access import refusal_page, render_page, tenant_page
from console.forms_agents_catalogue import InstallForm, RateForm, SkillFilterForm
from core.access import TenantAccess
from core.errors import DomainError

SKILLS = "console/skills/skills.html"
PAGE_SIZE = 60


def _may_write(access: TenantAccess) -> bool:
    return access.allows("skills:write") and not access.tenant.is_suspended


def _changeable_agents(access: TenantAccess) -> list[Agent]:
    """The agents the caller may install skills on (change_agent visibility)."""
    if not _may_write(access):
        return []
    return list(
        selectors.agent_list(access=access).filter(
            selectors.agent_visibility(access, codename="change_agent")
        )
    )


def skills_context(access: TenantAccess, request: HttpRequest, **extra: Any) -> dict[str, Any]:
    filters = SkillFilterForm(request.GET or None)
    valid = filters.is_bound and filters.is_valid()
    category = filters.cleaned_data["category"] if valid else ""
    query = filters.cleaned_data["q"].strip() if valid else ""
    skills = selectors.skill_list(visible_only=True, category=category)
    if query:
        skills = skills.filter(Q(name__icontains=query) | Q(description__icontains=query))
    agents = _changeable_agents(access)
    installed = list(
        SkillInstallation.objects.filter(tenant=access.tenant.pk)
        .filter(selectors.agent_visibility(access, prefix="agent__"))
        .select_related("agent", "skill")
        .order_by("agent__name", "skill__name")
    )
    changeable = {agent.pk for agent in agents}
    errors = extra.pop("errors", {})
    shown = list(skills[:PAGE_SIZE])
    for skill in shown:  # a refusal is shown on its skill's card
        skill.refusal = errors.get(skill.pk, "")  # type: ignore[attr-defined]  # for the template only
    return {
        "skills": shown,
        "filters": filters,
        "filtered": bool(category or query),
        "agents": agents,
        "install_forms": {},
        "installed": installed,
        "changeable": changeable,
        "may_write": _may_write(access),
        "rate_form": RateForm(),
        **extra,
    }


@tenant_page("skills:read")
def skills(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    context = skills_context(access, request)
    status = 400 if context["filters"].is_bound and not context["filters"].is_valid() else 200
    return render_page(request, SKILLS, context, access=access, status=status)


def _skill(skill_id: UUID) -> Skill | None:
    return selectors.skill_list(visible_only=True).filter(pk=skill_id).first()


def _missing(request: HttpRequest, what: str) -> HttpResponse:
    return refusal_page(request, status=404, detail=f"There is no such {what} here.")


@tenant_page("skills:write", methods=("POST",))
def skill_install(request: HttpRequest, access: TenantAccess, skill_id: UUID) -> HttpResponse:
    """Install the skill, at the version the page showed, on an agent the caller may change."""
    skill = _skill(skill_id)
    if skill is None:
        return _missing(request, "skill")
    form = InstallForm(request.POST, agents=_changeable_agents(access))
    if not form.is_valid():
        context = skills_context(access, request, errors={skill.pk: "Choose one of your agents."})
        return render_page(request, SKILLS, context, access=access, status=400)
    agent = form.chosen_agent()
    try:
        services.skill_install(
            agent=agent, skill=skill, actor=cast(User, request.user), version=form.cleaned_data["version"]
        )
    except DomainError as exc:  # not published, incompatible role, version moved on, installed
        context = skills_context(access, request, errors={skill.pk: exc.detail})
        return render_page(request, SKILLS, context, access=access, status=exc.status_code)
    messages.success(request, f"Installed {skill.name} {skill.version} on {agent.name}.")
    return redirect("console:skills", tenant_id=access.tenant.pk)


@tenant_page("skills:write", methods=("POST",))
def skill_uninstall(request: HttpRequest, access: TenantAccess, installation_id: UUID) -> HttpResponse:
    installation = selectors.installation_get(
        access=access, installation_id=installation_id, codename="change_agent"
    )
    if installation is None:
        return _missing(request, "installation")
    services.skill_uninstall(installation=installation, actor=cast(User, request.user))
    messages.success(request, f"Uninstalled {installation.skill.name}.")
    return redirect("console:skills", tenant_id=access.tenant.pk)


@tenant_page("skills:read", methods=("POST",))
def skill_rate(request: HttpRequest, access: TenantAccess, skill_id: UUID) -> HttpResponse:
    """Rate a skill 1-5 (rating again replaces one's rating)."""
    skill = _skill(skill_id)
    if skill is None:
        return _missing(request, "skill")
    form = RateForm(request.POST)
    if not form.is_valid():
        context = skills_context(access, request, errors={skill.pk: "Choose 1 to 5 stars."})
        return render_page(request, SKILLS, context, access=access, status=400)
    try:
        services.skill_rate(skill=skill, user=cast(User, request.user), stars=form.cleaned_data["stars"])
    except DomainError as exc:
        context = skills_context(access, request, errors={skill.pk: exc.detail})
        return render_page(request, SKILLS, context, access=access, status=exc.status_code)
    messages.success(request, f"Rated {skill.name} {form.cleaned_data['stars']} of 5.")
    return redirect("console:skills", tenant_id=access.tenant.pk)


TENANT = "t/<uuid:tenant_id>/"
urlpatterns = [
    path(f"{TENANT}skills/", skills, name="skills"),
    path(f"{TENANT}skills/<uuid:skill_id>/install/", skill_install, name="skill_install"),
    path(f"{TENANT}skills/<uuid:skill_id>/rate/", skill_rate, name="skill_rate"),
    path(
        f"{TENANT}skills/installed/<uuid:installation_id>/uninstall/",
        skill_uninstall,
        name="skill_uninstall",
    ),
]
