"""Input hygiene at the edge (core/hygiene.py): issue 10, findings 5, 8, 11 and 13.

The route-by-route sweep is core/tests/test_bad_input.py; these pin each rule once.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.http import HttpRequest
from django.test import Client
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from audit.models import AuditLogEntry
from core import hygiene
from core.errors import InvalidInput
from core.tenancy import platform_bypass
from tenants.tests.factories import MembershipFactory, TenantFactory

DEEP = b"[" * 100_000


def _body(response) -> dict:
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    return response.json()


# --- JSON bodies ---------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/auth/login", "/api/v1/auth/register", "/api/v1/invites/accept"])
def test_json_parser__100000_open_brackets_unauthenticated__400_too_deeply_nested(path):
    response = APIClient().post(path, DEEP, content_type="application/json")

    assert response.status_code == 400
    assert _body(response)["code"] == "too_deeply_nested"


@pytest.mark.django_db
def test_json_parser__nesting_past_the_limit__400_naming_where(settings):
    settings.API_MAX_JSON_DEPTH = 4
    body = {"email": "a@example.com", "password": {"a": {"b": {"c": {"d": 1}}}}}

    response = APIClient().post("/api/v1/auth/login", body, format="json")

    assert response.status_code == 400
    assert _body(response)["code"] == "too_deeply_nested"
    assert "password.a.b.c" in response.json()["errors"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"email": "a\\u0000@example.com", "password": "x"}', "email"),
        (b'{"email": "a@example.com", "password": "\\ud800"}', "password"),
        (b'{"email": "a@example.com", "password": "x", "\\udfff": 1}', "non_field_errors"),
        (b'{"email": "a@example.com", "password": ["ok", "\\u0000"]}', "password.1"),
    ],
)
def test_json_parser__nul_or_lone_surrogate__400_invalid_characters_naming_the_field(raw, field):
    response = APIClient().post("/api/v1/auth/login", raw, content_type="application/json")

    assert response.status_code == 400
    body = _body(response)
    assert body["code"] == "invalid_characters"
    assert list(body["errors"]) == [field]


@pytest.mark.django_db
def test_json_parser__escaped_backslash_u0000_text__is_ordinary_text():
    raw = b'{"email": "a@example.com", "password": "\\\\u0000 is six characters"}'

    response = APIClient().post("/api/v1/auth/login", raw, content_type="application/json")

    assert response.status_code == 401  # parsed, checked as a (wrong) password
    assert response.json()["code"] == "authentication_failed"


@pytest.mark.django_db
@pytest.mark.parametrize("raw", [b'{"a": NaN}', b'{"a": Infinity}', b"\xff\xfe{", b"{", b"   "])
def test_json_parser__not_json__400_parse_error(raw):
    response = APIClient().post("/api/v1/auth/login", raw, content_type="application/json")

    assert response.status_code == 400
    assert _body(response)["type"] == "invalid_request"


@pytest.mark.django_db
def test_json_parser__body_over_the_limit__400_too_large(settings):
    settings.API_MAX_BODY_BYTES = 1000
    raw = json.dumps({"email": "a@example.com", "password": "x" * 2000}).encode()

    response = APIClient().post("/api/v1/auth/login", raw, content_type="application/json")

    assert response.status_code == 400
    assert _body(response)["code"] == "too_large"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded"]
)
def test_json_only__other_content_types__415_json(content_type):
    response = APIClient().post("/api/v1/auth/login", b"email=a@example.com", content_type=content_type)

    assert response.status_code == 415
    assert _body(response)["code"] == "unsupported_media_type"


# --- Paths and query strings ---------------------------------------------------------------------


@pytest.fixture
def member_client():
    membership = MembershipFactory.create()
    client = APIClient()
    client.force_authenticate(membership.user)
    return client, membership.tenant


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["q=%00", "model=%00", "%00=1", "q=a%00b"])
def test_query_string__nul__400_invalid_characters_before_any_view(query):
    response = APIClient().get(f"/api/v1/billing/prices?{query}")

    assert response.status_code == 400
    assert _body(response)["code"] == "invalid_characters"


@pytest.mark.django_db
def test_query_string__members_q_nul__400_not_500(member_client):
    client, tenant = member_client

    response = client.get(f"/api/v1/tenants/{tenant.pk}/members/?q=%00")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_characters"


@pytest.mark.django_db
def test_path__nul_in_a_refused_request__400_invalid_characters():
    outsider = UserFactory.create()
    tenant = TenantFactory.create()
    client = APIClient()
    client.force_authenticate(outsider)

    response = client.get(f"/api/v1/tenants/{tenant.pk}/teams/%00/")

    assert response.status_code == 400
    assert _body(response)["code"] == "invalid_characters"
    assert response.json()["errors"] == {"path": [hygiene.BAD_CHARACTER_MESSAGE]}


@pytest.mark.django_db
def test_path__nul_outside_the_api__plain_400():
    response = Client().get("/admin/%00/")

    assert response.status_code == 400


@pytest.mark.django_db
def test_query_string__percent_encoded_broken_utf8__not_a_server_error(member_client):
    client, tenant = member_client

    response = client.get(f"/api/v1/tenants/{tenant.pk}/members/?q=%ED%A0%80")

    assert response.status_code == 200  # decoded as U+FFFD by Django: an ordinary search
    assert response.json()["results"] == []


# --- The audit log: a refusal is always recorded ----------------------------------------------------


@pytest.mark.django_db
def test_audit_record__nul_and_surrogates_in_details__stored_cleaned():
    from audit.services import audit_record

    audit_record(
        action="access.denied",
        severity="warning",
        target_label="bad\x00label",
        details={"path": "/api/v1/x/\x00/", "k\ud800": ["\udfff"]},
        system=True,
    )

    with platform_bypass(reason="test", log=False):
        entry = AuditLogEntry.objects.get(action="access.denied")
    assert entry.target_label == "bad\ufffdlabel"
    assert entry.details == {"path": "/api/v1/x/\ufffd/", "k\ufffd": ["\ufffd"]}


# --- Decimals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1000", Decimal(1000)),
        ("-10.5", Decimal("-10.5")),
        ("+.5", Decimal("0.5")),
        ("7.", Decimal(7)),
        (10, Decimal(10)),
        (2.25, Decimal("2.25")),
        (Decimal("3.1"), Decimal("3.1")),
    ],
)
def test_parse_decimal__the_grammar__accepted(value, expected):
    assert hygiene.parse_decimal(value, "amount") == expected


@pytest.mark.parametrize(
    "value",
    ["1_000", "1e3", "NaN", "Infinity", "-inf", " 5", "5 ", "", ".", "0x10", "١٢", True, None, [], 1e300],
)
def test_parse_decimal__outside_the_grammar__400_naming_the_field(value):
    with pytest.raises(InvalidInput) as raised:
        hygiene.parse_decimal(value, "amount")

    assert raised.value.errors == {"amount": [hygiene.DECIMAL_MESSAGE]}


# --- Rendering ------------------------------------------------------------------------------------


def test_json_renderer__lone_surrogate_in_an_answer__escaped_not_a_crash():
    rendered = hygiene.JSONRenderer().render({"detail": "bad \ud800 value"})

    assert json.loads(rendered) == {"detail": "bad \ud800 value"}
    assert rendered.isascii()


def test_clean_text__nothing_to_clean__the_same_object():
    text = "plain text"

    assert hygiene.clean_text(text) is text


def test_middleware__no_query__passes_without_reading_get():
    request = HttpRequest()
    request.path = "/api/v1/anything"
    request.META["QUERY_STRING"] = ""

    assert hygiene.InputHygieneMiddleware(lambda r: "passed")(request) == "passed"  # type: ignore[arg-type, return-value]


# --- Paging parameters -------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "page_size=1&page_size=2",
        "page=1&page=2",
        "page_size=abc",
        "page_size=0",
        "page_size=-1",
        "page_size=1.5",
    ],
)
def test_pagination__repeated_or_malformed_paging_parameter__400_naming_it(member_client, query):
    client, tenant = member_client

    response = client.get(f"/api/v1/tenants/{tenant.pk}/members/?{query}")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == [query.split("=")[0]]


@pytest.mark.django_db
def test_pagination__page_size_past_the_maximum__capped(member_client):
    client, tenant = member_client

    response = client.get(f"/api/v1/tenants/{tenant.pk}/members/?page_size={'9' * 5000}")

    assert response.status_code == 200
    assert response.json()["count"] == 1


@pytest.mark.django_db
def test_pagination__repeated_cursor__400(member_client):
    client, tenant = member_client

    response = client.get(f"/api/v1/tenants/{tenant.pk}/credits/transactions?cursor=a&cursor=b")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["cursor"]


@pytest.mark.django_db
def test_json_parser__bad_body_on_a_route_that_ignores_its_body__400_all_the_same():
    user = UserFactory.create()
    client = APIClient()
    client.force_authenticate(user)

    response = client.post("/api/v1/auth/2fa/totp", DEEP, content_type="application/json")

    assert response.status_code == 400
    assert _body(response)["code"] == "too_deeply_nested"


@pytest.mark.django_db
def test_json_parser__usage_batch__has_the_larger_allowance(settings, member_client):
    settings.API_MAX_BODY_BYTES = 1000
    settings.API_MAX_BATCH_BODY_BYTES = 100_000
    client, tenant = member_client
    events = [
        {"model": "m", "input_tokens": 1, "output_tokens": 1, "idempotency_key": f"k{n}"} for n in range(30)
    ]

    batch = client.post(f"/api/v1/tenants/{tenant.pk}/usage/batch", {"events": events}, format="json")
    single = client.post(f"/api/v1/tenants/{tenant.pk}/usage", {"model": "m" * 2000}, format="json")

    assert batch.status_code == 200, batch.json()
    assert batch.json()["summary"]["refused"] == 30  # parsed and answered event by event (no price)
    assert single.status_code == 400
    assert single.json()["code"] == "too_large"
