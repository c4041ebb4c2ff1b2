"""No 5xx from client input, ever: the bad-input corpus against every route of the URL map.

The routes come from the URL map (through the isolation harness's registry) when this module is
collected, so a new route is probed without anyone editing this file; the OpenAPI schema says
which body fields and query parameters each operation has; the corpus and the generator live in
`core/tests/bad_input.py`. For every write route: the valid body with each field replaced in turn
by each bad value, the body replaced whole (deep nesting, a huge body, invalid UTF-8, JSON
scalars, an empty body), odd content types and bad keys; for every route: each query parameter
(declared, or read by the view) set to each bad value, repeated and unknown parameters, declared
headers, and NUL / lone-surrogate bytes in the path, sent by the route's caller and, for tenant
routes, by the owner of another tenant (whose refusal is audited with the path).

Callers authenticate as a client does: a session's JWT in `Authorization: Bearer`. The caller of a
route is the owner of a fresh tenant, a platform admin where the owner is refused (403) the valid
request, and nobody on the public routes. Each probe runs in a savepoint that is rolled back (and
the cache is cleared after one that succeeded), so every probe meets the same state: a probe that
succeeds cannot turn the next ones into 404s or 409s.

Each request must answer below 500, with a JSON body in the error format for every 4xx and no
traceback text; a route's failures are reported together, so one bad route hides no other. Then
the issue's exact expectations, each as its own test.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.db import transaction
from django.http import QueryDict
from django.test import Client

from core.tests import bad_input, isolation
from core.tests.bad_input import Caller, Probe, Scene
from core.tests.isolation import Route

ERROR_KEYS = {"type", "code", "detail", "errors"}
TRACEBACK_MARKERS = (b"Traceback (most recent call last)", b'File "/', b"Internal Server Error")
SHOW = 300  # characters of an answer shown in a failure message

# Discovered at collection time (pytest-django has set Django up by then).
WRITE_CASES = bad_input.write_cases()
READ_CASES = bad_input.read_cases()
# JSON endpoints: the writes that take a body (the schema says so, or does not describe them).
JSON_CASES = [(r, m) for r, m in WRITE_CASES if bad_input.takes_body(r, m)]
DECIMAL_CASES = [
    (r, m, f) for r, m in WRITE_CASES for f in bad_input.fields_where(r, m, bad_input.is_decimal)
]
CHOICE_CASES = [(r, m, f) for r, m in WRITE_CASES for f in bad_input.fields_where(r, m, bad_input.is_choice)]


def _params(cases: list[tuple[Any, ...]]) -> list[Any]:
    return [pytest.param(*case, id=bad_input.case_id(case[0], case[1], *case[2:])) for case in cases]


# --- Sending -----------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    content: bytes
    content_type: str
    error: str = ""  # an exception the request raised instead of answering (a 500 in production)
    cause: str = ""  # the exception logged while answering (what a 500 hides), if any


PROJECT_ROOT = Path(__file__).resolve().parents[2]


def describe_exception(exc_info: Any) -> str:
    """`Type: message (at the innermost frame; in the innermost frame of the project's own code)`."""
    kind, value, trace = exc_info
    frames = traceback.extract_tb(trace)
    if not frames:
        return f"{kind.__name__}: {str(value)[:120]}"

    def where(frame: traceback.FrameSummary) -> str:
        path = Path(frame.filename)
        shown = path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path.name
        return f"{shown}:{frame.lineno} {frame.name}"

    own = [f for f in frames if f.filename.startswith(str(PROJECT_ROOT)) and "/.venv/" not in f.filename]
    inner = f"at {where(frames[-1])}" + (
        f", from {where(own[-1])}" if own and own[-1] is not frames[-1] else ""
    )
    return f"{kind.__name__}: {str(value)[:120]} ({inner})"


class _ExceptionLog(logging.Handler):
    """Collects the exceptions logged while a request is answered (the 500 handler logs them)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[0] is not None:
            self.seen.append(describe_exception(record.exc_info))


@contextmanager
def logged_exceptions() -> Iterator[list[str]]:
    handler = _ExceptionLog()
    loggers = [logging.getLogger(), logging.getLogger("django")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler.seen
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


def _client() -> Client:
    return Client(raise_request_exception=False)


def send(probe: Probe, caller: Caller, client: Client | None = None, *, keep: bool = False) -> Answer:
    """Send `probe` as `caller`, in a savepoint rolled back afterwards (unless `keep`)."""
    client = client or _client()
    extra: dict[str, Any] = {**caller.headers(), "CONTENT_TYPE": probe.content_type or ""}
    extra |= {"HTTP_" + name.upper().replace("-", "_"): value for name, value in probe.headers}
    status = 500
    with logged_exceptions() as seen:
        try:
            with transaction.atomic():
                response = client.generic(
                    probe.method, probe.url, probe.body, probe.content_type or "", **extra
                )
                status = response.status_code
                # A streamed answer (the statement CSV) is produced while it is read: read it here.
                content = (
                    b"".join(response.streaming_content)  # type: ignore[attr-defined]  # a StreamingHttpResponse
                    if response.streaming
                    else response.content
                )
                transaction.set_rollback(not keep)
        except Exception:  # noqa: BLE001  # whatever escapes the stack is what the test reports
            return Answer(500, b"", "", error=describe_exception(sys.exc_info()))
        finally:
            if status < 400 and not keep:
                # A write that succeeded may have bumped cached configuration the rollback undid.
                cache.clear()
    return Answer(status, content, response.get("Content-Type", ""), cause="; ".join(dict.fromkeys(seen)))


def _short(url: str) -> str:
    return url if len(url) <= 160 else f"{url[:150]}...({len(url)} characters)"


def show(probe: Probe, caller: Caller, answer: Answer) -> str:
    shown = f"raised {answer.error}" if answer.error else repr(answer.content[:SHOW])
    cause = f" <- {answer.cause}" if answer.cause and answer.status >= 500 else ""
    return (
        f"{probe.method} {_short(probe.url)} [{probe.what}] as {caller.name}: {answer.status} {shown}{cause}"
    )


def error_format_problem(answer: Answer) -> str:
    """Why a 4xx answer is not the JSON error format; '' when it is."""
    try:
        body = json.loads(answer.content)
    except ValueError:
        return f"not JSON ({answer.content_type or 'no content type'})"
    if not isinstance(body, dict) or set(body) != ERROR_KEYS:
        return f"not the error format {sorted(ERROR_KEYS)}"
    if not (
        isinstance(body["code"], str) and isinstance(body["detail"], str) and isinstance(body["errors"], dict)
    ):
        return "error format with wrong types (code, detail: strings; errors: an object)"
    return ""


def problem(answer: Answer) -> str:
    """Why an answer breaks the rule (below 500, 4xx in the error format, no traceback); '' if not."""
    if answer.error:
        return "raised instead of answering"
    if answer.status >= 500:
        return "server error"
    if any(marker in answer.content for marker in TRACEBACK_MARKERS):
        return "traceback text in the answer"
    if 400 <= answer.status < 500:
        return error_format_problem(answer)
    return ""


# --- A route's run -------------------------------------------------------------------------------


@contextmanager
def recording_query_reads() -> Iterator[set[str]]:
    """The parameter names a request looks up (`request.GET.get(name)` and the like)."""
    names: set[str] = set()

    def recorder(original: Any) -> Any:
        def read(self: Any, key: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(key, str):
                names.add(key)
            return original(self, key, *args, **kwargs)

        return read

    with pytest.MonkeyPatch.context() as patch:
        for name in ("get", "getlist", "__getitem__", "__contains__"):
            patch.setattr(QueryDict, name, recorder(getattr(QueryDict, name)))
        yield names


@dataclass
class Run:
    """One route and method: the scene, the caller, the valid request, and the failures seen."""

    route: Route
    method: str
    scene: Scene
    values: dict[str, Any]
    body: dict[str, Any]
    caller: Caller
    baseline: Answer
    query_reads: set[str]
    client: Client = field(default_factory=_client)
    sent: int = 0
    failures: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, route: Route, method: str) -> Run:
        scene = bad_input.make_scene()
        values = bad_input.prepare(route, scene)
        body = bad_input.valid_body(route, scene) if method in bad_input.WRITE_METHODS else {}
        url = route.url(**values)
        valid = Probe("the valid request", method, url, bad_input.encode(body) if body else b"")
        # The owner, or a platform admin where the owner may not (platform routes); nobody on
        # the public ones.
        candidates = ["anonymous"] if bad_input.is_public(route) else ["owner", "admin"]
        for name in candidates:
            caller = bad_input.ANONYMOUS if name == "anonymous" else getattr(scene, name)
            with recording_query_reads() as reads:
                baseline = send(valid, caller)
            if baseline.status != 403:
                break
        return cls(route, method, scene, values, body, caller, baseline, reads)

    @property
    def url(self) -> str:
        return self.route.url(**self.values)

    @property
    def valid_bytes(self) -> bytes:
        return bad_input.encode(self.body) if self.body else b""

    def caller_of(self, probe: Probe) -> Caller:
        return {"outsider": self.scene.outsider, "anonymous": bad_input.ANONYMOUS}.get(
            probe.caller, self.caller
        )

    def check(self, probes: Iterable[Probe]) -> None:
        for probe in probes:
            caller = self.caller_of(probe)
            answer = send(probe, caller, self.client)
            self.sent += 1
            why = problem(answer)
            if why:
                self.failures.append(f"{why}: {show(probe, caller, answer)}")

    def common_probes(self) -> Iterator[Probe]:
        """Query parameters, declared headers and the path: for reads and writes alike.

        Declared parameters get the whole query corpus; parameters the view reads without
        declaring them (DRF's `format`, a list's `q`, the schema document's `lang`) get the text
        rules."""
        declared = bad_input.parameters(self.route, self.method, "query")
        undeclared = sorted(self.query_reads - set(declared))
        names = [*declared, *undeclared]
        body = self.valid_bytes
        yield from bad_input.query_probes(self.method, self.url, names, body, short=undeclared)
        headers = bad_input.parameters(self.route, self.method, "header")
        yield from bad_input.header_probes(self.method, self.url, headers, body)
        yield from bad_input.path_probes(self.route, self.method, self.values, body)

    def expect_valid_request_to_succeed(self) -> None:
        """Without a valid request that succeeds, every probe could be refused for a reason of its
        own (a missing field, a wrong state) before the bad value is looked at."""
        if self.baseline.status >= 400:
            valid = show(Probe("the valid request", self.method, self.url), self.caller, self.baseline)
            self.failures.append(
                "the valid request did not succeed, so the mutations may not reach the code: give the "
                "route a body or a precondition in core/tests/isolation.py (tenant routes) or "
                f"core/tests/bad_input.py (the others): {valid}"
            )

    def assert_clean(self) -> None:
        header = (
            f"{len(self.failures)} problems in {self.sent} bad-input requests to {self.method} "
            f"{self.route.path} (caller: {self.caller.name}; "
            f"the valid request answered {self.baseline.status}):"
        )
        if self.failures:
            pytest.fail("\n".join([header, *self.failures]), pytrace=False)


# --- The inventory -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_bad_input_inventory__url_map_walked__known_routes_are_probed() -> None:
    """A walk that found nothing (or lost the hand-parsed usage routes) cannot pass vacuously."""
    writes = {(r.path.removeprefix("/api/v1/tenants/<uuid:tenant_id>"), m) for r, m in WRITE_CASES}
    reads = {r.path.removeprefix("/api/v1/tenants/<uuid:tenant_id>") for r, _ in READ_CASES}

    for known in [
        ("/usage", "POST"),
        ("/usage/batch", "POST"),
        ("/teams/", "POST"),
        ("/api/v1/auth/login", "POST"),
    ]:
        assert known in writes, f"{known} is not among the write routes probed"
    for path in ["/members/", "/credits/statement.csv", "/credits/spend", "/api/v1/billing/prices"]:
        assert path in reads, f"{path} is not among the read routes probed"
    assert len(WRITE_CASES) >= 50, len(WRITE_CASES)
    assert len(READ_CASES) >= 35, len(READ_CASES)


@pytest.mark.django_db
def test_bad_input_registry__each_entry__matches_a_route() -> None:
    routes = isolation.api_routes()
    registries: dict[str, dict[str, Any]] = {
        "BODIES": bad_input.BODIES,
        "URL_VALUES": bad_input.URL_VALUES,
        "PREPARATIONS": bad_input.PREPARATIONS,
    }

    stale = [
        f"core/tests/bad_input.py {name}[{pattern!r}] matches no route: remove it"
        for name, entries in registries.items()
        for pattern in entries
        if not any(route.matches(pattern) for route in routes)
    ]
    assert not stale, "\n".join(stale)


# --- The corpus against every route ------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "method"), _params(WRITE_CASES))
def test_write_route__bad_input_corpus__never_5xx_and_every_4xx_in_the_error_format(
    route: Route, method: str
) -> None:
    run = Run.start(route, method)
    run.expect_valid_request_to_succeed()

    if bad_input.takes_body(route, method):
        run.check(bad_input.field_probes(route, method, run.url, run.body))
    run.check(bad_input.whole_body_probes(method, run.url, run.body))
    run.check(run.common_probes())

    assert run.sent > 0
    run.assert_clean()


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "method"), _params(READ_CASES))
def test_read_route__bad_query_parameters_and_paths__never_5xx_and_every_4xx_in_the_error_format(
    route: Route, method: str
) -> None:
    run = Run.start(route, method)
    run.expect_valid_request_to_succeed()

    run.check(run.common_probes())

    assert run.sent > 0
    run.assert_clean()


# --- The exact expectations --------------------------------------------------------------


def _json(answer: Answer) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(answer.content)
    return data


def _assert_400_naming(answer: Answer, names: Iterable[str], context: str) -> dict[str, Any]:
    """A 400 in the error format whose `errors` name one of `names`."""
    assert answer.status == 400, (
        f"{context}: expected 400, got {answer.status} {answer.error or answer.content[:SHOW]!r}"
    )
    assert not error_format_problem(answer), (
        f"{context}: {error_format_problem(answer)}: {answer.content[:SHOW]!r}"
    )
    body = _json(answer)
    named = [
        key
        for key in body["errors"]
        for name in names
        if re.fullmatch(rf"{re.escape(name)}(?:[.\[].*)?", key)
    ]
    assert named, f"{context}: the errors name none of {sorted(names)}: {answer.content[:SHOW]!r}"
    return body


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "method"), _params(JSON_CASES))
def test_json_endpoint__deeply_nested_body__400_not_413_not_500_authenticated_or_not(
    route: Route, method: str
) -> None:
    """The route's caller gets 400. So does an anonymous caller of a public route; a private route
    may refuse the anonymous caller first (401) or reject the body at the edge first (400)."""
    run = Run.start(route, method)
    probe = Probe("[ x 100,000", method, run.url, bad_input.DEEP_NESTING)

    answer = send(probe, run.caller)
    anonymous = send(probe, bad_input.ANONYMOUS)

    assert answer.status == 400, (
        f"as {run.caller.name}: {answer.status} {answer.error or answer.content[:SHOW]!r}"
    )
    assert not error_format_problem(answer), answer.content[:SHOW]
    allowed = {400} if bad_input.is_public(route) else {400, 401}
    shown = anonymous.error or anonymous.content[:SHOW]
    assert anonymous.status in allowed, f"anonymous: wanted {sorted(allowed)}: {anonymous.status} {shown!r}"
    assert not error_format_problem(anonymous), anonymous.content[:SHOW]


@pytest.mark.django_db
def test_decimal_fields__found_in_the_schema__include_the_known_credit_fields() -> None:
    found = {(r.path.rsplit("<uuid:tenant_id>", 1)[-1], m, f) for r, m, f in DECIMAL_CASES}

    for known in [
        ("/credits/transactions", "POST", "amount"),
        ("/credits/thresholds", "POST", "threshold"),
        ("/credits", "PATCH", "overdraft_limit"),
        ("/usage/reservations", "POST", "amount"),
        ("/flags/", "POST", "rollout_percentage"),
    ]:
        assert known in found, f"{known} is not a decimal field in the schema; found {sorted(found)}"


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "method", "field_name"), _params(DECIMAL_CASES))
def test_decimal_field__underscore_digits__400_naming_the_field(
    route: Route, method: str, field_name: str
) -> None:
    run = Run.start(route, method)
    body = {**run.body, field_name: "1_000"}

    answer = send(Probe(f'{field_name} = "1_000"', method, run.url, bad_input.encode(body)), run.caller)

    _assert_400_naming(answer, [field_name], f"{method} {run.url} {field_name}=1_000 as {run.caller.name}")


@pytest.mark.django_db
def test_choice_fields__found_in_the_schema__include_scopes_environment_and_kind() -> None:
    found = {(r.path.rsplit("<uuid:tenant_id>", 1)[-1], m, f) for r, m, f in CHOICE_CASES}

    for known in [
        ("/api-keys/", "POST", "scopes"),
        ("/flags/", "POST", "environment"),
        ("/credits/transactions", "POST", "kind"),
    ]:
        assert known in found, f"{known} is not a choice field in the schema; found {sorted(found)}"


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "method", "field_name"), _params(CHOICE_CASES))
def test_choice_field__lone_surrogate__400_naming_the_field(
    route: Route, method: str, field_name: str
) -> None:
    run = Run.start(route, method)
    spec = bad_input.body_fields(bad_input.operation(route, method))[field_name]
    value: Any = ["\ud800"] if spec.get("type") == "array" else "\ud800"
    body = {**run.body, field_name: value}

    answer = send(Probe(f"{field_name} = \\ud800", method, run.url, bad_input.encode(body)), run.caller)

    _assert_400_naming(answer, [field_name], f"{method} {run.url} {field_name}=\\ud800 as {run.caller.name}")


# --- Usage: the hand-parsed bodies ---------------------------------------------------------------

USAGE = {"model": "claude-sonnet-4-5", "input_tokens": 1000, "output_tokens": 100}
NUL, SURROGATE = "\u0000", "\ud800"
# (where the bad string goes, the field the error must name) for single charges and batch events.
USAGE_POISON = [
    pytest.param(where, char, id=f"{where} with {label}")
    for where in ("model", "description", "metadata value", "metadata key")
    for char, label in ((NUL, "NUL"), (SURROGATE, "lone surrogate"))
]


def _poisoned(event: dict[str, Any], where: str, char: str) -> dict[str, Any]:
    if where == "model":
        return {**event, "model": f"claude{char}"}
    if where == "description":
        return {**event, "description": f"run {char} 1"}
    if where == "metadata value":
        return {**event, "metadata": {"run": f"a{char}b"}}
    return {**event, "metadata": {f"k{char}": "v"}}


@dataclass
class Usage:
    scene: Scene

    @classmethod
    def start(cls) -> Usage:
        from billing.tests.factories import fund

        scene = bad_input.make_scene()
        fund(scene.tenant, 100)
        return cls(scene)

    def url(self, rest: str) -> str:
        return f"/api/v1/tenants/{self.scene.tenant.pk}/{rest}"

    def post(self, rest: str, body: Any) -> Answer:
        return send(Probe(rest, "POST", self.url(rest), bad_input.encode(body)), self.scene.owner, keep=True)

    def ledger_size(self) -> int:
        from billing.tests.factories import entries

        return len(entries(self.scene.tenant))


@pytest.mark.django_db
def test_usage_charge__without_model__400_naming_model_and_nothing_charged() -> None:
    usage = Usage.start()
    before = usage.ledger_size()

    answer = usage.post("usage", {"input_tokens": 1000, "output_tokens": 100, "idempotency_key": "no-model"})

    _assert_400_naming(answer, ["model"], "POST usage without model")
    assert usage.ledger_size() == before


@pytest.mark.django_db
@pytest.mark.parametrize(("where", "char"), USAGE_POISON)
def test_usage_charge__nul_or_lone_surrogate_in_a_field__400_and_nothing_charged(
    where: str, char: str
) -> None:
    usage = Usage.start()
    before = usage.ledger_size()
    event = _poisoned({**USAGE, "idempotency_key": "poisoned"}, where, char)

    answer = usage.post("usage", event)

    _assert_400_naming(answer, [where.split()[0]], f"POST usage with {where} {char!r}")
    assert usage.ledger_size() == before


@pytest.mark.django_db
@pytest.mark.parametrize(("where", "char"), USAGE_POISON)
def test_usage_batch__one_event_with_nul_or_lone_surrogate__that_event_400_the_others_charged(
    where: str, char: str
) -> None:
    usage = Usage.start()
    before = usage.ledger_size()
    events = [
        {**USAGE, "idempotency_key": "good-1"},
        _poisoned({**USAGE, "idempotency_key": "bad-2"}, where, char),
        {**USAGE, "idempotency_key": "good-3"},
    ]

    answer = usage.post("usage/batch", {"events": events})

    assert answer.status == 200, (
        f"batch with {where} {char!r}: {answer.status} {answer.error or answer.content[:SHOW]!r}"
    )
    results = _json(answer)["results"]
    assert [r["status"] for r in results] == [201, 400, 201], results
    assert set(results[1]["body"]) == ERROR_KEYS, results[1]
    assert any(key.split(".")[0] == where.split()[0] for key in results[1]["body"]["errors"]), results[1]
    assert usage.ledger_size() == before + 2


# --- Query parameters the issue names ------------------------------------------------------------


def _get(scene: Scene, url: str) -> Answer:
    return send(Probe("GET", "GET", url), scene.owner)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("rest", "parameter"),
    [
        pytest.param("members/?q=%00", "q", id="members q"),
        pytest.param("/billing/prices?model=%00", "model", id="prices model"),
    ],
)
def test_text_query_parameter__nul__400_in_the_error_format(rest: str, parameter: str) -> None:
    scene = bad_input.make_scene()
    url = f"/api/v1{rest}" if rest.startswith("/") else f"/api/v1/tenants/{scene.tenant.pk}/{rest}"

    answer = _get(scene, url)

    assert answer.status == 400, f"GET {url}: {answer.status} {answer.error or answer.content[:SHOW]!r}"
    assert not error_format_problem(answer), answer.content[:SHOW]


_BOUND = re.compile(r"(?<!\d)\d{4}(?:-\d{2}){0,2}(?!\d)")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("rest", "parameter", "value"),
    [
        pytest.param("credits/statement.csv", "month", "9999-12", id="statement month 9999-12"),
        pytest.param("credits/spend", "start", "9999-12-31", id="spend start 9999-12-31"),
        pytest.param("credits/statement.csv", "start", "9999-12-31", id="statement start 9999-12-31"),
        pytest.param("credits/spend", "month", "9999-12", id="spend month 9999-12"),
    ],
)
def test_period_query__out_of_range__400_naming_the_accepted_range(
    rest: str, parameter: str, value: str
) -> None:
    scene = bad_input.make_scene()
    url = f"/api/v1/tenants/{scene.tenant.pk}/{rest}?{parameter}={value}"

    answer = _get(scene, url)

    body = _assert_400_naming(answer, [parameter], f"GET {url}")
    text = " ".join([body["detail"], *body["errors"][parameter]])
    bounds = [b for b in _BOUND.findall(text) if b != value]
    assert bounds, f"GET {url}: the error does not name the accepted range (no date or year in {text!r})"
