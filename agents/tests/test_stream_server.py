"""The live stream end to end, as `make run` serves it: uvicorn started by core.runner's own
command (its own process, CONN_MAX_AGE=0, the PostgreSQL channel layer since there is no Redis),
a websocket client with a ticket from the API, and an event published from another process (this
test, as a web worker would: NOTIFY inside its transaction)."""

from __future__ import annotations

import json

import pytest
from django.db import connection, transaction
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Origin

from agents.tests.test_stream import ORIGIN, issue
from core import processes, runner
from core.channel_layer import PostgresChannelLayer
from core.stream import STREAM_MESSAGE_TYPE, tenant_group
from core.tests.test_runner import _database_url, _free_port


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_stream_server__as_make_run_starts_it__event_from_another_process_delivered(
    tmp_path, tenant, owner, as_user
):
    port = _free_port()
    env = runner.child_env(host="127.0.0.1", port=port - 1)  # the stream's port is PORT + 1
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
    try:
        serving = runner.wait_until_serving(
            f"http://127.0.0.1:{port}/healthz", alive=lambda: server.running, timeout=60
        )
        assert serving, server.tail()
        url = f"ws://127.0.0.1:{port}/ws/tenants/{tenant.pk}/events/"
        ticket = issue(as_user(owner), tenant, HTTP_ORIGIN=ORIGIN)["ticket"]
        with connect(f"{url}?ticket={ticket}", origin=Origin(ORIGIN), open_timeout=10) as ws:
            layer = PostgresChannelLayer(conninfo="unused: sends on Django's connection")
            with transaction.atomic():
                layer.notify_in_transaction(
                    tenant_group(tenant.pk),
                    {
                        "type": STREAM_MESSAGE_TYPE,
                        "event": {"type": "agent.status", "data": {"status": "paused"}},
                    },
                )
            frame = json.loads(ws.recv(timeout=10))
        # The same ticket again: refused at the handshake.
        again = f"{url}?ticket={ticket}"
        with pytest.raises(InvalidStatus), connect(again, origin=Origin(ORIGIN), open_timeout=10):
            pass
    finally:
        manager.stop()
    assert frame == {"type": "agent.status", "data": {"status": "paused"}}
