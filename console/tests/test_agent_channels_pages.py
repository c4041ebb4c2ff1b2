"""An agent's channels on its console page (issue 13): listed with the secret's name (never its
value); added (config per type, a credential typed inline refused in place, the secret one of
the tenant's) and removed by those who may change the agent, audited; a viewer sees no buttons
and gets 403; another tenant's agent, channel or secret refused; query count independent of
the number of channels."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from agents.models import AgentChannel
from agents.tests.factories import AgentFactory, ChannelFactory
from audit.models import AuditLogEntry
from core.tenancy import platform_bypass
from tenants.tests.factories import SecretFactory, TeamFactory, member

pytestmark = pytest.mark.django_db

TOKEN = "xoxb-1234-really-secret"


def _page(agent: Any) -> str:
    return f"/t/{agent.tenant_id}/agents/{agent.pk}/"


def _channels(agent: Any) -> list[tuple[str, dict[str, Any], Any]]:
    with platform_bypass(reason="test", log=False):
        rows = AgentChannel.objects.filter(agent=agent).order_by("type")
        return [(row.type, row.config, row.secret_id) for row in rows]


def _statements(client: Client, url: str) -> int:
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return len([q for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]])


@pytest.fixture
def agent(tenant: Any) -> Any:
    return AgentFactory.create(tenant=tenant, name="Bugsy")


@pytest.fixture
def bot_token(tenant: Any) -> Any:
    return SecretFactory.create(tenant=tenant, name="Slack bot", provider="slack", value=TOKEN)


def test_agent_page__channels_listed_with_the_secret_name_never_its_value(
    signed_in: Any, tenant: Any, owner: Any, agent: Any, bot_token: Any
) -> None:
    ChannelFactory.create(agent=agent, type="slack", config={"channel": "#ops"}, secret=bot_token)
    ChannelFactory.create(agent=agent, type="web", config={"allowed_origins": ["https://app.example.com"]})
    body = signed_in(owner).get(_page(agent)).content.decode()
    table = body.split('data-testid="agent-channels"', 1)[1].split("</table>", 1)[0]
    assert "#ops" in table
    assert "Slack bot" in table
    assert "https://app.example.com" in table
    assert TOKEN not in body
    assert "Remove the Slack channel" in table
    assert f'<option value="{bot_token.pk}">Slack bot (slack)</option>' in body


def test_channel_add__slack_with_the_tenants_secret__added_and_audited(
    signed_in: Any, tenant: Any, owner: Any, agent: Any, bot_token: Any
) -> None:
    response = signed_in(owner).post(
        f"{_page(agent)}channels/", {"type": "slack", "channel": "#ops", "secret": str(bot_token.pk)}
    )
    assert (response.status_code, response["Location"]) == (302, _page(agent))
    assert _channels(agent) == [("slack", {"channel": "#ops"}, bot_token.pk)]
    with platform_bypass(reason="test", log=False):
        assert AuditLogEntry.objects.filter(tenant=tenant, action="agent_channel.created").count() == 1


def test_channel_add__web_origins_as_text__normalised(
    signed_in: Any, tenant: Any, owner: Any, agent: Any
) -> None:
    signed_in(owner).post(
        f"{_page(agent)}channels/",
        {"type": "web", "allowed_origins": "https://b.example.com/\nhttps://a.example.com"},
    )
    assert _channels(agent) == [
        ("web", {"allowed_origins": ["https://a.example.com", "https://b.example.com"]}, None)
    ]


def test_channel_add__refusals__shown_in_place_nothing_added(
    signed_in: Any, tenant: Any, owner: Any, agent: Any, bot_token: Any
) -> None:
    client = signed_in(owner)
    no_secret = client.post(f"{_page(agent)}channels/", {"type": "slack", "channel": "#ops"})
    assert no_secret.status_code == 400
    assert "A slack channel needs the secret holding its bot token." in no_secret.content.decode()
    inline = client.post(
        f"{_page(agent)}channels/", {"type": "slack", "channel": TOKEN, "secret": str(bot_token.pk)}
    )
    assert inline.status_code == 400
    assert "never inline" in inline.content.decode()
    bad_mail = client.post(f"{_page(agent)}channels/", {"type": "email", "address": "not-an-address"})
    assert bad_mail.status_code == 400
    assert "An email channel needs" in bad_mail.content.decode()
    assert _channels(agent) == []


def test_channel_add__second_of_a_type__409_in_place(
    signed_in: Any, tenant: Any, owner: Any, agent: Any
) -> None:
    ChannelFactory.create(agent=agent, type="email", config={"address": "a@example.com"})
    response = signed_in(owner).post(
        f"{_page(agent)}channels/", {"type": "email", "address": "b@example.com"}
    )
    assert response.status_code == 409
    assert "already has a email channel" in response.content.decode()
    assert _channels(agent) == [("email", {"address": "a@example.com"}, None)]


def test_channel_add__another_tenants_secret__refused_nothing_added(
    signed_in: Any, tenant: Any, owner: Any, agent: Any, other_tenant: Any
) -> None:
    theirs = SecretFactory.create(tenant=other_tenant, name="Their token", provider="slack")
    client = signed_in(owner)
    assert "Their token" not in client.get(_page(agent)).content.decode()
    response = client.post(
        f"{_page(agent)}channels/", {"type": "slack", "channel": "#ops", "secret": str(theirs.pk)}
    )
    assert response.status_code == 400
    assert "Their token" not in response.content.decode()
    assert _channels(agent) == []


def test_channel_remove__removed_and_audited_secret_kept(
    signed_in: Any, tenant: Any, owner: Any, agent: Any, bot_token: Any
) -> None:
    channel = ChannelFactory.create(agent=agent, type="slack", config={"channel": "#ops"}, secret=bot_token)
    response = signed_in(owner).post(f"{_page(agent)}channels/{channel.pk}/remove/")
    assert response.status_code == 302
    assert _channels(agent) == []
    with platform_bypass(reason="test", log=False):
        assert AuditLogEntry.objects.filter(tenant=tenant, action="agent_channel.deleted").count() == 1
        assert type(bot_token).objects.filter(pk=bot_token.pk).exists()


def test_channels__viewer__listed_without_buttons_and_writes_403(
    signed_in: Any, tenant: Any, agent: Any
) -> None:
    channel = ChannelFactory.create(
        agent=agent, type="web", config={"allowed_origins": ["https://a.example.com"]}
    )
    team = TeamFactory.create(tenant=tenant)
    with platform_bypass(reason="test", log=False):
        type(agent).objects.filter(pk=agent.pk).update(team=team)
    client = signed_in(member(tenant, "viewer", team=team))
    body = client.get(_page(agent)).content.decode()
    assert "https://a.example.com" in body
    assert "Remove the" not in body
    assert 'data-testid="channel-form"' not in body
    assert (
        client.post(f"{_page(agent)}channels/", {"type": "email", "address": "x@example.com"}).status_code
        == 403
    )
    assert client.post(f"{_page(agent)}channels/{channel.pk}/remove/").status_code == 403
    assert len(_channels(agent)) == 1


def test_channels__member_who_may_not_change_the_agent__404_nothing_changed(
    signed_in: Any, tenant: Any, agent: Any
) -> None:
    channel = ChannelFactory.create(
        agent=agent, type="web", config={"allowed_origins": ["https://a.example.com"]}
    )
    client = signed_in(member(tenant, "member"))  # no team, nothing shared: the agent is unseen
    assert (
        client.post(f"{_page(agent)}channels/", {"type": "email", "address": "x@example.com"}).status_code
        == 404
    )
    assert client.post(f"{_page(agent)}channels/{channel.pk}/remove/").status_code == 404
    assert len(_channels(agent)) == 1


def test_channels__another_tenants_agent_or_channel__refused(
    signed_in: Any, tenant: Any, owner: Any, agent: Any, other_tenant: Any
) -> None:
    theirs = AgentFactory.create(tenant=other_tenant)
    their_channel = ChannelFactory.create(
        agent=theirs, type="web", config={"allowed_origins": ["https://x.example.com"]}
    )
    client = signed_in(owner)
    assert client.post(f"/t/{tenant.pk}/agents/{theirs.pk}/channels/", {"type": "web"}).status_code == 404
    assert client.post(f"{_page(agent)}channels/{their_channel.pk}/remove/").status_code == 404
    assert client.post(f"{_page(theirs)}channels/{their_channel.pk}/remove/").status_code == 403
    assert len(_channels(theirs)) == 1


def test_agent_page__query_count__same_for_no_channel_and_three(
    signed_in: Any, tenant: Any, owner: Any, agent: Any, bot_token: Any
) -> None:
    client = signed_in(owner)
    few = _statements(client, _page(agent))
    ChannelFactory.create(agent=agent, type="slack", config={"channel": "#ops"}, secret=bot_token)
    ChannelFactory.create(agent=agent, type="email", config={"address": "a@example.com"})
    ChannelFactory.create(agent=agent, type="web", config={"allowed_origins": ["https://a.example.com"]})
    SecretFactory.create_batch(3, tenant=tenant)
    assert _statements(client, _page(agent)) == few
