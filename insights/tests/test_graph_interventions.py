"""The agent and account interventions: pause/resume an agent, lock/unlock a member's account;
each with its previous and new state, its audit entries and its reversal (409 once the target
changed since)."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import User, UserSession
from accounts.tests.factories import TEST_PASSWORD, UserFactory
from agents.models import Agent
from agents.tests.factories import AgentFactory
from audit.models import AuditLogEntry
from core.tenancy import platform_bypass
from tenants.tests.factories import member

pytestmark = pytest.mark.django_db


def url(tenant: Any, suffix: str = "") -> str:
    return f"/api/v1/tenants/{tenant.pk}/interventions{suffix}"


def status_of(agent: Any) -> str:
    with platform_bypass(reason="test", log=False):
        return Agent.objects.get(pk=agent.pk).status


def actions(tenant: Any = None) -> list[str]:
    with platform_bypass(reason="test", log=False):
        qs = AuditLogEntry.objects.order_by("created_at")
        if tenant is not None:
            qs = qs.filter(tenant=tenant)
        return list(qs.values_list("action", flat=True))


def run(client: APIClient, tenant: Any, type_: str, ids: list[Any], reason: str = "ops") -> Any:
    return client.post(
        url(tenant), {"type": type_, "target_ids": [str(i) for i in ids], "reason": reason}, format="json"
    )


def login(email: str) -> Any:
    return APIClient().post("/api/v1/auth/login", {"email": email, "password": TEST_PASSWORD}, format="json")


# --- pause_agent / resume_agent ----------------------------------------------------------------


def test_pause_agent__bulk_by_owner__paused_states_recorded_audited(tenant, owner, as_user):
    a = AgentFactory.create(tenant=tenant, status="active")
    b = AgentFactory.create(tenant=tenant, status="idle")
    r = run(as_user(owner), tenant, "pause_agent", [a.pk, b.pk], "runaway spend")
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["scope"] == "bulk"
    assert body["target_type"] == "agents.agent"
    assert body["previous_state"] == {str(a.pk): {"status": "active"}, str(b.pk): {"status": "idle"}}
    assert body["new_state"] == {str(a.pk): {"status": "paused"}, str(b.pk): {"status": "paused"}}
    assert (status_of(a), status_of(b)) == ("paused", "paused")
    assert actions(tenant).count("agent.paused") == 2
    assert "intervention.applied" in actions(tenant)


def test_pause_agent__reverse_unchanged__resumed(tenant, owner, as_user):
    a = AgentFactory.create(tenant=tenant, status="idle")
    client = as_user(owner)
    made = run(client, tenant, "pause_agent", [a.pk])
    r = client.post(url(tenant, f"/{made.json()['id']}/reverse"), {"reason": "false alarm"}, format="json")
    assert r.status_code == 200, r.content
    assert r.json()["reversed_at"]
    assert status_of(a) == "idle"
    assert "agent.resumed" in actions(tenant)
    assert "intervention.reversed" in actions(tenant)


def test_pause_agent__resumed_by_someone_since__reverse_409(tenant, owner, as_user):
    a = AgentFactory.create(tenant=tenant, status="idle")
    client = as_user(owner)
    made = run(client, tenant, "pause_agent", [a.pk])
    assert run(client, tenant, "resume_agent", [a.pk]).status_code == 201
    r = client.post(url(tenant, f"/{made.json()['id']}/reverse"), {"reason": "x"}, format="json")
    assert r.status_code == 409
    assert r.json()["code"] == "target_changed"
    assert status_of(a) == "idle"


def test_resume_agent__not_paused__409_and_nothing_recorded(tenant, owner, as_user):
    a = AgentFactory.create(tenant=tenant, status="idle")
    r = run(as_user(owner), tenant, "resume_agent", [a.pk])
    assert r.status_code == 409
    assert r.json()["code"] == "not_paused"
    assert "intervention.applied" not in actions(tenant)


def test_resume_agent__reverse__paused_again(tenant, owner, as_user):
    a = AgentFactory.create(tenant=tenant, status="paused")
    client = as_user(owner)
    made = run(client, tenant, "resume_agent", [a.pk])
    assert made.json()["new_state"] == {str(a.pk): {"status": "idle"}}
    r = client.post(url(tenant, f"/{made.json()['id']}/reverse"), {"reason": "too soon"}, format="json")
    assert r.status_code == 200
    assert status_of(a) == "paused"


def test_pause_agent__other_tenants_agent__404_nothing_changed(tenant, other_tenant, owner, as_user):
    theirs = AgentFactory.create(tenant=other_tenant, status="idle")
    r = run(as_user(owner), tenant, "pause_agent", [theirs.pk])
    assert r.status_code == 404
    assert status_of(theirs) == "idle"


def test_pause_agent__member_without_interventions_admin__403(tenant, as_user):
    a = AgentFactory.create(tenant=tenant, status="idle")
    r = run(as_user(member(tenant, "member")), tenant, "pause_agent", [a.pk])
    assert r.status_code == 403
    assert status_of(a) == "idle"


# --- lock_user / unlock_user --------------------------------------------------------------------


def test_lock_user__by_operator__login_refused_sessions_ended_audited(tenant, platform_operator, as_user):
    person = member(tenant, "member")
    assert login(person.email).status_code == 200
    r = run(as_user(platform_operator), tenant, "lock_user", [person.pk], "compromised account")
    assert r.status_code == 201, r.content
    assert r.json()["previous_state"] == {str(person.pk): {"locked": False}}
    assert r.json()["new_state"] == {str(person.pk): {"locked": True}}
    refused = login(person.email)
    assert refused.status_code == 403
    assert refused.json()["code"] == "account_locked_by_operator"
    with platform_bypass(reason="test", log=False):
        assert not UserSession.objects.filter(user=person, revoked_at__isnull=True).exists()
        assert User.objects.get(pk=person.pk).locked_reason == "compromised account"
    assert "auth.account_locked_by_operator" in actions()
    assert "auth.login_blocked" in actions()


def test_lock_user__wrong_password__401_not_the_lock(tenant, platform_operator, as_user):
    person = member(tenant, "member")
    run(as_user(platform_operator), tenant, "lock_user", [person.pk])
    r = APIClient().post(
        "/api/v1/auth/login", {"email": person.email, "password": "nope nope"}, format="json"
    )
    assert r.status_code == 401


def test_lock_user__reverse__login_works_again(tenant, platform_operator, as_user):
    person = member(tenant, "member")
    client = as_user(platform_operator)
    made = run(client, tenant, "lock_user", [person.pk])
    r = client.post(url(tenant, f"/{made.json()['id']}/reverse"), {"reason": "cleared"}, format="json")
    assert r.status_code == 200, r.content
    assert login(person.email).status_code == 200
    assert "auth.account_unlocked" in actions()


def test_lock_user__unlocked_since__reverse_409(tenant, platform_operator, as_user):
    person = member(tenant, "member")
    client = as_user(platform_operator)
    made = run(client, tenant, "lock_user", [person.pk])
    assert run(client, tenant, "unlock_user", [person.pk]).status_code == 201
    r = client.post(url(tenant, f"/{made.json()['id']}/reverse"), {"reason": "x"}, format="json")
    assert r.status_code == 409
    assert r.json()["code"] == "target_changed"


def test_unlock_user__not_locked__409(tenant, platform_operator, as_user):
    person = member(tenant, "member")
    r = run(as_user(platform_operator), tenant, "unlock_user", [person.pk])
    assert r.status_code == 409
    assert r.json()["code"] == "not_locked"


def test_lock_user__tenant_owner__403_staff_only(tenant, owner, as_user):
    person = member(tenant, "member")
    r = run(as_user(owner), tenant, "lock_user", [person.pk])
    assert r.status_code == 403
    assert r.json()["code"] == "platform_staff_only"


def test_lock_user__not_a_member_of_this_tenant__404(tenant, platform_operator, as_user):
    stranger = UserFactory.create()
    r = run(as_user(platform_operator), tenant, "lock_user", [stranger.pk])
    assert r.status_code == 404
    with platform_bypass(reason="test", log=False):
        assert User.objects.get(pk=stranger.pk).locked_at is None


def test_lock_user__no_targets__400(tenant, platform_operator, as_user):
    r = as_user(platform_operator).post(url(tenant), {"type": "lock_user", "reason": "x"}, format="json")
    assert r.status_code == 400
