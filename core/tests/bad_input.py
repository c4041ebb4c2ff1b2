"""The bad-input suite's corpus, what it learns from the OpenAPI schema, and its request generator.

The suite (`core/tests/test_bad_input.py`) walks the URL map through the isolation harness's
registry (`core/tests/isolation.py`): which routes exist, how to build their URLs, which body makes
each write succeed and which state it needs. The OpenAPI schema says what to mutate: the fields
of each request body, with their types and formats, and the query parameters. A route the schema
does not describe still gets the generic corpus, on the keys of its valid body.

What the harness's registry does not know, because it covers tenant-scoped routes only, lives
here: the bodies, URL values and preconditions of the public and the authenticated non-tenant
routes (`BODIES`, `URL_VALUES`, `PREPARATIONS`). A route without an entry gets the harness's
default body, and is still probed.

Every probe is a request sent as raw bytes, so what reaches the server is exactly what a client
could send: `json.dumps` writes a lone surrogate as the escape `"\\ud800"`, and a `Raw` value (`NaN`,
`1e999`, a 5,000-digit number) is copied into the JSON text as it is.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from core.tests import isolation
from core.tests.isolation import Route

# --- The corpus --------------------------------------------------------------------------------


class Raw(str):
    """JSON text copied into a body as it is (what `json.dumps` cannot write)."""

    __slots__ = ()


@dataclass(frozen=True)
class Sample:
    """One bad value: `label` names it in failure messages; `kinds` limits it to fields of those
    kinds (see `kind_of`), None sends it to every field."""

    label: str
    value: Any
    kinds: frozenset[str] | None = None


NUMBER, DATE, TEXT, LIST, FREE = "number", "date", "text", "list", "free"


def _only(*kinds: str) -> frozenset[str]:
    return frozenset(kinds)


MEGABYTE = 1_000_000
# Sent once per route, in its first text field: DRF's string validators walk a string character by
# character in Python (~150 ms a megabyte), so one per field would cost the suite minutes; every
# field gets a 10,000-character string instead.
LONG_STRING = "x" * MEGABYTE

# Each replaces one field of a valid body in turn (and each field of the first item of a list of
# objects). The first ones go to every field; the rest only where they mean something.
BODY_SAMPLES: tuple[Sample, ...] = (
    Sample("NUL in a string", "a\u0000b"),
    Sample("lone surrogate", "\ud800"),
    Sample("10**30", 10**30),
    Sample("-10**30", -(10**30)),
    Sample("1e308", 1e308),
    Sample("-1e308", -1e308),
    Sample("NaN literal", Raw("NaN")),
    Sample('"NaN"', "NaN"),
    Sample('"Infinity"', "Infinity"),
    Sample('"1_000"', "1_000"),
    Sample('"99999999999999999999"', "99999999999999999999"),
    Sample('"not-a-uuid"', "not-a-uuid"),
    Sample("uuid with a g", "00000000-0000-0000-0000-00000000000g"),
    Sample('"9999-12-31"', "9999-12-31"),
    Sample('"0001-01-01"', "0001-01-01"),
    Sample('"9999-12"', "9999-12"),
    Sample("a list", ["x"]),
    Sample("an object", {"a": 1}),
    Sample("true", True),
    Sample("null", None),
    # Numbers and decimals.
    Sample("1e999 (infinite as a float)", Raw("1e999"), _only(NUMBER)),
    Sample("5000-digit integer", Raw("9" * 5000), _only(NUMBER)),
    Sample('"1e3"', "1e3", _only(NUMBER)),
    Sample('" 1 "', " 1 ", _only(NUMBER)),
    # Dates and times.
    Sample('"9999-12-31T23:59:59Z"', "9999-12-31T23:59:59Z", _only(DATE)),
    # Text.
    Sample("10,000-character string", "x" * 10_000, _only(TEXT, FREE)),
    Sample("lone low surrogate inside text", "ab\udfffcd", _only(TEXT, FREE)),
    # Lists (of choices: API-key scopes; of ids; of roles).
    Sample("a list holding a lone surrogate", ["\ud800"], _only(LIST, FREE)),
    Sample("a list holding a NUL", ["a\u0000b"], _only(LIST)),
    Sample("a list holding null and a number", [None, 1], _only(LIST)),
    Sample("a list holding a list", [["x"]], _only(LIST)),
    Sample("a list of 10,000 items", ["x"] * 10_000, _only(LIST)),
    # Free-form JSON (metadata, a setting's value).
    Sample("an object with a NUL key", {"\u0000": 1}, _only(FREE)),
    Sample("an object with a lone-surrogate key", {"\ud800": "x"}, _only(FREE)),
    Sample("an object with a NUL in a nested value", {"a": [{"b": "c\u0000"}]}, _only(FREE)),
)


def kind_of(spec: dict[str, Any] | None) -> frozenset[str]:
    """What kind of field a (resolved) schema describes; every kind when there is no schema."""
    if spec is None:
        return frozenset({NUMBER, DATE, TEXT, LIST, FREE})
    kind, fmt = spec.get("type"), spec.get("format")
    if kind in ("integer", "number") or fmt == "decimal":
        return _only(NUMBER)
    if fmt in ("date", "date-time"):
        return _only(DATE)
    if kind == "string" and not spec.get("enum"):
        return _only(TEXT)
    if kind == "array":
        return _only(LIST)
    if kind in (None, "object") and not spec.get("enum"):
        return _only(FREE)
    return frozenset()


def samples_for(spec: dict[str, Any] | None) -> list[Sample]:
    kinds = kind_of(spec)
    return [s for s in BODY_SAMPLES if s.kinds is None or s.kinds & kinds]


# Query-string values, percent-encoded as a client would send them.
QUERY_SAMPLES: tuple[Sample, ...] = (
    Sample("NUL", "%00"),
    Sample("lone surrogate (UTF-8 bytes)", "%ED%A0%80"),
    Sample("invalid UTF-8", "%FF%FE"),
    Sample("empty", ""),
    Sample("10,000 characters", "x" * 10_000),
    Sample("9999-12", "9999-12"),
    Sample("9999-12-31", "9999-12-31"),
    Sample("0001-01-01", "0001-01-01"),
    Sample("1_000", "1_000"),
    Sample("99999999999999999999", "99999999999999999999"),
    Sample("-1", "-1"),
    Sample("NaN", "NaN"),
    Sample("not-a-uuid", "not-a-uuid"),
    Sample("uuid with a g", "00000000-0000-0000-0000-00000000000g"),
)

# For parameters a view reads but the schema does not declare (DRF's `format`, read by every view;
# a list's `q`; the schema document's `lang`): the text rules.
SHORT_QUERY_SAMPLES: tuple[Sample, ...] = (
    Sample("NUL", "%00"),
    Sample("lone surrogate (UTF-8 bytes)", "%ED%A0%80"),
)

# What replaces a URL kwarg, or is appended as a last segment.
PATH_SAMPLES: tuple[Sample, ...] = (
    Sample("NUL", "%00"),
    Sample("lone surrogate (UTF-8 bytes)", "%ED%A0%80"),
)

# Header values (WSGI headers are latin-1 text: a NUL, and bytes that are not UTF-8).
HEADER_SAMPLES: tuple[Sample, ...] = (
    Sample("NUL", "a\u0000b"),
    Sample("invalid UTF-8", "\xff\xfe"),
)

DEEP_NESTING = b"[" * 100_000


@functools.cache
def huge_padding() -> str:
    """Enough text to make a body larger than the API accepts (and than Django's 2.5 MB)."""
    from django.conf import settings

    return "x" * (int(getattr(settings, "API_MAX_BODY_BYTES", 0)) + 3 * MEGABYTE)


UNKNOWN_PARAMETER = "qm_bad_input_unknown"


def dumps(value: Any) -> str:
    """JSON text as a client could send it: `Raw` copied in, everything else as `json.dumps` does."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(dumps(v) for v in value) + "]"
    return json.dumps(value)


def encode(value: Any) -> bytes:
    return dumps(value).encode()


# --- The OpenAPI schema ------------------------------------------------------------------------


@functools.cache
def openapi() -> dict[str, Any]:
    """The project's OpenAPI document, as drf-spectacular generates it for /api/schema/."""
    from drf_spectacular.generators import SchemaGenerator

    schema: dict[str, Any] = SchemaGenerator().get_schema(request=None, public=True)
    return schema


_KWARG = re.compile(r"<(?:[^>:]+:)?(?P<name>[^>]+)>")  # <uuid:tenant_id>
_REGEX_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>[^)]*\)")  # (?P<tenant_id>[^/]+)


def schema_path(route: Route) -> str:
    """The route's key in the schema's `paths`: `<uuid:tenant_id>` becomes `{tenant_id}`."""
    path = _KWARG.sub(lambda m: "{" + m.group("name") + "}", route.path)
    return _REGEX_GROUP.sub(lambda m: "{" + m.group("name") + "}", path)


def operation(route: Route, method: str) -> dict[str, Any] | None:
    """The schema's operation for `method` on `route`; None when the schema does not describe it."""
    found: dict[str, Any] | None = openapi()["paths"].get(schema_path(route), {}).get(method.lower())
    return found


def resolve(schema: Any) -> dict[str, Any]:
    """A schema with its `$ref` followed and its `allOf` merged."""
    if not isinstance(schema, dict):
        return {}
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        target = openapi()["components"]["schemas"].get(name, {})
        return resolve({**{k: v for k, v in schema.items() if k != "$ref"}, **target})
    if "allOf" in schema:
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            merged = {**resolve(part), **merged}
        return merged
    return schema


def body_fields(op: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Field name → its (resolved) schema, for the operation's JSON request body."""
    if not op or "requestBody" not in op:
        return {}
    content = op["requestBody"].get("content", {})
    media: dict[str, Any] = content.get("application/json") or next(iter(content.values()), {})
    properties = resolve(media.get("schema", {})).get("properties", {})
    return {name: resolve(spec) for name, spec in properties.items()}


def item_fields(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """For a list of objects (or an object) field: the fields of one item (or of the object)."""
    if spec.get("type") == "array":
        spec = resolve(spec.get("items", {}))
    return {name: resolve(s) for name, s in spec.get("properties", {}).items()}


def takes_body(route: Route, method: str) -> bool:
    """Whether the operation is documented with a request body (or is not documented at all)."""
    op = operation(route, method)
    return op is None or "requestBody" in op


def parameters(route: Route, method: str, where: str) -> list[str]:
    """The names of the operation's declared parameters `where` (query, header)."""
    op = operation(route, method) or {}
    return [p["name"] for p in op.get("parameters", []) if p.get("in") == where]


def is_decimal(spec: dict[str, Any]) -> bool:
    return spec.get("format") == "decimal"


def is_choice(spec: dict[str, Any]) -> bool:
    """A choice field, or a list of choices."""
    if spec.get("enum"):
        return True
    return spec.get("type") == "array" and bool(resolve(spec.get("items", {})).get("enum"))


def fields_where(route: Route, method: str, test: Callable[[dict[str, Any]], bool]) -> list[str]:
    return [name for name, spec in body_fields(operation(route, method)).items() if test(spec)]


# --- Routes --------------------------------------------------------------------------------------

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def is_public(route: Route) -> bool:
    return isolation.allow_listed(route, isolation.PUBLIC_ROUTES)


def write_cases() -> list[tuple[Route, str]]:
    """Every (route under /api/, write method it implements), in URL-map order."""
    return [(r, m) for r in isolation.api_routes() for m in r.methods if m in WRITE_METHODS]


def read_cases() -> list[tuple[Route, str]]:
    return [(r, "GET") for r in isolation.api_routes() if "GET" in r.methods]


def case_id(route: Route, method: str, *extra: str) -> str:
    return " ".join([method, route.path, *extra])


# --- The scene: callers, objects and bodies ------------------------------------------------------


@dataclass
class Caller:
    """Who sends a probe: a real login (a session and its JWT, sent as a client sends it)."""

    name: str
    user: Any = None
    access: str = ""
    refresh: str = ""

    def headers(self) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.access}"} if self.access else {}


ANONYMOUS = Caller("anonymous")


def logged_in(name: str, user: Any) -> Caller:
    """A caller with tokens of a new session of `user`, as the login endpoint issues them."""
    from accounts.services.auth import session_start

    tokens = session_start(user=user, request=None, mfa_verified=True)
    return Caller(name, user, tokens.access, tokens.refresh)


@dataclass
class Scene:
    """A fresh tenant with its owner, another tenant with its owner, and a platform admin."""

    tenant: Any
    owner: Caller
    outsider: Caller  # the owner of another tenant
    _admin: Caller | None = field(default=None, repr=False)

    @property
    def admin(self) -> Caller:
        if self._admin is None:
            from accounts.tests.factories import UserFactory

            self._admin = logged_in("platform admin", UserFactory.create(platform_admin=True))
        return self._admin


def make_scene() -> Scene:
    from tenants.tests.factories import TenantFactory, member

    tenant, other = TenantFactory.create(), TenantFactory.create()
    return Scene(
        tenant=tenant,
        owner=logged_in("owner", member(tenant, "owner")),
        outsider=logged_in("owner of another tenant", member(other, "owner")),
    )


NEW_PASSWORD = "another-long-passphrase-for-bad-input-7"


def _totp_code(user: Any, *, confirmed: bool, steps_ahead: int = 0) -> str:
    from accounts.tests.conftest import totp_code

    return totp_code(user, confirmed=confirmed, steps_ahead=steps_ahead)


def _enrolled(user: Any) -> Any:
    """`user` with a confirmed authenticator, whose current code confirming it has used up."""
    from accounts.services import mfa

    mfa.totp_enroll(user=user)
    mfa.totp_confirm(user=user, code=_totp_code(user, confirmed=False))
    return user


def _next_code(user: Any) -> str:
    """A code the confirmed device accepts after enrolment used the current one: the next
    period's (within django-otp's tolerance of one step)."""
    return _totp_code(user, confirmed=True, steps_ahead=1)


def _new_user() -> Any:
    from accounts.tests.factories import UserFactory

    return UserFactory.create()


def _challenge(purpose: str, user: Any) -> str:
    from accounts.services import mfa

    return mfa.challenge_issue(user=user, purpose=purpose)


def _login_mfa(scene: Scene) -> dict[str, Any]:
    user = _enrolled(_new_user())
    return {"challenge_token": _challenge("verify", user), "code": _next_code(user)}


def _enroll_confirm(scene: Scene) -> dict[str, Any]:
    from accounts.services import mfa

    user = _new_user()
    mfa.totp_enroll(user=user)
    return {"challenge_token": _challenge("enroll", user), "code": _totp_code(user, confirmed=False)}


def _reset_confirm(scene: Scene) -> dict[str, Any]:
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    user = scene.owner.user
    user.refresh_from_db()  # the token covers last_login, which logging in has just set
    return {
        "uid": urlsafe_base64_encode(force_bytes(user.pk)),
        "token": default_token_generator.make_token(user),
        "new_password": NEW_PASSWORD,
    }


def _invite_accept(scene: Scene) -> dict[str, Any]:
    from tenants.services import invite_create
    from tenants.tests.factories import system_role

    _, token = invite_create(
        tenant=scene.tenant,
        actor=scene.owner.user,
        email="bad-input-invitee@example.com",
        role=system_role("member"),
    )
    return {"token": token, "password": NEW_PASSWORD, "full_name": "Invitee"}


def _totp_confirm(scene: Scene) -> dict[str, Any]:
    from accounts.services import mfa

    mfa.totp_enroll(user=scene.owner.user)
    return {"code": _totp_code(scene.owner.user, confirmed=False)}


def _totp_disable(scene: Scene) -> dict[str, Any]:
    return {"code": _next_code(_enrolled(scene.owner.user))}


def _platform_setting_history(scene: Scene) -> None:
    from tenants.tests.factories import setting_value

    key = isolation.URL_CONSTANTS["key"][0]
    setting_value(None, key, "sk-bad-input-platform-0001")
    setting_value(None, key, "sk-bad-input-platform-0002")


def _second_session(scene: Scene) -> dict[str, Any]:
    from accounts.services.auth import session_start

    return {"session_id": session_start(user=scene.owner.user, request=None, mfa_verified=True).session.pk}


def _platform_flag(scene: Scene) -> dict[str, Any]:
    from tenants.tests.factories import FeatureFlagFactory

    return {"flag_id": FeatureFlagFactory.create(tenant=None).pk}


def _catalogue(name: str) -> Callable[[Scene], dict[str, Any]]:
    """The URL kwarg of a catalogue route: a published row of agents' catalogue (platform-wide)."""

    def make(scene: Scene) -> dict[str, Any]:
        from agents.tests import factories

        made_by: dict[str, Any] = {
            "template_id": factories.TemplateFactory,
            "cookbook_id": factories.CookbookFactory,
            "skill_id": factories.SkillFactory,
        }
        return {name: made_by[name].create().pk}

    return make


def _recipe_body(scene: Scene) -> dict[str, Any]:
    from agents.tests.factories import RECIPE_YAML

    return {"name": "bad-input-recipe", "definition": RECIPE_YAML}


def _ab_result_body(scene: Scene) -> dict[str, Any]:
    from agents.tests.factories import RecipeFactory

    return {
        "recipe_id": str(RecipeFactory.create().pk),
        "variant": "control",
        "metric": "success_rate",
        "sample_size": 100,
        "successes": 40,
        "period_start": "2026-11-01T00:00:00Z",
        "period_end": "2026-11-08T00:00:00Z",
    }


def _ab_recipe(scene: Scene) -> dict[str, Any]:
    """A recipe with A/B results of two variants on one metric (the comparison's defaults)."""
    from agents.tests.factories import AbResultFactory, RecipeFactory

    recipe = RecipeFactory.create()
    AbResultFactory.create(recipe=recipe, variant="control", successes=40)
    AbResultFactory.create(recipe=recipe, variant="shorter-prompt", successes=55)
    return {"recipe_id": recipe.pk}


_AUTH = "/api/v1/auth"
_CATALOGUE = "/api/v1/platform/catalogue"
# Pattern (as in isolation.py) → the body that succeeds, for routes outside the harness's
# WRITE_BODIES (public and authenticated non-tenant ones); made fresh for every test.
BODIES: dict[str, Callable[[Scene], dict[str, Any]]] = {
    f"{_AUTH}/register": lambda s: {
        "email": "bad-input-new@example.com",
        "password": NEW_PASSWORD,
        "tenant_name": "Bad input",
        "full_name": "New",
    },
    f"{_AUTH}/login": lambda s: {"email": s.owner.user.email, "password": _test_password()},
    f"{_AUTH}/login/mfa": _login_mfa,
    f"{_AUTH}/login/mfa/enroll": lambda s: {"challenge_token": _challenge("enroll", _new_user())},
    f"{_AUTH}/login/mfa/enroll/confirm": _enroll_confirm,
    f"{_AUTH}/refresh": lambda s: {"refresh": s.owner.refresh},
    f"{_AUTH}/password/reset": lambda s: {"email": s.owner.user.email},
    f"{_AUTH}/password/reset/confirm": _reset_confirm,
    f"{_AUTH}/password/change": lambda s: {
        "current_password": _test_password(),
        "new_password": NEW_PASSWORD,
    },
    f"{_AUTH}/2fa/totp/confirm": _totp_confirm,
    f"{_AUTH}/2fa/totp/disable": _totp_disable,
    f"{_AUTH}/logout": lambda s: {},
    f"{_AUTH}/2fa/totp": lambda s: {},
    "/api/v1/invites/accept": _invite_accept,
    "/api/v1/tenants/": lambda s: {"name": "Bad input tenant", "admin_email": "bad-input-admin@example.com"},
    "/api/v1/platform/settings/<str:key>/": lambda s: {"value": "sk-bad-input-platform-0003", "reason": "x"},
    "/api/v1/platform/settings/<str:key>/rollback": lambda s: {"version": 1, "reason": "x"},
    "/api/v1/platform/flags/": lambda s: {"key": "bad-input-flag", "rollout_percentage": "10.00"},
    "/api/v1/platform/flags/<uuid:flag_id>/": lambda s: {"rollout_percentage": "50.00"},
    # The agents catalogue: everyone signed in rates; platform staff write.
    "/api/v1/catalogue/skills/<uuid:skill_id>/rate": lambda s: {"stars": 4},
    f"{_CATALOGUE}/templates/": lambda s: {"name": "Bad input template", "slug": "bad-input-template"},
    f"{_CATALOGUE}/templates/<uuid:template_id>/": lambda s: {"description": "x"},
    f"{_CATALOGUE}/templates/<uuid:template_id>/cookbooks/": lambda s: {"name": "Bad input cookbook"},
    f"{_CATALOGUE}/cookbooks/<uuid:cookbook_id>/recipes/": _recipe_body,
    f"{_CATALOGUE}/skills/": lambda s: {
        "name": "Bad input skill",
        "slug": "bad-input-skill",
        "category": "productivity",
        "version": "1.0.0",
    },
    f"{_CATALOGUE}/skills/<uuid:skill_id>/": lambda s: {"description": "x"},
    "/api/v1/platform/ab-tests/": _ab_result_body,
}

# Pattern → URL kwargs of routes that are not tenant-scoped (the harness's OBJECT_FACTORIES make
# tenant objects; a platform flag or the caller's own session is not one).
URL_VALUES: dict[str, Callable[[Scene], dict[str, Any]]] = {
    f"{_AUTH}/sessions/<uuid:session_id>": _second_session,
    "/api/v1/platform/users/<uuid:user_id>/*": lambda s: {"user_id": s.owner.user.pk},
    "/api/v1/platform/flags/<uuid:flag_id>/": _platform_flag,
    "/api/v1/*<uuid:template_id>*": _catalogue("template_id"),
    "/api/v1/*<uuid:cookbook_id>*": _catalogue("cookbook_id"),
    "/api/v1/*<uuid:skill_id>*": _catalogue("skill_id"),
    "/api/v1/ab-tests/<uuid:recipe_id>/*": _ab_recipe,
}

# Pattern → state a non-tenant route needs before a valid request succeeds.
PREPARATIONS: dict[str, Callable[[Scene], None]] = {
    "/api/v1/platform/settings/<str:key>/*": _platform_setting_history,
}


def _test_password() -> str:
    from accounts.tests.factories import TEST_PASSWORD

    return TEST_PASSWORD


def _first(registry: Mapping[str, Any], route: Route) -> Any:
    return next((value for pattern, value in registry.items() if route.matches(pattern)), None)


def prepare(route: Route, scene: Scene) -> dict[str, Any]:
    """Bring the scene into the state the route needs; return the values of its URL kwargs."""
    if route.is_tenant_scoped:
        isolation.prepare(route, scene.tenant)
        values: dict[str, Any] = {isolation.TENANT_KWARG: scene.tenant.pk}
        values |= {kwarg: isolation.object_id(kwarg, scene.tenant) for kwarg in route.object_kwargs}
        return values
    for pattern, preparation in PREPARATIONS.items():
        if route.matches(pattern):
            preparation(scene)
    make = _first(URL_VALUES, route)
    values = make(scene) if make is not None else {}
    return {k: uuid.uuid4() for k in route.kwargs if k not in isolation.URL_CONSTANTS} | values


def valid_body(route: Route, scene: Scene) -> dict[str, Any]:
    """The body with which the route's write succeeds (the harness's, or one of `BODIES`)."""
    make = _first(BODIES, route)
    return dict(make(scene) if make is not None else isolation.write_body(route))


# --- Probes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """One request: `what` says, in failure messages, which mutation it carries."""

    what: str
    method: str
    url: str
    body: bytes = b""
    content_type: str | None = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    caller: str = ""  # "" = the route's caller; otherwise a Scene attribute name (outsider, anonymous)


def _replace(body: dict[str, Any], target: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """A copy of `body` with the field at `target` (a key, or key, index, key) set to `value`."""
    copy: dict[str, Any] = dict(body)
    if len(target) == 1:
        copy[target[0]] = value
        return copy
    name, index, key = target
    items = [dict(item) if isinstance(item, dict) else item for item in copy[name]]
    items[index] = {**items[index], key: value}
    copy[name] = items
    return copy


@dataclass(frozen=True)
class Target:
    """A field to mutate: `path` is (name,) or (list name, index, item field); `spec` its schema
    (None when the schema does not describe it)."""

    path: tuple[Any, ...]
    spec: dict[str, Any] | None

    @property
    def label(self) -> str:
        return self.path[0] if len(self.path) == 1 else f"{self.path[0]}[{self.path[1]}].{self.path[2]}"


def targets(route: Route, method: str, body: dict[str, Any]) -> list[Target]:
    """Every field to mutate: the schema's fields (the valid body's keys when the schema does not
    describe the operation), and the fields of the first item of a list of objects (batch events)."""
    fields = body_fields(operation(route, method))
    found = [Target((name,), spec) for name, spec in fields.items()]
    if not fields:
        found = [Target((name,), None) for name in body]
    for target in list(found):
        name = target.path[0]
        value = body.get(name)
        if isinstance(value, list) and value and isinstance(value[0], dict):
            inner = item_fields(target.spec or {})
            found += [Target((name, 0, key), inner.get(key)) for key in dict.fromkeys([*inner, *value[0]])]
    return found


def field_probes(route: Route, method: str, url: str, body: dict[str, Any]) -> Iterator[Probe]:
    """The valid body with each field replaced in turn by each sample of its kind, and the first
    text field (or the first field) by a 1 MB string."""
    fields = targets(route, method, body)
    for target in fields:
        for sample in samples_for(target.spec):
            mutated = encode(_replace(body, target.path, sample.value))
            yield Probe(f"{target.label} = {sample.label}", method, url, mutated)
    text = [t for t in fields if TEXT in kind_of(t.spec)]
    longest = (text or fields or [Target(("text",), None)])[0]
    mutated = encode(_replace(body, longest.path, LONG_STRING))
    yield Probe(f"{longest.label} = 1 MB string", method, url, mutated)


def _form_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The body as HTML-form fields: lists repeat the key, objects as JSON text, null as empty."""
    fields: dict[str, Any] = {}
    for key, value in body.items():
        if isinstance(value, list):
            fields[key] = [json.dumps(v) if isinstance(v, dict | list) else str(v) for v in value]
        elif isinstance(value, dict):
            fields[key] = json.dumps(value)
        else:
            fields[key] = "" if value is None else str(value)
    return fields


def whole_body_probes(method: str, url: str, body: dict[str, Any]) -> Iterator[Probe]:
    """The body replaced whole: nesting, size, encoding, non-objects, odd content types, bad keys."""
    valid = encode(body)
    yield Probe("body: [ x 100,000 (deep nesting)", method, url, DEEP_NESTING)
    yield Probe('body: {"a": x 100,000 (deep objects)', method, url, b'{"a": ' * 100_000)
    yield Probe("body: huge", method, url, encode({**body, "padding": huge_padding()}))
    yield Probe("body: invalid UTF-8", method, url, b'{"name": "\xff\xfe\xc3"}')
    yield Probe("body: a NUL byte", method, url, b"\x00")
    yield Probe("body: UTF-8 byte order mark", method, url, b"\xef\xbb\xbf" + valid)
    for scalar in (b"1", b"null", b"[1, 2]"):
        yield Probe(f"body: JSON {scalar.decode()}", method, url, scalar)
    yield Probe("body: empty, application/json", method, url, b"")
    yield Probe('key "\\u0000"', method, url, encode({**body, "\u0000": 1}))
    yield Probe('key "\\ud800"', method, url, encode({**body, "\ud800": 1}))
    yield Probe("content type text/plain", method, url, valid, "text/plain")
    yield Probe("content type application/xml", method, url, b"<a><name>x</name></a>", "application/xml")
    yield Probe(
        "content type multipart/form-data, the fields",
        method,
        url,
        encode_multipart(BOUNDARY, _form_fields(body)),
        MULTIPART_CONTENT,
    )
    yield Probe(
        "content type application/x-www-form-urlencoded, the fields",
        method,
        url,
        urlencode(_form_fields(body), doseq=True).encode(),
        "application/x-www-form-urlencoded",
    )
    yield Probe(
        "content type x-www-form-urlencoded with %00 and %ED%A0%80",
        method,
        url,
        b"name=a%00b&reason=%ED%A0%80&%00=1",
        "application/x-www-form-urlencoded",
    )
    yield Probe("no content type", method, url, valid, None)
    for odd in ("application/json; charset=bogus", "application/json; charset=utf-16", "text/json\x00"):
        yield Probe(f"content type {odd!r}", method, url, valid, odd)


def _with_query(url: str, query: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{query}"


def query_probes(
    method: str, url: str, names: list[str], body: bytes, *, short: Iterable[str] = ()
) -> Iterator[Probe]:
    """Each parameter set to each query sample (the `short` ones to the short list only), each
    declared one repeated, and unknown parameters."""
    short = set(short)
    for name in names:
        for sample in SHORT_QUERY_SAMPLES if name in short else QUERY_SAMPLES:
            yield Probe(f"?{name}={sample.label}", method, _with_query(url, f"{name}={sample.value}"), body)
        if name not in short:
            yield Probe(f"?{name} repeated", method, _with_query(url, f"{name}=1&{name}=2"), body)
    yield Probe("unknown parameter", method, _with_query(url, f"{UNKNOWN_PARAMETER}=%00"), body)
    yield Probe("parameter named %00", method, _with_query(url, "%00=1&%ED%A0%80=2"), body)


def header_probes(method: str, url: str, names: list[str], body: bytes) -> Iterator[Probe]:
    for name in names:
        for sample in HEADER_SAMPLES:
            yield Probe(f"header {name}: {sample.label}", method, url, body, headers=((name, sample.value),))


def path_probes(route: Route, method: str, values: dict[str, Any], body: bytes) -> Iterator[Probe]:
    """Each URL kwarg with each path sample appended, and a last segment; sent by the route's
    caller and, on tenant routes, by the owner of another tenant (whose refusal is audited, path
    included)."""
    urls: list[tuple[str, str]] = []
    for kwarg in route.kwargs:
        for sample in PATH_SAMPLES:
            value = values.get(kwarg, isolation.URL_CONSTANTS.get(kwarg, ("",))[0])
            urls.append(
                (f"path {kwarg} + {sample.label}", route.url(**{**values, kwarg: f"{value}{sample.value}"}))
            )
    base = route.url(**values)
    for sample in PATH_SAMPLES:
        urls.append((f"path + segment {sample.label}", f"{base.rstrip('/')}/{sample.value}"))
    urls.append(("path + %00 after the last character", f"{base}%00"))
    for what, url in urls:
        yield Probe(what, method, url, body)
        # A URL that no longer resolves is a 404 for everyone; one that does reaches the view,
        # which refuses an outsider (and audits the refusal, path included).
        if route.is_tenant_scoped and _resolves(url):
            yield Probe(f"{what}, as the owner of another tenant", method, url, body, caller="outsider")


def _resolves(url: str) -> bool:
    """Whether Django's URL map matches `url`, decoded as Django decodes a request's path."""
    from urllib.parse import unquote_to_bytes, urlsplit

    from django.urls import Resolver404, resolve
    from django.utils.encoding import repercent_broken_unicode

    try:
        resolve(repercent_broken_unicode(unquote_to_bytes(urlsplit(url).path)).decode())
    except Resolver404:
        return False
    return True
