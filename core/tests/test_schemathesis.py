"""Schemathesis against the project's own OpenAPI schema: every operation, as a tenant's owner.

The schema is the one the project serves (`/api/schema/`), loaded through the in-process WSGI
app when this module is collected (it needs no database). Requests go to the same app, on
pytest-django's test database. The owner of a tenant with demo-like data (a team with a member,
an invite, a custom role, an API key, a flag, a secret, a setting with history, credits, a
charge, a threshold, a reservation, a subscription) calls every operation with a real access
token, and every path parameter is one of that tenant's real ids, so operations get past 404 to
their validation and their services. The operations only platform staff may call (the
`/platform/` routes, tenant routes whose permission map names platform staff or admins, and
tenant creation) answer the owner 403 and nothing more; they run a second time as a platform
admin (with a platform flag and a platform setting's history for the /platform/ routes).

The demo tenant is built once for the module, in a transaction rolled back at its end. Each
generated request runs in a savepoint rolled back afterwards: every example sees the same data
(a DELETE, a logout, a password change or a suspension in one example does not turn the next
into a 404 or a 401), so no operation needs to be left out, and their order does not matter.

Checks, per response: no server error (5xx); the body conforms to the schema declared for its
status; the status is one the operation declares (core/schema.py declares the error statuses
of every operation; without this check an answer the schema forgets would pass unnoticed).

`make test`: the fuzzing phase only, `DEFAULT_EXAMPLES` examples per operation, valid and
invalid data, seeded and derandomised (the same requests on every run). `make fuzz`
(`QM_FUZZ_EXAMPLES` set): that many examples per operation plus schemathesis' coverage phase
(boundary values, every missing field, every wrong type: thousands of requests), with a random
seed unless `QM_FUZZ_SEED` pins one; a failure prints the seed, so a find can be replayed.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections, transaction
from django.urls import resolve
from hypothesis import HealthCheck, settings
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from accounts.services import auth
from accounts.tests.factories import ApiKeyFactory, UserFactory
from agents.tests import factories as agents
from alerts.tests.factories import make_alert
from billing.tests import factories as billing
from core.api import PLATFORM_ADMIN, PLATFORM_STAFF
from insights.tests import factories as insights
from tenants.models import Tenant
from tenants.tests.factories import (
    FeatureFlagFactory,
    InviteFactory,
    MembershipFactory,
    RoleFactory,
    SecretFactory,
    TeamFactory,
    TenantFactory,
    member,
    setting_value,
)

DEFAULT_EXAMPLES = 15
DEFAULT_SEED = 20240610
FUZZING = bool(os.environ.get("QM_FUZZ_EXAMPLES"))
EXAMPLES = int(os.environ["QM_FUZZ_EXAMPLES"]) if FUZZING else DEFAULT_EXAMPLES
SEED = int(os.environ.get("QM_FUZZ_SEED") or 0) or (uuid.uuid4().int % 2**32 if FUZZING else DEFAULT_SEED)

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
# A setting with two versions, so read, versions, rollback, reveal and reset all have work to do.
SETTING_KEY = "providers.openai_api_key"
# The demo dict's entries for the access tokens; the rest are path parameters.
TOKEN, STAFF_TOKEN = "token", "staff_token"
# A demo entry named `platform:<parameter>` fills that parameter on the /platform/ routes
# (a platform flag's id there, a tenant's flag's id elsewhere).
PLATFORM = "platform:"


def _demo_tenant() -> dict[str, str]:
    """A tenant with one of everything; returns its path parameters by name (and the token)."""
    tenant: Tenant = TenantFactory.create()
    owner = member(tenant, "owner")
    other = MembershipFactory.create(tenant=tenant, team=TeamFactory.create(tenant=tenant))
    setting_value(tenant, SETTING_KEY, "sk-demo-value-0001")
    setting_value(tenant, SETTING_KEY, "sk-demo-value-0002")
    setting_value(None, SETTING_KEY, "sk-demo-platform-0001")
    setting_value(None, SETTING_KEY, "sk-demo-platform-0002")
    billing.create_test_price()
    billing.fund(tenant, 1000)
    billing.charge(tenant, credits=2)
    billing.make_subscription(tenant)
    tokens = auth.session_start(user=owner, request=None, device_name="schemathesis", mfa_verified=False)
    admin = UserFactory.create(platform_admin=True)
    staff = auth.session_start(user=admin, request=None, device_name="schemathesis", mfa_verified=True)
    agent = agents.AgentFactory.create(tenant=tenant)
    installation = agents.InstallationFactory.create(agent=agent)
    ids: dict[str, Any] = {
        "tenant_id": tenant.pk,
        "agent_id": agent.pk,
        "installation_id": installation.pk,
        "skill_id": installation.skill_id,
        "template_id": agents.TemplateFactory.create().pk,
        "cookbook_id": agents.CookbookFactory.create().pk,
        "task_id": agents.TaskFactory.create(agent=agent).pk,
        "intervention_id": insights.make_intervention(tenant),
        "recommendation_id": insights.make_recommendation(tenant),
        "participant_id": insights.make_participant(tenant),
        "channel_id": agents.ChannelFactory.create(agent=agent).pk,
        "recipe_id": agents.RecipeFactory.create().pk,
        "alert_id": make_alert(tenant).pk,
        "name": "dormant_members",  # a segment's name (insights/segments.py)
        "team_id": other.team_id,
        "membership_id": other.pk,
        "user_id": other.user_id,
        "role_id": RoleFactory.create(tenant=tenant).pk,
        "invite_id": InviteFactory.create(tenant=tenant, invited_by=owner).pk,
        "api_key_id": ApiKeyFactory.create(tenant=tenant, created_by=owner).pk,
        "flag_id": FeatureFlagFactory.create(tenant=tenant).pk,
        PLATFORM + "flag_id": FeatureFlagFactory.create(tenant=None).pk,
        "secret_id": SecretFactory.create(tenant=tenant).pk,
        "key": SETTING_KEY,
        "transaction_id": billing.entries(tenant)[-1].pk,
        "threshold_id": billing.make_threshold(tenant),
        "reservation_id": billing.make_reservation(tenant),
        "session_id": tokens.session.pk,
        TOKEN: tokens.access,
        STAFF_TOKEN: staff.access,
    }
    return {name: str(value) for name, value in ids.items()}


def _load_schema() -> Any:
    """The schema the project serves, with this run's generation settings."""
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {"max-examples": EXAMPLES, "deterministic": not FUZZING, "database": "none"},
            "phases": {"coverage": {"enabled": FUZZING}, "stateful": {"enabled": False}},
            # Charges, holds and settlements succeed only for a model with a price and with an
            # Idempotency-Key; generated strings almost never are one, so most of the time (not
            # always: odd values are the point too) they get the demo's priced model and a key.
            "dictionaries": {
                "priced-models": {"values": [billing.TEST_MODEL]},
                "idempotency-keys": {"values": [str(uuid.UUID(int=n)) for n in range(1, 4)]},
            },
            "parameters": {
                "body.model": {"dictionary": "priced-models", "probability": 0.7},
                "body.events[*].model": {"dictionary": "priced-models", "probability": 0.7},
                "header.Idempotency-Key": {"dictionary": "idempotency-keys", "probability": 0.7},
            },
        }
    )
    return schemathesis.openapi.from_wsgi("/api/schema/", WSGIHandler(), config=config)


schema = _load_schema()


def _staff_only(ctx: Any) -> bool:
    """Whether only platform staff may call the operation (the owner gets 403 and no further)."""
    method, path = ctx.operation.method.upper(), ctx.operation.path
    if path.startswith("/api/v1/platform/") or (method, path) == ("POST", "/api/v1/tenants/"):
        return True  # platform routes check staff in the view; only platform admins create tenants
    view_class = getattr(resolve(re.sub(r"\{[^}]+\}", str(uuid.UUID(int=1)), path)).func, "view_class", None)
    return getattr(view_class, "permission_map", {}).get(method) in (PLATFORM_STAFF, PLATFORM_ADMIN)


@pytest.fixture(scope="module")
def demo(django_db_setup: Any, django_db_blocker: Any) -> Iterator[dict[str, str]]:
    """The demo tenant, once for the module, in a transaction rolled back at its end.

    The app is called in process as Django's test client calls it: without closing "old"
    connections when a request starts and ends, which would close the one holding this
    transaction.
    """
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        with django_db_blocker.unblock(), transaction.atomic():
            yield _demo_tenant()
            transaction.set_rollback(True)
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def _call_and_validate(case: Any, demo: dict[str, str], token: str) -> None:
    # The demo tenant's real ids in the path (generated ids would stop at 404).
    prefix = PLATFORM if case.operation.path.startswith("/api/v1/platform/") else ""
    case.path_parameters = {
        name: demo.get(prefix + name, demo.get(name, value))
        for name, value in (case.path_parameters or {}).items()
    }
    with transaction.atomic():
        try:
            case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
        except BaseException:
            if FUZZING:  # `make test`'s run is the same on every run; a fuzz run's seed is random
                print(f"replay with: make fuzz QM_FUZZ_SEED={SEED} QM_FUZZ_EXAMPLES={EXAMPLES}")
            raise
        finally:
            transaction.set_rollback(True)


@schema.parametrize()
# The function-scoped `db` outlives the examples on purpose: each runs in a rolled-back savepoint.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_openapi_operation__fuzzed_as_the_owner__no_5xx_and_answers_match_the_schema(
    case: Any, demo: dict[str, str], db: Any
) -> None:
    _call_and_validate(case, demo, demo[TOKEN])


@schema.include(_staff_only).parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_staff_only_operation__fuzzed_as_a_platform_admin__no_5xx_and_answers_match_the_schema(
    case: Any, demo: dict[str, str], db: Any
) -> None:
    _call_and_validate(case, demo, demo[STAFF_TOKEN])


def test_demo_tenant__every_path_parameter_of_the_schema__names_a_row_the_owner_can_read(
    demo: dict[str, str], db: Any
) -> None:
    """A new path parameter in the schema needs a demo value, or its operations stop at 404."""
    ids = demo
    names = {
        parameter["name"]
        for operations in schema.raw_schema["paths"].values()
        for operation in operations.values()
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "path"
    }
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {ids[TOKEN]}")
    tenant = f"/api/v1/tenants/{ids['tenant_id']}"

    assert names - ids.keys() == set(), "path parameters without a demo value"
    staff_only = {
        f"{op.method.upper()} {op.path}"
        for op in (result.ok() for result in schema.include(_staff_only).get_all_operations())
    }
    assert {
        "POST /api/v1/tenants/",
        "POST /api/v1/tenants/{tenant_id}/suspend",
        "PATCH /api/v1/tenants/{tenant_id}/subscription",
        "PUT /api/v1/platform/settings/{key}/",
    } <= staff_only
    assert "GET /api/v1/tenants/{tenant_id}/teams/" not in staff_only
    for path in (
        f"{tenant}/teams/{ids['team_id']}/",
        f"{tenant}/members/{ids['membership_id']}/",
        f"{tenant}/roles/{ids['role_id']}/",
        f"{tenant}/api-keys/{ids['api_key_id']}/",
        f"{tenant}/flags/{ids['flag_id']}/",
        f"{tenant}/secrets/{ids['secret_id']}/",
        f"{tenant}/settings/{ids['key']}/versions/",
        f"{tenant}/credits/transactions/{ids['transaction_id']}",
        f"{tenant}/usage/reservations/{ids['reservation_id']}",
        f"{tenant}/subscription",
    ):
        response = client.get(path)
        assert response.status_code == 200, (path, response.json())
    assert client.get(f"{tenant}/settings/{ids['key']}/versions/").json()["count"] == 2
    assert [t["id"] for t in client.get(f"{tenant}/credits/thresholds").json()] == [ids["threshold_id"]]
    invites = client.get(f"{tenant}/invites/").json()["results"]
    assert [i["id"] for i in invites] == [ids["invite_id"]]
    sessions = client.get("/api/v1/auth/sessions").json()
    assert ids["session_id"] in str(sessions)
    staff = APIClient()
    staff.credentials(HTTP_AUTHORIZATION=f"Bearer {ids[STAFF_TOKEN]}")
    assert staff.get(f"/api/v1/platform/flags/{ids[PLATFORM + 'flag_id']}/").status_code == 200
    assert staff.get(f"/api/v1/platform/settings/{ids['key']}/versions/").json()["count"] == 2
