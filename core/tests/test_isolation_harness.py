"""The tenant-isolation harness: every tenant-scoped route refuses every caller it must refuse.

The routes are discovered from the URL map when this module is collected, so a new endpoint is
probed without anyone writing a test for it; what the harness needs to know about endpoints
lives in `core/tests/isolation.py`. For each (tenant-scoped route, implemented method):

a) anonymous → 401 not_authenticated;
b) the owner of another tenant → 403 not_a_member, the same answer as for a tenant that does not
   exist;
c) a member whose role lacks the method's permission → 403 missing_permission;
d) another tenant's object id in the URL → 404, byte for byte the answer for an unknown id;
e) and in each case the database is left as it was.

A positive control proves the probes are meaningful: the same request from an authorised caller
succeeds, and its writes show in the snapshot the refusals are compared with.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts import permissions as registry
from accounts.models import User
from accounts.tests.factories import UserFactory
from core.api import PLATFORM_ADMIN, PLATFORM_STAFF
from core.tests import isolation
from core.tests.isolation import Route
from tenants.models import Tenant
from tenants.tests.factories import MembershipFactory, RoleFactory, TenantFactory, member

PLATFORM_ONLY = frozenset({PLATFORM_STAFF, PLATFORM_ADMIN})
ERROR_KEYS = {"type", "code", "detail", "errors"}

# Discovered at collection time (pytest-django has set Django up by then).
API_ROUTES: list[Route] = isolation.api_routes()
V1_ROUTES: list[Route] = [r for r in API_ROUTES if r.path.startswith(isolation.V1_PREFIX)]
TENANT_ROUTES: list[Route] = [r for r in V1_ROUTES if r.is_tenant_scoped]
NON_TENANT_ROUTES: list[Route] = [
    r
    for r in V1_ROUTES
    if not r.is_tenant_scoped
    and isolation.allow_listed(r, isolation.AUTHENTICATED_NON_TENANT_ROUTES)
    and not isolation.allow_listed(r, isolation.PUBLIC_ROUTES)
]
TENANT_CASES: list[tuple[Route, str]] = [(r, m) for r in TENANT_ROUTES for m in r.methods]
NON_TENANT_CASES: list[tuple[Route, str]] = [(r, m) for r in NON_TENANT_ROUTES for m in r.methods]
# (route, method, the object kwarg that gets the other tenant's id, the caller)
OBJECT_CASES: list[tuple[Route, str, str, str]] = [
    (r, m, kwarg, caller)
    for r, m in TENANT_CASES
    for kwarg in r.object_kwargs
    for caller in ("owner", "platform_admin")
    if not (caller == "owner" and r.required(m) in PLATFORM_ONLY)
]

# What must exist today; a resolver walk that finds nothing cannot pass vacuously.
KNOWN_TENANT_ROUTES: dict[str, set[str]] = {
    "/api/v1/tenants/<uuid:tenant_id>/members/": {"GET"},
    "/api/v1/tenants/<uuid:tenant_id>/members/<uuid:membership_id>/": {"GET", "PATCH", "DELETE"},
    "/api/v1/tenants/<uuid:tenant_id>/teams/": {"GET", "POST"},
    "/api/v1/tenants/<uuid:tenant_id>/teams/<uuid:team_id>/": {"GET", "PATCH", "DELETE"},
    "/api/v1/tenants/<uuid:tenant_id>/roles/": {"GET", "POST"},
    "/api/v1/tenants/<uuid:tenant_id>/roles/<uuid:role_id>/": {"GET", "PATCH", "DELETE"},
    "/api/v1/tenants/<uuid:tenant_id>/audit-logs/": {"GET"},
    "/api/v1/tenants/<uuid:tenant_id>/suspend": {"POST"},
}


def _case_id(route: Route, method: str, *extra: str) -> str:
    return " ".join([method, route.path, *extra])


def _params(cases: list[Any]) -> list[Any]:
    return [pytest.param(*case, id=_case_id(*case)) for case in cases]


# --- Helpers -----------------------------------------------------------------------------------


@dataclass
class Scene:
    """Tenant A (whose URLs are called, prepared so an authorised call would succeed) and B."""

    route: Route
    tenant: Tenant
    other: Tenant
    ids: dict[str, Any]  # tenant_id and a real object of A for each object kwarg

    def url(self, **overrides: Any) -> str:
        return self.route.url(**{**self.ids, **overrides})


def _object_id(kwarg: str, tenant: Tenant) -> uuid.UUID:
    try:
        return isolation.object_id(kwarg, tenant)
    except isolation.MissingObjectFactory as exc:
        message = str(exc)
    pytest.fail(message, pytrace=False)  # outside the except: no chained traceback to read past


def _scene(route: Route) -> Scene:
    tenant, other = TenantFactory.create(), TenantFactory.create()
    isolation.prepare(route, tenant)
    ids: dict[str, Any] = {isolation.TENANT_KWARG: tenant.pk}
    ids |= {kwarg: _object_id(kwarg, tenant) for kwarg in route.object_kwargs}
    return Scene(route=route, tenant=tenant, other=other, ids=ids)


def _client(user: User | None = None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def _call(client: APIClient, route: Route, method: str, url: str) -> Any:
    if method in isolation.SAFE_METHODS:
        return getattr(client, method.lower())(url)
    return getattr(client, method.lower())(url, isolation.write_body(route), format="json")


def _show(response: Any) -> str:
    return f"{response.status_code} {response.content[:600]!r}"


def _assert_error(response: Any, status: int, code: str, context: str) -> None:
    assert response.status_code == status, f"{context}: expected {status} {code}, got {_show(response)}"
    if not response.content:  # HEAD: no body to check
        return
    body = response.json()
    assert set(body) == ERROR_KEYS, f"{context}: not the error format: {_show(response)}"
    assert body["code"] == code, f"{context}: expected code {code!r}, got {_show(response)}"


def _assert_unchanged(before: dict[str, Any], context: str) -> None:
    after = isolation.take_snapshot()
    changed = {
        table: (before[table], after.get(table)) for table in before if before[table] != after.get(table)
    }
    assert not changed, f"{context} changed the database (rows, latest updated_at): {changed}"


def _unprivileged_member(route: Route, method: str, tenant: Tenant) -> User:
    """A member of `tenant` who lacks what `method` needs on `route`."""
    if route.required(method) in PLATFORM_ONLY:
        return member(tenant, "owner")  # everything a tenant can grant, yet not platform staff
    role = RoleFactory.create(tenant=tenant, permissions=[], rank=1)
    return MembershipFactory.create(tenant=tenant, role=role).user


def _authorised(route: Route, method: str, tenant: Tenant) -> User:
    if route.required(method) in PLATFORM_ONLY:
        return UserFactory.create(platform_admin=True)
    return member(tenant, "owner")


# --- The inventory -----------------------------------------------------------------------------


def _route_problems(route: Route) -> list[str]:
    public = isolation.allow_listed(route, isolation.PUBLIC_ROUTES)
    non_tenant = isolation.allow_listed(route, isolation.AUTHENTICATED_NON_TENANT_ROUTES)
    if route.is_tenant_scoped:
        problems = []
        if public or non_tenant:
            problems.append(f"{route}: tenant-scoped, yet allow-listed in core/tests/isolation.py; remove it")
        if not route.path.startswith(isolation.TENANT_PREFIX) or isolation.TENANT_KWARG not in route.kwargs:
            problems.append(f"{route}: a TenantScopedApi must live under {isolation.TENANT_PREFIX}")
        if not route.methods:
            problems.append(f"{route}: implements no HTTP method")
        for method in route.methods:
            required = route.required(method)
            if required is None:
                problems.append(f"{route}: {method} has no permission_map entry")
            elif required not in registry.ALL and required not in PLATFORM_ONLY:
                problems.append(f"{route}: {method} needs {required!r}, which is not a registered permission")
        return problems
    if public:
        return []
    if not route.path.startswith(isolation.V1_PREFIX):
        return [f"{route}: under /api/ but neither under /api/v1/ nor in PUBLIC_ROUTES"]
    if isolation.TENANT_KWARG in route.kwargs:
        return [
            f"{route}: takes {isolation.TENANT_KWARG} but its view does not subclass core.api.TenantScopedApi"
        ]
    if non_tenant:
        if not isolation.is_non_tenant_api(route):
            return [
                f"{route}: allow-listed as authenticated non-tenant, but does not subclass core.api.BaseApi"
            ]
        return []
    return [
        f"{route}: neither a core.api.TenantScopedApi subclass nor allow-listed. Make it tenant-scoped "
        "(under /api/v1/tenants/<uuid:tenant_id>/) or add it, with a reason, to "
        "AUTHENTICATED_NON_TENANT_ROUTES or PUBLIC_ROUTES in core/tests/isolation.py"
    ]


@pytest.mark.django_db
def test_api_routes__walked__each_is_tenant_scoped_with_a_full_permission_map_or_allow_listed() -> None:
    problems = [problem for route in API_ROUTES for problem in _route_problems(route)]

    assert not problems, "\n".join(problems)


@pytest.mark.django_db
def test_isolation_registry__each_entry__matches_a_route_and_allow_lists_give_reasons() -> None:
    registries: dict[str, dict[str, Any]] = {
        "PUBLIC_ROUTES": isolation.PUBLIC_ROUTES,
        "AUTHENTICATED_NON_TENANT_ROUTES": isolation.AUTHENTICATED_NON_TENANT_ROUTES,
        "WRITE_BODIES": isolation.WRITE_BODIES,
        "ROUTE_PREPARATIONS": isolation.ROUTE_PREPARATIONS,
    }

    stale = [
        f"{name}[{pattern!r}] matches no route: remove it"
        for name, entries in registries.items()
        for pattern in entries
        if not any(route.matches(pattern) for route in API_ROUTES)
    ]
    unexplained = [
        f"{name}[{pattern!r}] gives no reason"
        for name in ("PUBLIC_ROUTES", "AUTHENTICATED_NON_TENANT_ROUTES")
        for pattern, reason in registries[name].items()
        if not str(reason).strip()
    ]
    assert not stale + unexplained, "\n".join(stale + unexplained)


@pytest.mark.django_db
def test_tenant_routes__url_kwargs__each_has_an_object_factory() -> None:
    missing = sorted(
        f"{route}: the URL kwarg {kwarg!r} has no entry in core/tests/isolation.py OBJECT_FACTORIES; add one "
        "(callable(tenant) -> id of a fresh object of that tenant)"
        for route in TENANT_ROUTES
        for kwarg in route.object_kwargs
        if kwarg not in isolation.OBJECT_FACTORIES
    )

    assert not missing, "\n".join(missing)


@pytest.mark.django_db
def test_harness__known_tenant_routes__are_probed() -> None:
    probed: dict[str, set[str]] = {}
    for route, method in TENANT_CASES:
        probed.setdefault(route.path, set()).add(method)
    object_probed = {(route.path, kwarg) for route, _, kwarg, _ in OBJECT_CASES}

    missing = {path: methods - probed.get(path, set()) for path, methods in KNOWN_TENANT_ROUTES.items()}
    missing = {path: methods for path, methods in missing.items() if methods}
    assert not missing, f"the resolver walk lost routes the harness must probe: {missing}"
    for path in KNOWN_TENANT_ROUTES:
        for kwarg in ("team_id", "role_id", "membership_id"):
            if f":{kwarg}>" in path:
                assert (path, kwarg) in object_probed, (
                    f"{path}: {kwarg} is not probed with another tenant's id"
                )
    assert len(TENANT_CASES) >= sum(len(m) for m in KNOWN_TENANT_ROUTES.values())


# --- The probes --------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "method"), _params(TENANT_CASES))
def test_tenant_route__anonymous__401_not_authenticated_and_nothing_changes(
    route: Route, method: str
) -> None:
    scene = _scene(route)
    url = scene.url()
    before = isolation.take_snapshot()

    response = _call(_client(), route, method, url)

    _assert_error(response, 401, "not_authenticated", f"anonymous {method} {url}")
    _assert_unchanged(before, f"anonymous {method} {url}")


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "method"), _params(TENANT_CASES))
def test_tenant_route__owner_of_another_tenant__403_not_a_member_like_unknown_tenant_and_nothing_changes(
    route: Route, method: str
) -> None:
    scene = _scene(route)
    outsider = member(scene.other, "owner")
    client = _client(outsider)
    url, unknown_url = scene.url(), scene.url(tenant_id=uuid.uuid4())
    before = isolation.take_snapshot()

    response = _call(client, route, method, url)
    unknown = _call(client, route, method, unknown_url)

    _assert_error(response, 403, "not_a_member", f"{method} {url} by the owner of another tenant")
    assert response.content == unknown.content, (
        f"{method} {url}: another tenant's URL answers {_show(response)}, an unknown tenant's "
        f"{_show(unknown)}; a non-member must not learn which tenants exist"
    )
    _assert_unchanged(before, f"{method} {url} by the owner of another tenant")


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "method"), _params(TENANT_CASES))
def test_tenant_route__member_without_the_permission__403_missing_permission_and_nothing_changes(
    route: Route, method: str
) -> None:
    scene = _scene(route)
    caller = _unprivileged_member(route, method, scene.tenant)
    url = scene.url()
    before = isolation.take_snapshot()

    response = _call(_client(caller), route, method, url)

    context = f"{method} {url} by a member without {route.required(method)}"
    _assert_error(response, 403, "missing_permission", context)
    _assert_unchanged(before, context)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("route", "method", "kwarg", "caller"),
    [pytest.param(*case, id=_case_id(case[0], case[1], case[2], "as", case[3])) for case in OBJECT_CASES],
)
def test_tenant_route__other_tenants_object_id__404_identical_to_unknown_id_and_nothing_changes(
    route: Route, method: str, kwarg: str, caller: str
) -> None:
    scene = _scene(route)
    foreign_id = _object_id(kwarg, scene.other)
    user = (
        UserFactory.create(platform_admin=True)
        if caller == "platform_admin"
        else member(scene.tenant, "owner")
    )
    client = _client(user)
    url, unknown_url = scene.url(**{kwarg: foreign_id}), scene.url(**{kwarg: uuid.uuid4()})
    before = isolation.take_snapshot()

    response = _call(client, route, method, url)
    unknown = _call(client, route, method, unknown_url)

    context = f"{method} {url} (tenant B's {kwarg}) as {caller} of tenant A"
    _assert_error(response, 404, "not_found", context)
    assert response.content == unknown.content, (
        f"{context}: answers {_show(response)}, an unknown id {_show(unknown)}; "
        "another tenant's object must be indistinguishable from a missing one"
    )
    _assert_unchanged(before, context)


@pytest.mark.django_db
@pytest.mark.parametrize("route", [pytest.param(r, id=r.path) for r in TENANT_ROUTES])
def test_tenant_route__outsiders_with_unimplemented_or_meta_methods__refused_before_405(route: Route) -> None:
    scene = _scene(route)
    outsider = _client(member(scene.other, "owner"))
    url = scene.url()
    methods = ["HEAD", "OPTIONS", *(m.upper() for m in isolation.HANDLERS if m.upper() not in route.methods)]
    before = isolation.take_snapshot()

    for method in methods:
        _assert_error(
            _call(_client(), route, method, url), 401, "not_authenticated", f"anonymous {method} {url}"
        )
        _assert_error(_call(outsider, route, method, url), 403, "not_a_member", f"outsider {method} {url}")

    _assert_unchanged(before, f"{methods} {url} by outsiders")


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "method"), _params(NON_TENANT_CASES))
def test_non_tenant_route__anonymous__401_not_authenticated_and_nothing_changes(
    route: Route, method: str
) -> None:
    # Ids in a non-tenant URL are the caller's own things (a session, a user): any uuid will do,
    # the anonymous caller must be refused before it is looked at.
    url = route.url(**{k: uuid.uuid4() for k in route.kwargs})
    before = isolation.take_snapshot()

    response = _call(_client(), route, method, url)

    _assert_error(response, 401, "not_authenticated", f"anonymous {method} {url}")
    _assert_unchanged(before, f"anonymous {method} {url}")


# --- The positive control ----------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "method"), _params(TENANT_CASES))
def test_tenant_route__authorised_caller_same_request__succeeds_and_writes_show_in_snapshot(
    route: Route, method: str
) -> None:
    """Without this, a probe could be refused for a reason of its own (bad body, wrong state)."""
    scene = _scene(route)
    caller = _authorised(route, method, scene.tenant)
    url = scene.url()
    before = isolation.take_snapshot()

    response = _call(_client(caller), route, method, url)

    assert response.status_code < 400, (
        f"{method} {url} by an authorised caller: {_show(response)}. Give the route a body in WRITE_BODIES "
        "or a precondition in ROUTE_PREPARATIONS (core/tests/isolation.py), so the refusals prove something"
    )
    if method not in isolation.SAFE_METHODS:
        assert isolation.take_snapshot() != before, (
            f"{method} {url} succeeded but the snapshot saw no change: the harness could not see a leak"
        )
