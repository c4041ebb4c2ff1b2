"""A tenant's agents (issue 13): the list the caller may see (agents.selectors.agent_list, the
API's visibility: owners and admins all, others their team's and those shared with them) with a
status filter and the creation form (from a published template or from scratch); one agent
with its skills and recent sessions (own and tree cost), pause and resume with a reason.

Guards are the API's: agents:read to see, agents:write to create, pause and resume; pausing or
resuming also needs the agent's change_agent visibility (agents.selectors.agent_get), so an
agent the caller may not change answers 404 as in the API. Writes call agents.services; their
refusals (limits and slots 422, illegal transitions 409) are shown in place with their status.
"""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path

from accounts.models import User
from agents import selectors, services
from agents.models import AGENT_TRANSITIONS, Agent, AgentStatus
from console.access import refusal_page, render_page, tenant_page
from console.agent_channels import channels_context
from console.agent_telemetry import telemetry_context
from console.forms import show_domain_error
from console.forms_agents import AgentCreateForm, AgentFilterForm, PauseForm, ResumeForm
from core.access import TenantAccess
from core.errors import DomainError
from tenants import selectors as tenant_selectors

AGENTS = "console/agents/agents.html"
AGENT = "console/agents/agent.html"
RECENT_SESSIONS = 20


def _actor(request: HttpRequest) -> User:
    return cast(User, request.user)


def _may_write(access: TenantAccess) -> bool:
    return access.allows("agents:write") and not access.tenant.is_suspended


def _create_form(access: TenantAccess, data: Any = None, *, template: str = "") -> AgentCreateForm:
    templates = list(selectors.template_list(published_only=not access.staff).order_by("name"))
    teams = list(tenant_selectors.team_list(tenant=access.tenant))
    form = AgentCreateForm(data, templates=templates, teams=teams)
    if template in form.templates:  # `?template=<id>` from the templates page: chosen already
        form.initial["template"] = template
    return form


def agents_context(
    access: TenantAccess, request: HttpRequest, *, form: AgentCreateForm | None = None
) -> dict[str, Any]:
    filters = AgentFilterForm(request.GET or None)
    status = filters.cleaned_data["status"] if filters.is_valid() else ""
    context: dict[str, Any] = {
        "agents": list(selectors.agent_list(access=access, filters={"status": status})),
        "filters": filters,
        "status": status,
        "sees_all": selectors.sees_every_agent(access),
        "may_write": _may_write(access),
    }
    if context["may_write"]:
        context["form"] = form or _create_form(access, template=request.GET.get("template", "")[:64])
    return context


@tenant_page("agents:read")
def agents(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    """The agents the caller may see, filtered by status; create one (agents:write)."""
    context = agents_context(access, request)
    status = 400 if context["filters"].is_bound and not context["filters"].is_valid() else 200
    return render_page(request, AGENTS, context, access=access, status=status)


@tenant_page("agents:write", methods=("POST",))
def agent_create(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    form = _create_form(access, request.POST)
    if not form.is_valid():
        context = agents_context(access, request, form=form)
        return render_page(request, AGENTS, context, access=access, status=400)
    try:
        agent = services.agent_create(
            tenant=access.tenant, actor=_actor(request), template=form.chosen_template(), data=form.values()
        )
    except DomainError as exc:
        show_domain_error(form, exc)
        context = agents_context(access, request, form=form)
        return render_page(request, AGENTS, context, access=access, status=exc.status_code)
    messages.success(request, f"Created the agent {agent.name}.")
    return redirect("console:agent", tenant_id=access.tenant.pk, agent_id=agent.pk)


def _not_found(request: HttpRequest) -> HttpResponse:
    return refusal_page(request, status=404, detail="There is no such agent in this tenant.")


def agent_context(
    access: TenantAccess,
    agent: Agent,
    *,
    pause_form: PauseForm | None = None,
    resume_form: ResumeForm | None = None,
) -> dict[str, Any]:
    sessions = selectors.session_list(access=access, filters={"agent": agent.pk}).select_related("root")[
        :RECENT_SESSIONS
    ]
    may_change = (
        _may_write(access)
        and selectors.agent_get(access=access, agent_id=agent.pk, codename="change_agent") is not None
    )
    return {
        "agent": agent,
        "installations": list(selectors.installation_list(agent=agent).order_by("skill__name")),
        "sessions": list(sessions),
        "may_pause": may_change and AgentStatus.PAUSED in AGENT_TRANSITIONS.get(agent.status, frozenset()),
        "may_resume": may_change and agent.status == AgentStatus.PAUSED,
        "pause_form": pause_form or PauseForm(),
        "resume_form": resume_form or ResumeForm(),
        **telemetry_context(access, agent),  # activity, metrics_chart, cost_chart, metrics_totals
        **channels_context(access, agent, may_change=may_change),  # channels, channel_form
    }


@tenant_page("agents:read")
def agent(request: HttpRequest, access: TenantAccess, agent_id: UUID) -> HttpResponse:
    """One agent: status, skills, recent sessions; pause or resume it with a reason."""
    found = selectors.agent_get(access=access, agent_id=agent_id)
    if found is None:
        return _not_found(request)
    return render_page(request, AGENT, agent_context(access, found), access=access)


def _changeable(access: TenantAccess, agent_id: UUID) -> Agent | None:
    return selectors.agent_get(access=access, agent_id=agent_id, codename="change_agent")


@tenant_page("agents:write", methods=("POST",))
def agent_pause(request: HttpRequest, access: TenantAccess, agent_id: UUID) -> HttpResponse:
    found = _changeable(access, agent_id)
    if found is None:
        return _not_found(request)
    form = PauseForm(request.POST)
    if not form.is_valid():
        return render_page(
            request, AGENT, agent_context(access, found, pause_form=form), access=access, status=400
        )
    try:
        services.agent_pause(agent=found, actor=_actor(request), reason=form.cleaned_data["reason"])
    except DomainError as exc:  # the status machine's 409: the form may no longer be shown
        context = {**agent_context(access, found), "error": exc.detail}
        return render_page(request, AGENT, context, access=access, status=exc.status_code)
    messages.success(request, f"Paused {found.name}.")
    return redirect("console:agent", tenant_id=access.tenant.pk, agent_id=found.pk)


@tenant_page("agents:write", methods=("POST",))
def agent_resume(request: HttpRequest, access: TenantAccess, agent_id: UUID) -> HttpResponse:
    found = _changeable(access, agent_id)
    if found is None:
        return _not_found(request)
    form = ResumeForm(request.POST)
    if not form.is_valid():
        context = agent_context(access, found, resume_form=form)
        return render_page(request, AGENT, context, access=access, status=400)
    try:
        services.agent_resume(agent=found, actor=_actor(request), reason=form.cleaned_data["reason"])
    except DomainError as exc:  # the status machine's 409: the form may no longer be shown
        context = {**agent_context(access, found), "error": exc.detail}
        return render_page(request, AGENT, context, access=access, status=exc.status_code)
    messages.success(request, f"Resumed {found.name}: idle until it works again.")
    return redirect("console:agent", tenant_id=access.tenant.pk, agent_id=found.pk)


TENANT = "t/<uuid:tenant_id>/"
urlpatterns = [
    path(f"{TENANT}agents/", agents, name="agents"),
    path(f"{TENANT}agents/new/", agent_create, name="agent_create"),
    path(f"{TENANT}agents/<uuid:agent_id>/", agent, name="agent"),
    path(f"{TENANT}agents/<uuid:agent_id>/pause/", agent_pause, name="agent_pause"),
    path(f"{TENANT}agents/<uuid:agent_id>/resume/", agent_resume, name="agent_resume"),
]
