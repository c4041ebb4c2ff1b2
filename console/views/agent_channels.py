"""An agent's channels (slack, email, web) on its console page (issue 13): listed with the name
of the secret each names (never its value), added and removed through agents.services.channels
(config checked per type, inline credentials refused, audited), the secret chosen among the
tenant's secrets the caller may see (tenants.selectors.secret_visibility, as the API).

Guards are the API's: agents:read and the agent's visibility to see them (the agent page's own
guard), agents:write plus the agent's change_agent to add and remove; an agent or channel the
caller may not change answers 404. The agent page includes `console/agents/_channels.html` and
takes `channels_context` into its context.
"""

from __future__ import annotations

from typing import cast
from uuid import UUID

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path

from accounts.models import User
from agents import selectors
from agents.models import Agent
from agents.services.channels import channel_create, channel_delete
from console.access import refusal_page, render_page, tenant_page
from console.agent_channels import channels_context, secret_choices
from console.forms import show_domain_error
from console.forms_channels import ChannelForm
from console.views.agents import AGENT, agent_context
from core.access import TenantAccess
from core.errors import DomainError


def _changeable(access: TenantAccess, agent_id: UUID) -> Agent | None:
    return selectors.agent_get(access=access, agent_id=agent_id, codename="change_agent")


def _missing(request: HttpRequest, what: str) -> HttpResponse:
    return refusal_page(request, status=404, detail=f"There is no such {what} in this tenant.")


@tenant_page("agents:write", methods=("POST",))
def channel_add(request: HttpRequest, access: TenantAccess, agent_id: UUID) -> HttpResponse:
    """Give the agent a channel of a type it has none of."""
    agent = _changeable(access, agent_id)
    if agent is None:
        return _missing(request, "agent")
    form = ChannelForm(request.POST, secrets=secret_choices(access))
    status = 400
    if form.is_valid():
        try:
            channel = channel_create(
                agent=agent,
                actor=cast(User, request.user),
                type=form.cleaned_data["type"],
                config=form.config(),
                secret=form.chosen_secret(),
            )
        except DomainError as exc:  # a config for another type, an inline credential, a second slack
            show_domain_error(form, exc)
            status = exc.status_code
        else:
            messages.success(request, f"Added a {channel.get_type_display()} channel to {agent.name}.")
            return redirect("console:agent", tenant_id=access.tenant.pk, agent_id=agent.pk)
    context = {**agent_context(access, agent), **channels_context(access, agent, may_change=True, form=form)}
    return render_page(request, AGENT, context, access=access, status=status)


@tenant_page("agents:write", methods=("POST",))
def channel_remove(
    request: HttpRequest, access: TenantAccess, agent_id: UUID, channel_id: UUID
) -> HttpResponse:
    agent = _changeable(access, agent_id)
    channel = selectors.channel_list(agent=agent).filter(pk=channel_id).first() if agent else None
    if agent is None or channel is None:
        return _missing(request, "channel")
    channel_delete(channel=channel, actor=cast(User, request.user))
    messages.success(request, f"Removed the {channel.get_type_display()} channel of {agent.name}.")
    return redirect("console:agent", tenant_id=access.tenant.pk, agent_id=agent.pk)


AGENT_URL = "t/<uuid:tenant_id>/agents/<uuid:agent_id>/"
urlpatterns = [
    path(f"{AGENT_URL}channels/", channel_add, name="agent_channel_add"),
    path(f"{AGENT_URL}channels/<uuid:channel_id>/remove/", channel_remove, name="agent_channel_remove"),
]
