"""Input hygiene at the edge: the rules every value from outside passes once.

- Text: no NUL character (PostgreSQL text cannot store it) and no lone UTF-16 surrogate
  (U+D800-U+DFFF: JSON can escape one, UTF-8 cannot encode it). Request bodies are checked by
  the API's JSON parser, paths and query strings by `InputHygieneMiddleware`, hand-parsed
  values (a usage batch's events) by `check_json` with the same rule.
- JSON: at most `API_MAX_BODY_BYTES` bytes (a usage batch: `API_MAX_BATCH_BODY_BYTES`) and
  `API_MAX_JSON_DEPTH` levels of nesting; NaN and Infinity are not JSON. The body limit also
  bounds the CPU a request can cost: DRF's string validators walk text character by character.
- Decimals: digits with at most one point and an optional sign (`parse_decimal`); Python's
  Decimal would also take `1_000`, `1e3`, `NaN` and surrounding spaces.

A refusal is a 400 in the API's error format naming the field. What is written to logs and to
the audit log goes through `clean_text` / `clean_json` instead, so that recording a refusal can
never fail on the very value being refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from rest_framework import parsers, renderers, serializers
from rest_framework.exceptions import ParseError

from core.errors import InvalidInput, api_error_response, is_api_request

# A NUL, or a UTF-16 surrogate (only ever lone in a Python str decoded from JSON).
_BAD_CHARACTER = re.compile("[\x00\ud800-\udfff]")
# In a raw JSON body, the only ways to spell them: a `\u0000` or `\udXXX` escape (a raw NUL is
# a control character strict JSON refuses, and raw surrogates are not valid UTF-8).
_BAD_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")

BAD_CHARACTER_MESSAGE = "NUL characters and lone surrogates (U+D800 to U+DFFF) are not allowed."
DECIMAL_MESSAGE = "A decimal number is required: digits, at most one point, an optional sign."


def has_bad_character(value: str) -> bool:
    return _BAD_CHARACTER.search(value) is not None


def invalid_characters(field: str) -> InvalidInput:
    return InvalidInput(
        "Some fields contain characters that are not allowed.",
        code="invalid_characters",
        errors={field: [BAD_CHARACTER_MESSAGE]},
    )


def check_text(value: str, field: str) -> str:
    """`value`, or a 400 naming `field` if it holds a NUL or a lone surrogate."""
    if has_bad_character(value):
        raise invalid_characters(field)
    return value


def _join(path: str, part: object) -> str:
    return f"{path}.{part}" if path else str(part)


def check_json(value: Any, *, field: str = "", max_depth: int | None = None, strings: bool = True) -> Any:
    """`value` (parsed JSON), checked: nesting depth, and every key and string (`strings`).

    Iterative, so a deep document cannot exhaust the stack here either. Errors name the path of
    the offending value (`events.3.metadata`), or `non_field_errors` at the top.
    """
    limit = settings.API_MAX_JSON_DEPTH if max_depth is None else max_depth
    stack: list[tuple[Any, int, str]] = [(value, 0, field)]
    while stack:
        node, depth, path = stack.pop()
        if isinstance(node, str):
            if strings and has_bad_character(node):
                raise invalid_characters(path or "non_field_errors")
            continue
        if isinstance(node, dict):
            items: Any = node.items()
        elif isinstance(node, list):
            items = enumerate(node)
        else:
            continue
        if depth >= limit:
            raise too_deep(path)
        for key, child in items:
            if strings and isinstance(key, str) and has_bad_character(key):
                raise invalid_characters(path or "non_field_errors")
            if isinstance(child, dict | list | str):
                stack.append((child, depth + 1, _join(path, key)))
    return value


def too_deep(field: str = "") -> InvalidInput:
    return InvalidInput(
        f"JSON may nest at most {settings.API_MAX_JSON_DEPTH} levels deep.",
        code="too_deeply_nested",
        errors={field or "non_field_errors": ["Too deeply nested."]},
    )


def decimal_or_none(value: Any) -> Decimal | None:
    """`value` as a Decimal if it is a JSON number or a string in the decimal grammar: digits,
    at most one point, an optional sign. None for what Python's Decimal() would take besides:
    `1_000`, `1e3`, `NaN`, `Infinity`, spaces around the digits, booleans."""
    text = None
    if isinstance(value, str):
        text = value
    elif isinstance(value, float):
        text = repr(value)  # 1e+20 and inf fail the grammar, as they should
    elif isinstance(value, int | Decimal) and not isinstance(value, bool):
        text = str(value)
    if text is None or not _DECIMAL.fullmatch(text):
        return None
    return Decimal(text)


def parse_decimal(value: Any, field: str) -> Decimal:
    """`decimal_or_none`, or a 400 naming `field`."""
    number = decimal_or_none(value)
    if number is None:
        raise InvalidInput(
            "Some fields are invalid.", code="validation_error", errors={field: [DECIMAL_MESSAGE]}
        )
    return number


class DecimalField(serializers.DecimalField):
    """DRF's DecimalField in the decimal grammar (`decimal_or_none`); use it for every input."""

    def to_internal_value(self, data: Any) -> Decimal:
        if decimal_or_none(data) is None:
            self.fail("invalid")
        return super().to_internal_value(data)


# --- Writing what came from outside --------------------------------------------------------------


def clean_text(value: str) -> str:
    """`value` safe to store and log: NUL and lone surrogates replaced by U+FFFD."""
    return _BAD_CHARACTER.sub("\ufffd", value) if has_bad_character(value) else value


def clean_json(value: Any) -> Any:
    """A copy of `value` with every key and string passed through `clean_text`."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_json(k) if isinstance(k, str) else k: clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    return value


# --- The API's JSON parser -----------------------------------------------------------------------


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with the edge rules: size, depth, and (unless told not to) text.

    `check_strings = False` is for a view that answers each part of a body on its own (a usage
    batch: one bad event gets its own 400, the others are charged); that view must run
    `check_json` on each part itself.
    """

    check_strings = True

    def max_bytes(self) -> int:
        return int(settings.API_MAX_BODY_BYTES)

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = self.max_bytes()
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise InvalidInput(f"The body may be at most {limit} bytes.", code="too_large")
        if not raw.strip():
            raise ParseError("JSON parse error - the body is empty.")
        try:
            data = json.loads(raw, parse_constant=_no_constant)
        except RecursionError:
            raise too_deep() from None
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise ParseError(f"JSON parse error - {exc}") from None
        # The string walk only when the raw bytes can hold a bad character at all.
        return check_json(data, strings=self.check_strings and _BAD_ESCAPE.search(raw) is not None)


class PartwiseJSONParser(JSONParser):
    """For views that check the text of each part of the body themselves (see JSONParser), with
    their own checks (no per-character validators): a usage batch, up to API_MAX_BATCH_BODY_BYTES."""

    check_strings = False

    def max_bytes(self) -> int:
        return int(settings.API_MAX_BATCH_BODY_BYTES)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class JSONRenderer(renderers.JSONRenderer):
    """DRF's JSON renderer, which cannot fail on a lone surrogate that reached an answer (an
    error message echoing input, say): such an answer is written with ASCII escapes instead."""

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            return json.dumps(data, cls=self.encoder_class, ensure_ascii=True, allow_nan=False).encode()


# --- Paths and query strings ---------------------------------------------------------------------


class InputHygieneMiddleware:
    """Refuse a path or query string holding a NUL before any view sees it: 400.

    Django decodes both (a `%00` becomes a NUL; broken UTF-8 stays percent-encoded), and a NUL
    that reaches a query or a log line fails there instead, as a server error.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        field = _bad_field(request)
        if field is None:
            return self.get_response(request)
        if is_api_request(request):
            return api_error_response(
                400,
                code="invalid_characters",
                detail="The URL contains characters that are not allowed.",
                errors={field: [BAD_CHARACTER_MESSAGE]},
            )
        return HttpResponseBadRequest("The URL contains characters that are not allowed.")


def _bad_field(request: HttpRequest) -> str | None:
    if has_bad_character(request.path):
        return "path"
    query = request.META.get("QUERY_STRING", "")
    if not query or ("%00" not in query and "\x00" not in query):
        return None  # the common case: nothing in the raw query string can decode to a NUL
    for name, values in request.GET.lists():
        if has_bad_character(name) or any(has_bad_character(v) for v in values):
            return clean_text(name)
    return None
