"""Audit coverage: every write route of the API that succeeds leaves an audit entry.

DOMAIN.md (audit): every state-changing operation writes one, in the same transaction as the
change, except the high-volume usage charges of agent runtimes, whose insert-only ledger entry is
their record. This walks every (route under /api/, write method) of the URL map, as the bad-input
corpus does (`core/tests/bad_input.py` builds the scene, the route's state and a valid body),
sends the valid request as the route's caller (the owner of a fresh tenant, a platform admin where
the owner is refused, nobody on public routes) and counts the audit entries, across every tenant,
before and after. A 2xx write that added none fails, unless `EXEMPT` names it with the reason.

A refused attempt (the owner before the platform admin) writes `access.denied`; that entry is not
the write's, so it is not counted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from audit.models import AuditLogEntry
from core.tenancy import platform_bypass
from core.tests import bad_input
from core.tests.bad_input import Probe
from core.tests.isolation import Route
from core.tests.test_bad_input import send, show
from tenants.tests.factories import TeamFactory

_T = "/api/v1/tenants/<uuid:tenant_id>"
_S = f"{_T}/sessions/<uuid:session_id>"
_AUTH = "/api/v1/auth"

# (method, route pattern as in core/tests/isolation.py) → why a successful write of it writes no
# audit entry. Each is a decision, not a gap: a new route is audited unless it is added here.
EXEMPT: dict[tuple[str, str], str] = {
    ("POST", f"{_T}/usage"): (
        "A usage charge of an agent runtime: its insert-only ledger entry is its record (DOMAIN.md, audit)."
    ),
    ("POST", f"{_T}/usage/batch"): "Usage charges in a batch: each ledger entry is its record, as above.",
    ("POST", f"{_S}/usage"): "A session's usage charge: its ledger entry is its record, as above.",
    ("POST", f"{_T}/usage/reservations*"): (
        "A runtime's hold on credits, its settlement (a usage charge) and its release: the usage path; "
        "the reservation's row and the settlement's ledger entry are the record (billing/services/"
        "reservations.py)."
    ),
    ("POST", f"{_T}/sessions/"): (
        "Agent sessions are runtime traffic: starts, spawns, completions and failures leave the "
        "session's row as their record; a cancel, an operator's act, is audited "
        "(agents/services/sessions.py)."
    ),
    ("POST", f"{_S}/spawn"): "A session spawned by a runtime: its row is its record, as above.",
    ("POST", f"{_S}/complete"): "A runtime's session ending: its row is its record, as above.",
    ("POST", f"{_S}/fail"): "A runtime's session failing: its row is its record, as above.",
    ("POST", f"{_T}/tasks/"): (
        "The task queue's runtime traffic (enqueue, claim, heartbeat, complete, fail) is recorded by "
        "the task's row (attempts, worker, error); retry and cancel, operators' acts, are audited "
        "(agents/services/tasks.py)."
    ),
    ("POST", f"{_T}/tasks/claim"): "A worker claiming tasks: the tasks' rows record it, as above.",
    ("POST", f"{_T}/tasks/<uuid:task_id>/heartbeat"): "A worker extending its lease: as above.",
    (
        "POST",
        f"{_T}/tasks/<uuid:task_id>/complete",
    ): "A worker's result: the task's row records it, as above.",
    ("POST", f"{_T}/tasks/<uuid:task_id>/fail"): "A worker's failure: the task's row records it, as above.",
    ("POST", f"{_T}/tasks/complete"): "Results of the tasks a worker claimed, in one request: as above.",
    ("POST", f"{_T}/agents/<uuid:agent_id>/activity"): (
        "A runtime's activity item: its insert-only row is its record, like usage "
        "(agents/services/telemetry.py)."
    ),
    ("POST", f"{_T}/stream-ticket"): (
        "A 60-second single-use ticket for the live stream: high-volume rows that are their own record, "
        "with the connections operators read (agents/stream/services.py)."
    ),
    ("POST", f"{_AUTH}/refresh"): (
        "Rotating a refresh token (every few minutes per client): the session's row records it "
        "(rotated_at, last_used_at); a reused token's revocation of the family is audited (critical)."
    ),
    ("POST", f"{_AUTH}/password/reset"): (
        "Asking for a reset e-mail writes nothing (the token derives from the user's state) and must "
        "not tell whether the address exists; setting the new password (reset/confirm) is audited."
    ),
}

# Pattern → a body that changes something where the shared one (core/tests/isolation.py) is a
# no-op for the route's fresh object: a write that changes nothing records nothing.
CHANGING_BODIES: dict[tuple[str, str], Callable[[Any], dict[str, Any]]] = {
    # The harness's {"team_id": null} clears a team the fresh membership does not have.
    ("PATCH", f"{_T}/members/<uuid:membership_id>/"): lambda scene: {
        "team_id": str(TeamFactory.create(tenant=scene.tenant).pk)
    },
}


def _cases() -> list[Any]:
    return [
        pytest.param(route, method, id=bad_input.case_id(route, method))
        for route, method in bad_input.write_cases()
    ]


def _exemption(route: Route, method: str) -> str | None:
    return next((why for (m, pattern), why in EXEMPT.items() if m == method and route.matches(pattern)), None)


def _entries() -> list[tuple[str, str]]:
    """(id, action) of every audit entry but the refusals', across every tenant."""
    with platform_bypass(reason="test: audit coverage", log=False):
        return [
            (str(pk), action)
            for pk, action in AuditLogEntry.objects.exclude(action="access.denied").values_list(
                "pk", "action"
            )
        ]


@pytest.mark.django_db
def test_audit_coverage__exemptions__each_matches_a_write_route_and_gives_a_reason() -> None:
    cases = bad_input.write_cases()

    stale = [
        f"EXEMPT[{key!r}] matches no write route: remove it"
        for key in EXEMPT
        if not any(m == key[0] and r.matches(key[1]) for r, m in cases)
    ]
    unexplained = [f"EXEMPT[{key!r}] gives no reason" for key, why in EXEMPT.items() if not why.strip()]
    assert not stale + unexplained, "\n".join(stale + unexplained)
    assert len(cases) >= 60, f"the URL-map walk found only {len(cases)} write routes"


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "method"), _cases())
def test_write_route__valid_request_succeeds__writes_an_audit_entry_unless_exempt(
    route: Route, method: str
) -> None:
    scene = bad_input.make_scene()
    values = bad_input.prepare(route, scene)
    changing = next(
        (make for (m, p), make in CHANGING_BODIES.items() if m == method and route.matches(p)), None
    )
    body = changing(scene) if changing is not None else bad_input.valid_body(route, scene)
    probe = Probe("the valid request", method, route.url(**values), bad_input.encode(body) if body else b"")
    callers = [bad_input.ANONYMOUS] if bad_input.is_public(route) else [scene.owner, scene.admin]

    for caller in callers:
        before = _entries()
        answer = send(probe, caller, keep=True)
        if answer.status != 403:
            break
    added = sorted({action for entry, action in set(_entries()) - set(before)})

    assert 200 <= answer.status < 300, (
        f"the valid request did not succeed, so its audit cannot be checked: {show(probe, caller, answer)}"
    )
    exemption = _exemption(route, method)
    if exemption is None:
        assert added, (
            f"{method} {route.path} as {caller.name} answered {answer.status} and wrote no audit entry. "
            "Record it in the service (audit.services.audit_record, inside its transaction), or add "
            "the route to EXEMPT in core/tests/test_audit_coverage.py with the reason."
        )
