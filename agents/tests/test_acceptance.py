"""Issue 13's acceptance story, end to end through the public HTTP API and the websocket only,
as a customer's script and an agent runtime would drive them: an owner signs in (JWT), creates an
agent from a catalogue template, installs a skill, makes API keys for its runtimes; the runtime
starts a session and spawns three levels below it, reports usage, the owner reads the tree's cost
(equal to the ledger and to the credits that moved), watches the events arrive on the stream and
cancels the tree; then tasks are enqueued and two workers claim and complete them, each exactly
once.

The given state is what a signed-up, paying tenant already has: a subscription, credits on its
account, a priced model (factories). Everything after that goes through HTTP. The stream runs on
the in-memory channel layer of this test process, as in test_stream.py."""

from __future__ import annotations

import importlib
import threading
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.apps import apps as django_apps
from django.db import connection
from rest_framework.test import APIClient

from accounts.tests.factories import TEST_PASSWORD, UserFactory
from agents.tests.websocket import WebsocketCommunicator
from billing.tests.factories import TEST_MODEL, create_test_price, fund, make_subscription
from config.asgi import application
from tenants.tests.factories import TenantFactory, member

ORIGIN = "http://127.0.0.1:8000"
# An owner's key sees every agent its creator sees (team-less ones too), and may do only what its
# scopes allow: no agents:admin, so it runs agents but cannot delete or share them.
RUNTIME_SCOPES = [
    "agents:read",
    "agents:write",
    "sessions:read",
    "sessions:write",
    "tasks:read",
    "tasks:write",
]
# 200,000 input tokens at 1 USD per million, marked up 5x: one credit.
ONE_CREDIT = 200_000


def _seed_catalogue() -> None:
    """The catalogue migration 0002 seeds (a transactional test may follow another one's flush)."""
    importlib.import_module("agents.migrations.0002_seed_catalogue").seed(django_apps, None)


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def api_key(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.content[:2000])
    return response.json() if response.content else None


@pytest.fixture
def story(transactional_db: Any) -> dict[str, Any]:
    """A paying tenant, its owner signed in by password (JWT) and two runtime API keys made through
    the API."""
    _seed_catalogue()
    create_test_price()
    tenant = TenantFactory.create()
    owner = UserFactory.create(email="owner@acceptance.example")
    member(tenant, "owner", user=owner)
    make_subscription(tenant)
    fund(tenant, 1000)
    login = ok(
        APIClient().post(
            "/api/v1/auth/login", {"email": owner.email, "password": TEST_PASSWORD}, format="json"
        )
    )
    jwt = bearer(login["access"])
    keys = [
        ok(
            jwt.post(
                f"/api/v1/tenants/{tenant.pk}/api-keys/",
                {"name": f"runtime {n}", "scopes": RUNTIME_SCOPES},
                format="json",
            ),
            201,
        )["key"]
        for n in (1, 2)
    ]
    return {"tenant": tenant, "t": f"/api/v1/tenants/{tenant.pk}", "jwt": jwt, "keys": keys}


def items(body: Any) -> list[Any]:
    """A list's rows: the catalogue answers a bare array, tenant lists a page."""
    return body["results"] if isinstance(body, dict) else body


def balance(jwt: APIClient, t: str) -> Decimal:
    return Decimal(ok(jwt.get(f"{t}/credits"))["balance"])


def communicator(path: str, ticket: str) -> WebsocketCommunicator:
    return WebsocketCommunicator(
        application,
        f"{path}?ticket={ticket}",
        headers=[(b"origin", ORIGIN.encode()), (b"user-agent", b"acceptance")],
    )


@pytest.mark.django_db(transaction=True)
def test_acceptance__agent_skill_session_tree_usage_stream_cancel(story):
    t, jwt = story["t"], story["jwt"]
    runtime = api_key(story["keys"][0])

    # An agent from a catalogue template, a skill from the marketplace.
    templates = items(ok(jwt.get("/api/v1/catalogue/templates/")))
    template = next(x for x in templates if x["slug"] == "code-reviewer")
    agent = ok(
        jwt.post(f"{t}/agents/", {"name": "Reviewer", "template_id": template["id"]}, format="json"), 201
    )
    assert (agent["role"], agent["model_tier"]) == (template["role"], template["default_model_tier"])
    skills = items(ok(jwt.get("/api/v1/catalogue/skills/")))
    skill = next(x for x in skills if x["slug"] == "github-reviewer")
    installed = ok(
        jwt.post(f"{t}/agents/{agent['id']}/skills/", {"skill_id": skill["id"]}, format="json"), 201
    )
    assert installed["version"] == skill["version"]
    assert [s["skill"] for s in items(ok(jwt.get(f"{t}/agents/{agent['id']}/skills/")))] == [skill["id"]]

    # The runtime: a root session and three levels below it (root, 2 children, 1, 1). Its key
    # runs the team-less agent but may not delete it.
    refused = runtime.delete(f"{t}/agents/{agent['id']}/")
    assert (refused.status_code, refused.json()["code"]) == (403, "missing_permission")
    before = balance(jwt, t)
    root = ok(runtime.post(f"{t}/sessions/", {"agent_id": agent["id"]}, format="json"), 201)
    level1 = [ok(runtime.post(f"{t}/sessions/{root['id']}/spawn", {}, format="json"), 201) for _ in (1, 2)]
    level2 = ok(runtime.post(f"{t}/sessions/{level1[0]['id']}/spawn", {}, format="json"), 201)
    level3 = ok(runtime.post(f"{t}/sessions/{level2['id']}/spawn", {}, format="json"), 201)
    nodes = [root, *level1, level2, level3]
    assert [n["depth"] for n in nodes] == [0, 1, 1, 2, 3]
    assert {n["root"] for n in nodes} == {root["id"]}

    # Usage on every node: 1, 2, 3, 4, 5 credits.
    for n, node in enumerate(nodes, start=1):
        ok(
            runtime.post(
                f"{t}/sessions/{node['id']}/usage",
                {"model": TEST_MODEL, "input_tokens": n * ONE_CREDIT, "output_tokens": 0},
                format="json",
                HTTP_IDEMPOTENCY_KEY=f"usage-{n}",
            ),
            201,
        )

    tree = ok(jwt.get(f"{t}/sessions/{root['id']}/tree"))
    ledger = ok(jwt.get(f"{t}/credits/transactions", {"agent_id": agent["id"], "kind": "usage"}))["results"]
    own = {node["id"]: Decimal(node["credits_charged"]) for node in tree["nodes"]}
    assert tree["size"] == 5
    assert own == {entry["session_id"]: -Decimal(entry["amount"]) for entry in ledger}
    assert Decimal(tree["total_credits_charged"]) == sum(own.values()) == Decimal(15)
    assert before - balance(jwt, t) == Decimal(15)
    subtree = ok(jwt.get(f"{t}/sessions/{level1[0]['id']}/tree"))
    assert Decimal(subtree["total_credits_charged"]) == Decimal(2 + 4 + 5)

    # The stream: a ticket, the socket; the runtime reports an activity, the owner cancels the
    # tree, then pauses the agent. The events arrive in that order.
    ticket = ok(jwt.post(f"{t}/stream-ticket", HTTP_ORIGIN=ORIGIN), 201)

    def act() -> dict[str, Any]:
        ok(
            runtime.post(
                f"{t}/agents/{agent['id']}/activity",
                {"type": "message", "summary": "Reviewing PR 42", "session_id": level3["id"]},
                format="json",
            ),
            201,
        )
        cancelled = ok(jwt.post(f"{t}/sessions/{root['id']}/cancel", {"reason": "done"}, format="json"))
        ok(jwt.post(f"{t}/agents/{agent['id']}/pause", {"reason": "review over"}, format="json"))
        return cancelled

    async def scenario() -> tuple[Any, list[Any]]:
        ws = communicator(urlsplit(ticket["url"]).path, ticket["ticket"])
        assert (await ws.connect())[0]
        cancelled = await sync_to_async(act)()
        got = await ws.receive_available(1.0)
        await ws.disconnect()
        return cancelled, got

    cancelled, events = async_to_sync(scenario)()
    summary = [(e["type"], e["data"].get("status") or e["data"].get("summary")) for e in events]
    assert summary == [
        ("activity", "Reviewing PR 42"),
        ("activity", "Cancelled 5 sessions: done"),
        ("session.status", "cancelled"),
        ("agent.status", "paused"),
    ], summary
    assert events[2]["data"]["session_id"] == root["id"]
    assert events[2]["data"]["sessions_cancelled"] == 5
    assert cancelled is not None

    # Every node of the tree cancelled; the agent paused; the cost unchanged by the cancel.
    after = ok(jwt.get(f"{t}/sessions/{root['id']}/tree"))
    assert {node["status"] for node in after["nodes"]} == {"cancelled"}
    assert Decimal(after["total_credits_charged"]) == Decimal(15)
    assert ok(jwt.get(f"{t}/agents/{agent['id']}/"))["status"] == "paused"


@pytest.mark.django_db(transaction=True)
def test_acceptance__tasks_enqueued_two_workers__each_completed_exactly_once(story):
    t, jwt = story["t"], story["jwt"]
    agent = ok(jwt.post(f"{t}/agents/", {"name": "Worker bee"}, format="json"), 201)
    enqueued = [
        ok(
            jwt.post(
                f"{t}/tasks/",
                {"agent_id": agent["id"], "payload": {"n": n}, "priority": n % 3},
                format="json",
            ),
            201,
        )["id"]
        for n in range(12)
    ]
    completed: dict[str, list[str]] = {"worker-1": [], "worker-2": []}
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def work(worker: str, raw_key: str) -> None:
        client = api_key(raw_key)
        try:
            barrier.wait()
            while True:
                claimed = ok(
                    client.post(f"{t}/tasks/claim", {"worker_id": worker, "limit": 2}, format="json")
                )
                tasks = claimed  # a bare array of at most `limit` tasks
                if not tasks:
                    return
                for task in tasks:
                    assert task["claimed_by"] == worker
                    done = ok(
                        client.post(
                            f"{t}/tasks/{task['id']}/complete",
                            {"worker_id": worker, "result": {"by": worker}},
                            format="json",
                        )
                    )
                    assert done["status"] == "completed"
                    completed[worker].append(task["id"])
        except Exception as exc:  # noqa: BLE001  # any failure, asserted empty in the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=work, args=(worker, raw))
        for worker, raw in zip(completed, story["keys"], strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []

    everything = completed["worker-1"] + completed["worker-2"]
    assert sorted(everything) == sorted(enqueued)  # each task once, none twice
    listed = ok(jwt.get(f"{t}/tasks/", {"status": "completed"}))["results"]
    assert sorted(task["id"] for task in listed) == sorted(enqueued)
    for task in listed:
        assert task["attempts"] == 1
        assert task["result"] == {"by": task["claimed_by"]}
        assert task["id"] in completed[task["claimed_by"]]
    # Completing again is idempotent: no second run, the same answer.
    again = ok(
        api_key(story["keys"][0]).post(
            f"{t}/tasks/{listed[0]['id']}/complete",
            {"worker_id": listed[0]["claimed_by"], "result": {"by": "late"}},
            format="json",
        )
    )
    assert (again["status"], again["result"]) == ("completed", listed[0]["result"])
