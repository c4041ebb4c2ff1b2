"""The agent page's channels panel (console/agents/_channels.html): the channels listed with the
name of the secret each names (never its value), and the form to add one for a caller who may
change the agent, its secrets those of the tenant the caller may see (the API's rule,
tenants.selectors.secret_visibility). The writes are console/views/agent_channels.py's."""

from __future__ import annotations

from typing import Any

from agents import selectors
from agents.models import Agent
from console.forms_channels import ChannelForm
from core.access import TenantAccess
from tenants import selectors as tenant_selectors


def secret_choices(access: TenantAccess) -> list[Any]:
    """The tenant's secrets the caller may see (the API's rule), by name, without their values."""
    visibility = tenant_selectors.secret_visibility(
        user=access.user, membership=access.membership, via_api_key=access.api_key is not None
    )
    return list(tenant_selectors.secret_list(tenant=access.tenant, visibility=visibility).defer("ciphertext"))


def channels_context(
    access: TenantAccess, agent: Agent, *, may_change: bool, form: ChannelForm | None = None
) -> dict[str, Any]:
    """What the agent page's channels panel shows: the channels, and the form to add one when
    the caller may change the agent (two queries; one without the form)."""
    channels = list(selectors.channel_list(agent=agent).select_related("secret").defer("secret__ciphertext"))
    context: dict[str, Any] = {"channels": channels, "may_change_channels": may_change}
    if may_change:
        context["channel_form"] = form or ChannelForm(secrets=secret_choices(access))
    return context
