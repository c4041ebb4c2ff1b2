"""An agent's channels over HTTP: each type's config checked, secrets only by reference to the
tenant's own locker (another tenant's secret refused by the API and by the database), audited,
another tenant's agent or channel 404, a viewer refused."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, transaction

from agents.models import AgentChannel
from agents.tests.factories import AgentFactory, ChannelFactory
from audit.models import AuditLogEntry
from core.tenancy import platform_bypass, tenant_context
from tenants.tests.factories import SecretFactory, TeamFactory, member

pytestmark = pytest.mark.django_db

ORIGINS = {"allowed_origins": ["https://app.example.com"]}


def url(agent: Any, rest: str = "") -> str:
    return f"/api/v1/tenants/{agent.tenant_id}/agents/{agent.pk}/channels/{rest}"


def _audit(action: str) -> list[AuditLogEntry]:
    with platform_bypass(reason="test", log=False):
        return list(AuditLogEntry.objects.filter(action=action))


def _channels(agent: Any) -> list[tuple[str, Any, Any, bool]]:
    with platform_bypass(reason="test", log=False):
        return [
            (c.type, c.config, c.secret_id, c.is_active)
            for c in AgentChannel.objects.filter(agent=agent).order_by("type")
        ]


@pytest.fixture
def agent(tenant: Any) -> Any:
    return AgentFactory.create(tenant=tenant, name="Bugsy")


@pytest.fixture
def bot_token(tenant: Any) -> Any:
    return SecretFactory.create(tenant=tenant, name="slack bot", provider="slack", value="xoxb-123-abc")


def test_channel_create__slack_with_secret_ref__201_stored_and_audited_without_the_value(
    as_user: Any, owner: Any, agent: Any, bot_token: Any
) -> None:
    response = as_user(owner).post(
        url(agent),
        {"type": "slack", "config": {"channel": "#ops"}, "secret_id": str(bot_token.pk)},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["type"], body["config"], body["secret_id"], body["is_active"]) == (
        "slack",
        {"channel": "#ops"},
        str(bot_token.pk),
        True,
    )
    assert _channels(agent) == [("slack", {"channel": "#ops"}, bot_token.pk, True)]
    [entry] = _audit("agent_channel.created")
    assert entry.target_id == body["id"]
    assert entry.details["secret_id"] == str(bot_token.pk)
    assert "xoxb" not in str(entry.details)


@pytest.mark.parametrize(
    ("kind", "config", "stored"),
    [
        ("email", {"address": "Bugsy@Example.com"}, {"address": "bugsy@example.com"}),
        (
            "web",
            {"allowed_origins": ["https://b.example.com/", "http://localhost:8000", "https://b.example.com"]},
            {"allowed_origins": ["http://localhost:8000", "https://b.example.com"]},
        ),
    ],
)
def test_channel_create__email_and_web__config_normalised(
    as_user: Any, owner: Any, agent: Any, kind: str, config: dict[str, Any], stored: dict[str, Any]
) -> None:
    response = as_user(owner).post(url(agent), {"type": kind, "config": config}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["config"] == stored
    assert _channels(agent) == [(kind, stored, None, True)]


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"type": "slack", "config": {"channel": "#ops"}}, "secret_id", "validation_error"),
        ({"type": "slack", "config": {"channel": "not a channel"}}, "config", "invalid_config"),
        ({"type": "email", "config": {"address": "nope"}}, "config", "invalid_config"),
        ({"type": "email", "config": {}}, "config", "invalid_config"),
        ({"type": "web", "config": {"allowed_origins": []}}, "config", "invalid_config"),
        (
            {"type": "web", "config": {"allowed_origins": ["https://x.example.com/path"]}},
            "config",
            "invalid_config",
        ),
        ({"type": "web", "config": {"allowed_origins": ["javascript:alert(1)"]}}, "config", "invalid_config"),
        ({"type": "web", "config": {**ORIGINS, "colour": "red"}}, "config", "invalid_config"),
        ({"type": "sms", "config": {}}, "type", "validation_error"),
        ({"type": "web", "config": ORIGINS, "status": "x"}, "status", "validation_error"),
    ],
)
def test_channel_create__bad_config__400_naming_the_field_nothing_stored(
    as_user: Any, owner: Any, agent: Any, body: dict[str, Any], field: str, code: str
) -> None:
    response = as_user(owner).post(url(agent), body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    if code != "validation_error":
        assert response.json()["code"] == code
    assert _channels(agent) == []


@pytest.mark.parametrize(
    ("kind", "config"),
    [
        ("slack", {"channel": "#ops", "bot_token": "xoxb-1-2"}),
        ("slack", {"channel": "xoxb-123-secret"}),
        ("email", {"address": "a@example.com", "smtp_password": "hunter2"}),
        ("web", {**ORIGINS, "api_key": "abc"}),
        ("web", {**ORIGINS, "webhook_url": "https://hooks.example.com/x"}),
    ],
)
def test_channel_create__inline_secret__400_inline_secret_nothing_stored(
    as_user: Any, owner: Any, agent: Any, bot_token: Any, kind: str, config: dict[str, Any]
) -> None:
    body: dict[str, Any] = {"type": kind, "config": config}
    if kind == "slack":
        body["secret_id"] = str(bot_token.pk)
    response = as_user(owner).post(url(agent), body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "inline_secret"
    assert "secret_id" in response.json()["detail"]
    assert _channels(agent) == []


def test_channel_create__another_tenants_secret__400_like_a_missing_one_nothing_stored(
    as_user: Any, owner: Any, agent: Any, other_tenant: Any
) -> None:
    theirs = SecretFactory.create(tenant=other_tenant, provider="slack")
    client = as_user(owner)
    answers = [
        client.post(
            url(agent),
            {"type": "slack", "config": {"channel": "#ops"}, "secret_id": str(secret_id)},
            format="json",
        )
        for secret_id in (theirs.pk, "00000000-0000-4000-8000-000000000000")
    ]
    assert [a.status_code for a in answers] == [400, 400]
    assert answers[0].json() == answers[1].json()
    assert answers[0].json()["errors"]["secret_id"] == ["No such secret in this tenant."]
    assert _channels(agent) == []


def test_channel__another_tenants_secret_written_directly__the_database_refuses(
    tenant: Any, agent: Any, other_tenant: Any
) -> None:
    theirs = SecretFactory.create(tenant=other_tenant)
    with tenant_context(tenant.pk), pytest.raises(IntegrityError), transaction.atomic():
        AgentChannel.objects.create(tenant=tenant, agent=agent, type="slack", secret_id=theirs.pk)


def test_channel_create__another_teams_secret_for_a_member__400(tenant: Any, as_user: Any) -> None:
    team, other_team = TeamFactory.create(tenant=tenant), TeamFactory.create(tenant=tenant)
    teammate = member(tenant, "member", team=team)
    agent = AgentFactory.create(tenant=tenant, team=team)
    hidden = SecretFactory.create(tenant=tenant, team=other_team, provider="slack")
    response = as_user(teammate).post(
        url(agent),
        {"type": "slack", "config": {"channel": "#ops"}, "secret_id": str(hidden.pk)},
        format="json",
    )
    assert response.status_code == 400
    assert "secret_id" in response.json()["errors"]


def test_channel_create__second_of_a_type__409_channel_exists(as_user: Any, owner: Any, agent: Any) -> None:
    client = as_user(owner)
    assert client.post(url(agent), {"type": "web", "config": ORIGINS}, format="json").status_code == 201
    response = client.post(url(agent), {"type": "web", "config": ORIGINS}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "channel_exists")
    assert len(_channels(agent)) == 1


def test_channel_list__the_agents_channels_by_type(as_user: Any, owner: Any, agent: Any) -> None:
    ChannelFactory.create(agent=agent, type="web", config=ORIGINS)
    ChannelFactory.create(agent=agent, type="email", config={"address": "a@example.com"})
    ChannelFactory.create(agent=AgentFactory.create(tenant=agent.tenant), type="web")
    body = as_user(owner).get(url(agent)).json()
    assert [c["type"] for c in body["results"]] == ["email", "web"]


def test_channel_update__config_secret_and_is_active__checked_for_the_type_and_audited(
    as_user: Any, owner: Any, agent: Any, bot_token: Any, tenant: Any
) -> None:
    channel = ChannelFactory.create(agent=agent, type="slack", config={"channel": "#ops"}, secret=bot_token)
    other_token = SecretFactory.create(tenant=tenant, provider="slack")
    client = as_user(owner)
    response = client.patch(
        url(agent, str(channel.pk)),
        {"config": {"channel": "#alerts"}, "secret_id": str(other_token.pk), "is_active": False},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert _channels(agent) == [("slack", {"channel": "#alerts"}, other_token.pk, False)]
    [entry] = _audit("agent_channel.updated")
    assert set(entry.details["changes"]) == {"config", "secret_id", "is_active"}
    # A slack channel cannot lose its bot token.
    response = client.patch(url(agent, str(channel.pk)), {"secret_id": None}, format="json")
    assert response.status_code == 400
    assert "secret_id" in response.json()["errors"]
    assert _channels(agent)[0][2] == other_token.pk


def test_channel_delete__204_gone_and_audited_secret_kept(
    as_user: Any, owner: Any, agent: Any, bot_token: Any
) -> None:
    channel = ChannelFactory.create(agent=agent, type="slack", config={"channel": "#ops"}, secret=bot_token)
    response = as_user(owner).delete(url(agent, str(channel.pk)))
    assert response.status_code == 204
    assert _channels(agent) == []
    assert [e.target_id for e in _audit("agent_channel.deleted")] == [str(channel.pk)]
    with platform_bypass(reason="test", log=False):
        assert type(bot_token).objects.filter(pk=bot_token.pk).exists()


def test_channel__viewer__reads_but_may_not_write(as_user: Any, tenant: Any) -> None:
    team = TeamFactory.create(tenant=tenant)
    viewer = member(tenant, "viewer", team=team)
    agent = AgentFactory.create(tenant=tenant, team=team)
    channel = ChannelFactory.create(agent=agent, type="web", config=ORIGINS)
    client = as_user(viewer)
    assert client.get(url(agent)).status_code == 200
    for response in (
        client.post(url(agent), {"type": "email", "config": {"address": "a@example.com"}}, format="json"),
        client.patch(url(agent, str(channel.pk)), {"is_active": False}, format="json"),
        client.delete(url(agent, str(channel.pk))),
    ):
        assert (response.status_code, response.json()["code"]) == (403, "missing_permission")
    assert _channels(agent) == [("web", ORIGINS, None, True)]


def test_channel__another_tenants_agent_or_channel__404_nothing_changed(
    as_user: Any, owner: Any, agent: Any, other_tenant: Any
) -> None:
    their_agent = AgentFactory.create(tenant=other_tenant)
    theirs = ChannelFactory.create(agent=their_agent, type="web", config=ORIGINS)
    client = as_user(owner)
    mine = f"/api/v1/tenants/{agent.tenant_id}/agents/"
    answers = [
        client.get(f"{mine}{their_agent.pk}/channels/"),
        client.post(
            f"{mine}{their_agent.pk}/channels/",
            {"type": "email", "config": {"address": "a@b.co"}},
            format="json",
        ),
        # Their channel under my agent: not found either.
        client.patch(url(agent, str(theirs.pk)), {"is_active": False}, format="json"),
        client.delete(url(agent, str(theirs.pk))),
    ]
    assert [a.status_code for a in answers] == [404, 404, 404, 404]
    assert _channels(their_agent) == [("web", ORIGINS, None, True)]
