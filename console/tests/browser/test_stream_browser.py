"""The live stream in two real browsers: the agent paused in one shows paused in the other without
a reload. The stream is served as `make run` serves it: uvicorn (core.runner's command, its own
process) beside the live server, the pages told its URL (QM_STREAM_URL), events carried across
the two processes by the PostgreSQL channel layer (core/channel_layer.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from channels.layers import channel_layers
from django.db import connection
from playwright.sync_api import expect

from accounts.tests.factories import TEST_PASSWORD
from agents.tests.factories import AgentFactory
from core import processes, runner
from core.tests.test_runner import _database_url, _free_port
from tenants.tests.factories import TenantFactory, member

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def stream_server(settings: Any, tmp_path: Any, live_server: Any) -> Iterator[str]:
    port = _free_port()
    env = runner.child_env(host="127.0.0.1", port=port - 1)
    env.update(DATABASE_URL=_database_url(connection.settings_dict), REDIS_URL="", DJANGO_ENV="development")
    env.pop("DATABASE_TEST_NAME", None)
    manager = processes.Manager(env=env)
    server = manager.start(
        processes.Child(
            "stream",
            runner.stream_command(host="127.0.0.1", port=port),
            tmp_path / "stream.log",
            env=runner.STREAM_ENV,
        )
    )
    # This process (the live server) publishes through PostgreSQL too, and tells pages the URL.
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "core.channel_layer.PostgresChannelLayer"}}
    settings.QM_STREAM_URL = f"ws://127.0.0.1:{port}"
    channel_layers.backends.clear()
    try:
        assert runner.wait_until_serving(
            f"http://127.0.0.1:{port}/healthz", alive=lambda: server.running, timeout=60
        ), server.tail()
        yield settings.QM_STREAM_URL
    finally:
        manager.stop()
        channel_layers.backends.clear()


def test_stream__agent_paused_in_one_browser__shown_paused_in_the_other_without_reload(
    people: Any, stream_server: str
) -> None:
    tenant = TenantFactory.create(name="Initech")
    owner = member(tenant, "owner", user__email="omar@initech.example")
    watcher = member(tenant, "admin", user__email="vera@initech.example")  # admins see every agent
    agent = AgentFactory.create(tenant=tenant, name="Milton", status="idle")
    agent_url = f"/t/{tenant.pk}/agents/{agent.pk}/"

    vera = people()
    vera.context.set_default_timeout(15_000)  # two browsers, uvicorn and the live server on 2 cores
    vera.sign_in(watcher.email, TEST_PASSWORD)
    vera.page.goto(f"/t/{tenant.pk}/agents/")
    expect(vera.page.get_by_test_id("agent-status")).to_have_text("Idle")
    expect(vera.page.locator("[data-qm-stream-state=open]")).to_have_count(1, timeout=15_000)

    omar = people()
    omar.context.set_default_timeout(15_000)
    omar.sign_in(owner.email, TEST_PASSWORD)
    omar.page.goto(agent_url)
    omar.page.get_by_label("Reason").fill("Stapler incident")
    omar.page.get_by_role("button", name="Pause Milton").click()
    expect(omar.page.get_by_test_id("agent-status")).to_have_text("Paused")

    # Vera's list was not reloaded: the stream changed the badge.
    expect(vera.page.get_by_test_id("agent-status")).to_have_text("Paused", timeout=10_000)
    vera.shot("stream-agents-list-paused-live")
