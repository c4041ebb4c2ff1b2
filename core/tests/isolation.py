"""The registry of the tenant-isolation harness (`core/tests/test_isolation_harness.py`).

The harness walks the URL map and probes every tenant-scoped route with callers who must be
refused (anonymous, another tenant's owner, a member without the permission) and with object
ids of another tenant. It knows nothing about particular endpoints: what it needs to know lives
here, and a new endpoint joins by adding entries:

- a route under /api/ that needs no authentication: `PUBLIC_ROUTES`, with the reason;
- a route under /api/v1/ that is authenticated but not tenant-scoped:
  `AUTHENTICATED_NON_TENANT_ROUTES`, with the reason;
- a new object kwarg in a URL (`<uuid:agent_id>`): `OBJECT_FACTORIES`;
- a URL kwarg that names no tenant's object (a setting key of the registry in code):
  `URL_CONSTANTS`, with the value to use and the reason;
- a write that needs more than `DEFAULT_WRITE_BODY` to succeed: `WRITE_BODIES`;
- a route that only succeeds from some state of the tenant (reactivate needs a suspended
  tenant): `ROUTE_PREPARATIONS`.

Patterns (the keys of the dicts above) are `fnmatch` patterns matched against a route's path
template (`/api/v1/tenants/<uuid:tenant_id>/teams/`) or its namespaced name (`v1:teams`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from fnmatch import fnmatchcase
from typing import Any

from django.apps import apps
from django.db.models import Count, Max, Model
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.resolvers import RegexPattern, RoutePattern
from django.utils import timezone

from accounts.models import Role
from audit.models import AuditLogEntry
from core.api import BaseApi, TenantScopedApi
from core.tenancy import TenantScopedModel, platform_bypass
from tenants.models import Tenant, TenantStatus
from tenants.tests.factories import InviteFactory, MembershipFactory, RoleFactory, TeamFactory

API_PREFIX = "/api/"
V1_PREFIX = "/api/v1/"
TENANT_KWARG = "tenant_id"
TENANT_PREFIX = "/api/v1/tenants/<uuid:tenant_id>/"
HANDLERS = ("get", "post", "put", "patch", "delete")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# --- Allow-lists -------------------------------------------------------------------------------

# Routes under /api/ that answer without authentication. Everything else under /api/ must refuse
# an anonymous caller with 401. Pattern → why it is public.
PUBLIC_ROUTES: dict[str, str] = {
    "/api/schema/": "The OpenAPI document: public by design (DESIGN.md, API conventions).",
    "/api/docs/": "Swagger UI over the public OpenAPI document.",
    "/api/redoc/": "Redoc over the public OpenAPI document.",
    "/api/v1/invites/accept": (
        "Accepting an invite: the e-mailed token is the credential, and a new invitee has no account "
        "yet. A logged-in caller is still authenticated (an existing account must be)."
    ),
    "/api/v1/auth/register": "Sign-up: creates the account (per-IP throttled).",
    "/api/v1/auth/login": "Login with e-mail and password (per-IP throttled, per-account lockout).",
    "/api/v1/auth/login/mfa*": "Second factor and forced enrolment: the signed challenge is the credential.",
    "/api/v1/auth/refresh": "Token refresh: the refresh token is the credential.",
    "/api/v1/auth/password/reset*": "Password reset: the e-mailed token is the credential; issues no tokens.",
}

# Routes under /api/v1/ that need a login but belong to no single tenant, so the tenant-scoped
# probes do not apply to them. Pattern → why it is not tenant-scoped.
AUTHENTICATED_NON_TENANT_ROUTES: dict[str, str] = {
    "/api/v1/tenants/": "The caller's own tenants (every one for platform staff); platform admins create.",
    "/api/v1/auth/logout": "Ends the caller's own session.",
    "/api/v1/auth/me": "The caller's own profile and memberships.",
    "/api/v1/auth/sessions*": "The caller's own sessions; another user's session id answers 404.",
    "/api/v1/auth/password/change": "The caller's own password.",
    "/api/v1/auth/2fa/*": "The caller's own second factor.",
    "/api/v1/platform/users/*": "Platform staff operations on users (checked in the view).",
    "/api/v1/platform/settings/*": (
        "The platform's setting defaults: platform staff read, platform admins write (checked in the view)."
    ),
    "/api/v1/platform/flags/*": (
        "Platform-wide feature flags: platform staff read, platform admins write (checked in the view)."
    ),
}

# --- Objects named in URLs ---------------------------------------------------------------------


def _team(tenant: Tenant) -> uuid.UUID:
    return TeamFactory.create(tenant=tenant).pk


def _custom_role(tenant: Tenant) -> uuid.UUID:
    return RoleFactory.create(tenant=tenant).pk


def _membership(tenant: Tenant) -> uuid.UUID:
    return MembershipFactory.create(tenant=tenant).pk


def _api_key(tenant: Tenant) -> uuid.UUID:
    from accounts.tests.factories import ApiKeyFactory

    return ApiKeyFactory.create(tenant=tenant).pk


def _invite(tenant: Tenant) -> uuid.UUID:
    return InviteFactory.create(tenant=tenant).pk


def _flag(tenant: Tenant) -> uuid.UUID:
    from tenants.tests.factories import FeatureFlagFactory

    return FeatureFlagFactory.create(tenant=tenant).pk


def _secret(tenant: Tenant) -> uuid.UUID:
    from tenants.tests.factories import SecretFactory

    return SecretFactory.create(tenant=tenant).pk


# URL kwarg name → a callable making a fresh object of that tenant and returning its id. Every
# kwarg of a tenant-scoped route except tenant_id needs an entry: the harness fails without one.
OBJECT_FACTORIES: dict[str, Callable[[Tenant], uuid.UUID]] = {
    "team_id": _team,
    "role_id": _custom_role,
    "membership_id": _membership,
    "api_key_id": _api_key,
    "invite_id": _invite,
    "flag_id": _flag,
    "secret_id": _secret,
}

# URL kwargs that name no object of a tenant, so no other tenant's value exists to probe with:
# kwarg → (the value the harness puts in URLs, why it is not a tenant's object).
URL_CONSTANTS: dict[str, tuple[Any, str]] = {
    "key": (
        "providers.openai_api_key",
        "A setting key from the registry in code (tenants/settings_registry.py): the same in every "
        "tenant; which tenant's value is read or written comes from tenant_id alone.",
    ),
}

# --- Request bodies and preconditions ----------------------------------------------------------

# Sent with a write that has no body of its own below (those whose serializer reads nothing),
# so that a refusal cannot hide behind a 400: with it, an authorised caller succeeds (the
# harness checks that too).
DEFAULT_WRITE_BODY: dict[str, Any] = {"name": "x", "reason": "x", "permissions": [], "rank": 1}

# Pattern → the body to send instead. The API refuses fields an endpoint does not take
# (core.serializers.StrictSerializer), so a write with a serializer needs its own body here.
WRITE_BODIES: dict[str, dict[str, Any]] = {
    "/api/v1/tenants/<uuid:tenant_id>/": {"name": "x"},
    "/api/v1/tenants/<uuid:tenant_id>/suspend": {"reason": "x"},
    "/api/v1/tenants/<uuid:tenant_id>/reactivate": {"reason": "x"},
    "/api/v1/tenants/<uuid:tenant_id>/teams/": {"name": "x"},
    "/api/v1/tenants/<uuid:tenant_id>/teams/<uuid:team_id>/": {"name": "x"},
    "/api/v1/tenants/<uuid:tenant_id>/members/<uuid:membership_id>/": {"team_id": None},
    "/api/v1/tenants/<uuid:tenant_id>/roles/": {"name": "x", "permissions": [], "rank": 1},
    "/api/v1/tenants/<uuid:tenant_id>/roles/<uuid:role_id>/": {"name": "x", "permissions": [], "rank": 1},
    "/api/v1/tenants/<uuid:tenant_id>/secrets/<uuid:secret_id>/": {"name": "x"},
    # A key needs at least one scope, which its creator (the harness's owner) holds.
    "/api/v1/tenants/<uuid:tenant_id>/api-keys/": {"name": "x", "scopes": ["teams:read"]},
    # The role defaults to member; the address is new in every (fresh) tenant.
    "/api/v1/tenants/<uuid:tenant_id>/invites/": {"email": "harness-invitee@example.com"},
    # The value differs from the one _setting_history wrote; DELETE (reset) ignores the body.
    "/api/v1/tenants/<uuid:tenant_id>/settings/<str:key>/": {"value": "sk-harness-value-0003", "reason": "x"},
    "/api/v1/tenants/<uuid:tenant_id>/settings/<str:key>/rollback": {"version": 1, "reason": "x"},
    "/api/v1/tenants/<uuid:tenant_id>/flags/": {"key": "harness-flag", "rollout_percentage": "10.00"},
    "/api/v1/tenants/<uuid:tenant_id>/flags/<uuid:flag_id>/": {"rollout_percentage": "50.00"},
    "/api/v1/tenants/<uuid:tenant_id>/secrets/": {
        "name": "harness",
        "provider": "openai",
        "value": "sk-harness-secret-0001",
    },
    "/api/v1/tenants/<uuid:tenant_id>/secrets/<uuid:secret_id>/rotate": {"value": "sk-harness-secret-0002"},
}


def _suspend(tenant: Tenant) -> None:
    with platform_bypass(reason="test precondition", log=False):
        Tenant.objects.filter(pk=tenant.pk).update(
            status=TenantStatus.SUSPENDED, suspended_at=timezone.now(), suspension_reason="test"
        )
    tenant.refresh_from_db()


def _setting_history(tenant: Tenant) -> None:
    """Two versions of the URL's setting: reset, rollback to v1 and reveal all change something."""
    from tenants.tests.factories import setting_value

    key = URL_CONSTANTS["key"][0]
    setting_value(tenant, key, "sk-harness-value-0001")
    setting_value(tenant, key, "sk-harness-value-0002")


# Pattern → what to do to the tenant first, so that an authorised request would succeed.
ROUTE_PREPARATIONS: dict[str, Callable[[Tenant], None]] = {
    "/api/v1/tenants/<uuid:tenant_id>/reactivate": _suspend,
    "/api/v1/tenants/<uuid:tenant_id>/settings/<str:key>/*": _setting_history,
}

# --- Billing (billing/api) ----------------------------------------------------------------------

AUTHENTICATED_NON_TENANT_ROUTES.update(
    {
        "/api/v1/billing/plans": "The plans on offer: a platform-wide catalogue, the same for every caller.",
        "/api/v1/billing/prices": "Model prices and their effective dates: a platform-wide catalogue.",
    }
)


def _billing(name: str) -> Callable[[Tenant], Any]:
    def make(tenant: Tenant) -> Any:
        from billing.tests import factories

        return getattr(factories, name)(tenant)

    return make


def _funded(tenant: Tenant) -> None:
    from billing.tests.factories import fund

    fund(tenant, 100)


OBJECT_FACTORIES.update(
    {
        "transaction_id": _billing("make_entry"),
        "threshold_id": _billing("make_threshold"),
        "reservation_id": _billing("make_reservation"),
    }
)
_USAGE = {"model": "claude-sonnet-4-5", "input_tokens": 1000, "output_tokens": 100}
_T = "/api/v1/tenants/<uuid:tenant_id>"
WRITE_BODIES.update(
    {
        f"{_T}/credits": {"overdraft_limit": "10"},
        f"{_T}/credits/transactions": {"kind": "grant", "amount": "10", "reason": "x"},
        f"{_T}/credits/thresholds": {"threshold": "10"},
        f"{_T}/subscription": {"purchased_agent_slots": 2},
        # Usage and holds need an idempotency key; the harness sends no headers, so in the body.
        f"{_T}/usage": {**_USAGE, "idempotency_key": "harness-usage"},
        f"{_T}/usage/batch": {"events": [{**_USAGE, "idempotency_key": "harness-1"}]},
        f"{_T}/usage/reservations": {"amount": "1", "idempotency_key": "harness-hold"},
        f"{_T}/usage/reservations/<uuid:reservation_id>/settle": _USAGE,
    }
)
ROUTE_PREPARATIONS.update(
    {
        # Charges and holds succeed only on credits the tenant has.
        f"{_T}/usage": _funded,
        f"{_T}/usage/batch": _funded,
        f"{_T}/usage/reservations": _funded,
        # Tenants made by TenantFactory (not tenant_create) have no subscription yet.
        f"{_T}/subscription": _billing("make_subscription"),
    }
)

# --- Insights (insights/api) --------------------------------------------------------------------

HARNESS_FLAG = "0000000e-0000-4000-8000-00000000000f"


def _insights(name: str) -> Callable[[Tenant], Any]:
    def make(tenant: Tenant) -> Any:
        from insights.tests import factories

        return getattr(factories, name)(tenant)

    return make


def _harness_flag(tenant: Tenant) -> None:
    from tenants.tests.factories import FeatureFlagFactory

    FeatureFlagFactory.create(id=HARNESS_FLAG, tenant=tenant)


OBJECT_FACTORIES.update(
    {
        "intervention_id": _insights("make_intervention"),
        # An open revoke_api_key recommendation (a dormant admin's key): the owner may accept it.
        "recommendation_id": _insights("make_recommendation"),
    }
)
WRITE_BODIES.update(
    {
        # The owner disables a flag of its tenant (suspending and grants are platform staff's).
        f"{_T}/interventions": {"type": "disable_flag", "target_ids": [HARNESS_FLAG], "reason": "x"},
        f"{_T}/interventions/<uuid:intervention_id>/reverse": {"reason": "x"},
        f"{_T}/recommendations/<uuid:recommendation_id>/accept": {"reason": "x"},
        f"{_T}/recommendations/<uuid:recommendation_id>/dismiss": {"reason": "x"},
    }
)
ROUTE_PREPARATIONS.update({f"{_T}/interventions": _harness_flag})
AUTHENTICATED_NON_TENANT_ROUTES.update(
    {"/api/v1/analytics/daily": "The platform's daily analytics: platform staff only (checked in the view)."}
)
URL_CONSTANTS["name"] = (
    "dormant_members",
    "A segment's name from insights/segments.py: the same in every tenant; whose members are "
    "listed comes from tenant_id alone.",
)

# --- The URL map -------------------------------------------------------------------------------

_PARAM = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


@dataclass(frozen=True)
class Route:
    """One URL pattern of the project, with what the harness needs to call it."""

    path: str  # the template, from the site root: /api/v1/tenants/<uuid:tenant_id>/teams/
    name: str | None  # namespaced: v1:teams
    view_class: type | None  # None for a function view
    kwargs: tuple[str, ...]
    methods: tuple[str, ...]  # the HTTP methods the view implements, upper case
    is_regex: bool = field(default=False, compare=False)

    def __str__(self) -> str:
        return (
            f"{self.path} ({self.name or 'unnamed'}, {getattr(self.view_class, '__name__', 'no view class')})"
        )

    @property
    def is_tenant_scoped(self) -> bool:
        return isinstance(self.view_class, type) and issubclass(self.view_class, TenantScopedApi)

    @property
    def object_kwargs(self) -> tuple[str, ...]:
        return tuple(k for k in self.kwargs if k != TENANT_KWARG and k not in URL_CONSTANTS)

    def required(self, method: str) -> str | None:
        """The permission-map entry of `method`, if the view declares one."""
        permission_map: dict[str, str] = getattr(self.view_class, "permission_map", {})
        return permission_map.get(method)

    def matches(self, pattern: str) -> bool:
        return fnmatchcase(self.path, pattern) or (self.name is not None and fnmatchcase(self.name, pattern))

    def url(self, **values: Any) -> str:
        """The concrete URL with `values` for the kwargs (every kwarg needs one)."""
        values = {k: URL_CONSTANTS[k][0] for k in self.kwargs if k in URL_CONSTANTS} | values
        missing = sorted(set(self.kwargs) - set(values))
        if missing:
            raise KeyError(f"{self}: no value for {', '.join(missing)}")
        if self.is_regex:
            if not self.name:
                raise ValueError(f"{self}: a regex route needs a name for the harness to reverse it")
            return reverse(self.name, kwargs={k: values[k] for k in self.kwargs})
        return _PARAM.sub(lambda m: str(values[m.group("name")]), self.path)


def _kwargs_of(pattern: Any) -> list[str]:
    if isinstance(pattern, RoutePattern):
        return list(pattern.converters)
    if isinstance(pattern, RegexPattern):
        return list(pattern.regex.groupindex)
    return []


def _methods_of(callback: Any, view_class: type | None) -> tuple[str, ...]:
    actions = getattr(callback, "actions", None)  # a DRF ViewSet routed by a router
    if isinstance(actions, dict):
        return tuple(sorted(m.upper() for m in actions))
    if view_class is None:
        return ()
    return tuple(m.upper() for m in HANDLERS if callable(getattr(view_class, m, None)))


def iter_routes(
    resolver: URLResolver | None = None, prefix: str = "/", namespace: str = "", kwargs: tuple[str, ...] = ()
) -> Iterator[Route]:
    """Every URL pattern below `resolver` (the project's root by default), included ones too."""
    resolver = resolver if resolver is not None else get_resolver()
    for entry in resolver.url_patterns:
        piece = str(entry.pattern)
        is_regex = isinstance(entry.pattern, RegexPattern)
        if is_regex:
            piece = piece.removeprefix("^").removesuffix("$")
        here = kwargs + tuple(_kwargs_of(entry.pattern))
        if isinstance(entry, URLResolver):
            inner = namespace
            if entry.namespace:
                inner = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            for route in iter_routes(entry, prefix + piece, inner, here):
                yield route if not is_regex else _as_regex(route)
        elif isinstance(entry, URLPattern):
            callback = entry.callback
            view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
            name = entry.name
            if name and namespace:
                name = f"{namespace}:{name}"
            yield Route(
                path=prefix + piece,
                name=name,
                view_class=view_class,
                kwargs=here,
                methods=_methods_of(callback, view_class),
                is_regex=is_regex,
            )


def _as_regex(route: Route) -> Route:
    return Route(route.path, route.name, route.view_class, route.kwargs, route.methods, is_regex=True)


def api_routes() -> list[Route]:
    """Every route under /api/, in URL-map order."""
    return [r for r in iter_routes() if r.path.startswith(API_PREFIX)]


def v1_routes() -> list[Route]:
    """Every route under /api/v1/."""
    return [r for r in api_routes() if r.path.startswith(V1_PREFIX)]


def allow_listed(route: Route, allow_list: dict[str, Any]) -> bool:
    return any(route.matches(pattern) for pattern in allow_list)


def is_non_tenant_api(route: Route) -> bool:
    return isinstance(route.view_class, type) and issubclass(route.view_class, BaseApi)


# --- Using the registry ------------------------------------------------------------------------


class MissingObjectFactory(LookupError):
    pass


def object_id(kwarg: str, tenant: Tenant) -> uuid.UUID:
    """A fresh object of `tenant` for the URL kwarg `kwarg`; a clear error if none is registered."""
    factory = OBJECT_FACTORIES.get(kwarg)
    if factory is None:
        raise MissingObjectFactory(
            f"The URL kwarg {kwarg!r} has no entry in core/tests/isolation.py OBJECT_FACTORIES. Add "
            f'"{kwarg}": <callable(tenant) -> id of a fresh object of that tenant>, so the isolation '
            "harness can prove another tenant's object answers 404."
        )
    return factory(tenant)


def write_body(route: Route) -> dict[str, Any]:
    for pattern, body in WRITE_BODIES.items():
        if route.matches(pattern):
            return body
    return DEFAULT_WRITE_BODY


def prepare(route: Route, tenant: Tenant) -> None:
    for pattern, preparation in ROUTE_PREPARATIONS.items():
        if route.matches(pattern):
            preparation(tenant)


# --- Database snapshots ------------------------------------------------------------------------


def snapshot_models() -> list[type[Model]]:
    """The models whose tables a refused request must leave alone."""
    found: list[type[Model]] = [
        m for m in apps.get_models() if issubclass(m, TenantScopedModel) and not m._meta.proxy
    ]
    found += [Tenant, Role, AuditLogEntry]
    # Tables whose tenant is nullable (platform rows: settings, flags) are not TenantScopedModels.
    found += [
        m
        for m in apps.get_models()
        if not m._meta.proxy and any(f.name == "tenant" and f.is_relation for f in m._meta.fields)
    ]
    return sorted(set(found), key=lambda m: m._meta.label)


def take_snapshot() -> dict[str, tuple[int, Any]]:
    """Row count and latest updated_at of each snapshot table, across every tenant."""
    result: dict[str, tuple[int, Any]] = {}
    with platform_bypass(reason="test snapshot", log=False):
        for model in snapshot_models():
            aggregates: dict[str, Any] = {"rows": Count("pk")}
            if any(f.name == "updated_at" for f in model._meta.get_fields()):
                aggregates["latest"] = Max("updated_at")
            queryset = model._default_manager.all()
            if model is AuditLogEntry:
                # A refusal is itself audited (access.denied); that record is the point, not a leak.
                queryset = queryset.exclude(action="access.denied")
            values = queryset.aggregate(**aggregates)
            result[model._meta.label] = (values["rows"], values.get("latest"))
    return result


# --- Agents (agents/api) ------------------------------------------------------------------------

AUTHENTICATED_NON_TENANT_ROUTES.update(
    {
        "/api/v1/catalogue/*": "The agent catalogue and skill marketplace: platform-wide, for all signed in.",
        "/api/v1/platform/catalogue/*": "The catalogue editor: platform staff only (checked in the view).",
        "/api/v1/platform/ab-tests/*": "Recipes' A/B results: platform staff only (checked in the view).",
        "/api/v1/ab-tests/*": "Comparing a recipe's A/B variants: platform staff only (checked in the view).",
    }
)

# Rows a body names by id (bodies are fixed): made by the routes' preparation, one tenant per test.
HARNESS_AGENT = "0000000a-0000-4000-8000-00000000000a"
HARNESS_SKILL = "0000000a-0000-4000-8000-00000000000b"
HARNESS_USER = "0000000a-0000-4000-8000-00000000000c"
# The state the next agent or task of the URL is made in (a route's preparation sets it: resume
# needs a paused agent, a worker's report a running task it holds, retry a failed one).
_AGENTS_STATE: dict[str, Any] = {}


def _agents(name: str) -> Callable[[Tenant], Any]:
    def make(tenant: Tenant) -> Any:
        from agents.tests import factories

        if name == "make_agent":
            agent = factories.AgentFactory.create(tenant=tenant, status=_AGENTS_STATE.get("agent", "idle"))
            _AGENTS_STATE["made_agent"] = agent  # a channel of the URL hangs on the URL's agent
            return agent.pk
        if name == "make_channel":
            made = _AGENTS_STATE.get("made_agent")
            agent = made if made is not None and made.tenant_id == tenant.pk else None
            agent = agent or factories.AgentFactory.create(tenant=tenant)
            return factories.ChannelFactory.create(agent=agent).pk
        if name == "make_task":
            status = _AGENTS_STATE.get("task", "running")
            lease = timezone.now() + timedelta(minutes=5) if status == "running" else None
            return factories.TaskFactory.create(
                agent=factories.AgentFactory.create(tenant=tenant),
                status=status,
                claimed_by="harness",
                lease_expires_at=lease,
            ).pk
        return getattr(factories, name)(tenant)

    return make


def _agents_harness(tenant: Tenant) -> None:
    """What the agents routes need to succeed: a subscription with slots, credits, a priced model,
    a published skill, an agent and a member the bodies name; agents and tasks in their usual state."""
    from accounts.tests.factories import UserFactory
    from agents.tests.factories import AgentFactory, SkillFactory
    from billing.models import ModelPrice
    from billing.tests.factories import create_test_price, fund, make_subscription

    _AGENTS_STATE.clear()
    make_subscription(tenant)
    fund(tenant, 100)
    if not ModelPrice.objects.filter(model="test-model").exists():
        create_test_price()
    SkillFactory.create(id=HARNESS_SKILL, slug="harness-skill")
    AgentFactory.create(id=HARNESS_AGENT, tenant=tenant, name="Harness agent")
    MembershipFactory.create(tenant=tenant, user=UserFactory.create(id=HARNESS_USER))


def _state(**values: str) -> Callable[[Tenant], None]:
    def prepare(tenant: Tenant) -> None:
        _AGENTS_STATE.update(values)

    return prepare


def _pending_task(tenant: Tenant) -> None:
    from agents.tests.factories import TaskFactory

    TaskFactory.create(agent_id=HARNESS_AGENT, tenant=tenant)


HARNESS_TASK = "0000000a-0000-4000-8000-00000000000d"


def _held_task(tenant: Tenant) -> None:
    """A running task the harness's worker holds: the batch complete's body names it."""
    from agents.tests.factories import TaskFactory

    TaskFactory.create(
        id=HARNESS_TASK,
        agent_id=HARNESS_AGENT,
        tenant=tenant,
        status="running",
        claimed_by="harness",
        lease_expires_at=timezone.now() + timedelta(minutes=5),
    )


OBJECT_FACTORIES.update(
    {
        "agent_id": _agents("make_agent"),
        "session_id": _agents("make_session"),
        "task_id": _agents("make_task"),
        "installation_id": _agents("make_installation"),
        "channel_id": _agents("make_channel"),
    }
)
_A = f"{_T}/agents/<uuid:agent_id>"
_S = f"{_T}/sessions/<uuid:session_id>"
_K = f"{_T}/tasks/<uuid:task_id>"
WRITE_BODIES.update(
    {
        f"{_T}/agents/": {"name": "harness-agent"},
        f"{_A}/": {"description": "x"},
        f"{_A}/pause": {"reason": "x"},
        f"{_A}/resume": {"reason": "x"},
        f"{_A}/status": {"status": "active"},
        f"{_A}/share": {"user_id": HARNESS_USER, "permissions": ["view_agent"]},
        f"{_A}/skills/": {"skill_id": HARNESS_SKILL},
        f"{_A}/channels/": {"type": "web", "config": {"allowed_origins": ["https://app.example.com"]}},
        f"{_A}/channels/<uuid:channel_id>": {"is_active": False},
        f"{_T}/skill-installations/<uuid:installation_id>/": {"config": {"x": 1}},
        f"{_T}/sessions/": {"agent_id": HARNESS_AGENT},
        f"{_S}/spawn": {},
        f"{_S}/usage": {
            "model": "test-model",
            "input_tokens": 1000,
            "idempotency_key": "harness-session-usage",
        },
        f"{_S}/complete": {"result": {"ok": True}},
        f"{_S}/fail": {"error": "x"},
        f"{_S}/cancel": {"reason": "x"},
        f"{_T}/tasks/": {"payload": {"x": 1}},
        f"{_T}/tasks/claim": {"worker_id": "harness"},
        f"{_T}/tasks/complete": {
            "worker_id": "harness",
            "items": [{"task_id": HARNESS_TASK, "result": {"ok": 1}}],
        },
        f"{_K}/heartbeat": {"worker_id": "harness"},
        f"{_K}/complete": {"worker_id": "harness"},
        f"{_K}/fail": {"worker_id": "harness", "error": "x"},
        f"{_K}/cancel": {"reason": "x"},
        f"{_K}/retry": {},
        f"{_A}/activity": {"type": "message", "summary": "harness"},
    }
)
ROUTE_PREPARATIONS.update(
    {
        f"{_T}/agents/*": _agents_harness,
        f"{_T}/sessions/*": _agents_harness,
        f"{_T}/tasks/*": _agents_harness,
        f"{_T}/skill-installations/*": _agents_harness,
        f"{_A}/resume": _state(agent="paused"),
        f"{_K}/retry": _state(task="failed"),
        f"{_T}/tasks/claim": _pending_task,
        f"{_T}/tasks/complete": _held_task,
    }
)

# --- Alerts (alerts/api) -------------------------------------------------------------------------


def _make_alert(tenant: Tenant) -> Any:
    from alerts.tests.factories import make_alert

    return make_alert(tenant).pk


OBJECT_FACTORIES["alert_id"] = _make_alert
AUTHENTICATED_NON_TENANT_ROUTES["/api/v1/alerts/"] = (
    "Every alert, platform alerts included: platform staff only (checked in the view)."
)
WRITE_BODIES.update(
    {
        f"{_T}/alerts/<uuid:alert_id>/acknowledge": {},
        f"{_T}/alerts/<uuid:alert_id>/resolve": {"reason": "x"},
    }
)
# Container health (agents/api/health.py): a runtime's report.
WRITE_BODIES[f"{_T}/health"] = {"container_id": "harness-container", "status": "unhealthy"}


def _make_participant(tenant: Tenant) -> uuid.UUID:
    """A member's participant, made by the graph's sync."""
    from insights.models import Participant
    from insights.services.graph import participants_sync

    user = MembershipFactory.create(tenant=tenant, role=Role.objects.get(tenant=None, slug="member")).user
    participants_sync(tenant=tenant)
    with platform_bypass(reason="isolation harness", log=False):
        pk: uuid.UUID = Participant.objects.get(tenant=tenant, user=user).pk
    return pk


OBJECT_FACTORIES["participant_id"] = _make_participant
