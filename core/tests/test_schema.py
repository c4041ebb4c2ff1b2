"""The OpenAPI schema: builds without a warning, validates, and says what the API answers.

The generic error declarations come from core/schema.py (QuartermasterAutoSchema); the answers
they describe are checked here against the served schema, next to the mismatches issue 10
found (a paginated-looking bare array, a nullable time typed non-nullable, a required count
missing from answers, a DELETE with a body documented as bodiless).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from billing.tests.factories import make_threshold
from core.errors import ERROR_TYPES, error_body
from tenants.tests.factories import MembershipFactory, TeamFactory, TenantFactory, member, setting_value

TENANT = "/api/v1/tenants/{tenant_id}"
SETTING = "providers.openai_api_key"  # tenant-level: an owner sets and resets it
WRITES = {"post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def served(django_db_setup: Any, django_db_blocker: Any) -> dict[str, Any]:
    """The schema the project serves, as a client downloads it."""
    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in schema["paths"].items() for method, op in ops.items()]


def _ref(response: dict[str, Any]) -> str | None:
    return response.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")


def _owner_client(tenant: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(member(tenant, "owner"))
    return client


@pytest.mark.django_db
def test_openapi_schema__generates_without_warnings_and_validates(tmp_path):
    out = tmp_path / "schema.yaml"

    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(out))

    text = out.read_text()
    assert "/api/v1/tenants/{tenant_id}/members/" in text
    assert "/api/v1/tenants/{tenant_id}/audit-logs/" in text


def test_error_component__served_schema__has_the_fields_and_families_of_core_errors(served):
    error = served["components"]["schemas"]["Error"]
    families = served["components"]["schemas"]["ErrorTypeEnum"]["enum"]

    assert set(error["required"]) == set(error_body(400)) == {"type", "code", "detail", "errors"}
    assert set(error["properties"]) == set(error_body(400))
    assert sorted(families) == sorted({family for family, _code, _detail in ERROR_TYPES.values()})
    assert error["properties"]["errors"]["additionalProperties"]["items"]["type"] == "string"


def test_every_operation__served_schema__declares_its_error_statuses_with_the_error_body(served):
    operations = _operations(served)
    assert len(operations) > 90
    missing: list[str] = []
    for path, method, op in operations:
        statuses = set(op["responses"])
        expected = {"400", "401", "403", "429"}
        if any(p["in"] == "path" for p in op.get("parameters", [])):
            expected.add("404")
        if "requestBody" in op:
            expected.add("415")
        if method in WRITES:
            expected |= {"409", "422"}
        if expected - statuses:
            missing.append(f"{method.upper()} {path}: {sorted(expected - statuses)}")
        for status, response in op["responses"].items():
            if int(status) >= 400 and _ref(response) != "#/components/schemas/Error":
                missing.append(f"{method.upper()} {path} {status}: not the Error body")

    assert missing == []


def test_error_statuses__read_without_input__only_the_url_can_be_a_400_and_nothing_conflicts(served):
    me = served["paths"]["/api/v1/auth/me"]["get"]["responses"]
    tenant = served["paths"][f"{TENANT}/"]["get"]["responses"]

    assert "URL" in me["400"]["description"]
    assert not {"404", "409", "415", "422"} & set(me)
    assert {"400", "401", "403", "404", "429"} <= set(tenant)
    assert not {"409", "415", "422"} & set(tenant)


def test_error_statuses__public_login__401_for_bad_credentials_and_its_description_says_so(served):
    login = served["paths"]["/api/v1/auth/login"]["post"]

    assert "security" not in login
    assert "the ones this route checks" in login["responses"]["401"]["description"]


def test_view_declared_error__usage_402__keeps_its_words_and_gets_the_error_body(served):
    responses = served["paths"][f"{TENANT}/usage"]["post"]["responses"]

    assert responses["402"]["description"].startswith("insufficient_credits")
    assert _ref(responses["402"]) == "#/components/schemas/Error"
    assert _ref(responses["201"]) == "#/components/schemas/CreditTransactionOutput"


def test_paginated_lists__served_schema__declare_404_for_a_page_past_the_end(served):
    tenants = served["paths"]["/api/v1/tenants/"]["get"]["responses"]

    assert "no such page" in tenants["404"]["description"].lower()


@pytest.mark.django_db
def test_paginated_list__page_past_the_end__answers_the_declared_404_in_the_error_format():
    tenant = TenantFactory.create()

    response = _owner_client(tenant).get("/api/v1/tenants/", {"page": 99})

    assert response.status_code == 404
    assert response.json()["type"] == "not_found"


@pytest.mark.django_db
def test_credit_thresholds__list__a_bare_array_as_the_schema_says(served):
    tenant = TenantFactory.create()
    threshold_id = make_threshold(tenant)
    documented = served["paths"][f"{TENANT}/credits/thresholds"]["get"]

    response = _owner_client(tenant).get(f"/api/v1/tenants/{tenant.pk}/credits/thresholds")

    assert documented["responses"]["200"]["content"]["application/json"]["schema"]["type"] == "array"
    assert {p["name"] for p in documented.get("parameters", [])} == {"tenant_id"}
    assert response.status_code == 200
    assert [row["id"] for row in response.json()] == [str(threshold_id)]


@pytest.mark.django_db
def test_setting__never_set__updated_at_null_and_the_schema_allows_it(served):
    tenant = TenantFactory.create()
    field = served["components"]["schemas"]["SettingOutput"]["properties"]["updated_at"]

    response = _owner_client(tenant).get(f"/api/v1/tenants/{tenant.pk}/settings/{SETTING}/")

    assert field["nullable"] is True
    assert response.status_code == 200, response.json()
    assert response.json()["version"] == 0
    assert response.json()["updated_at"] is None


@pytest.mark.django_db
def test_setting_reset__delete__documented_as_200_with_the_setting_it_answers(served):
    tenant = TenantFactory.create()
    setting_value(tenant, SETTING, "sk-test-value-0001")
    documented = served["paths"][f"{TENANT}/settings/{{key}}/"]["delete"]["responses"]

    response = _owner_client(tenant).delete(f"/api/v1/tenants/{tenant.pk}/settings/{SETTING}/")

    assert "204" not in documented
    assert _ref(documented["200"]) == "#/components/schemas/SettingOutput"
    assert response.status_code == 200, response.json()
    assert response.json()["key"] == SETTING
    assert response.json()["source"] != "tenant"


@pytest.mark.django_db
def test_team__create_update_read_list__every_answer_carries_the_required_member_count(served):
    tenant = TenantFactory.create()
    client = _owner_client(tenant)
    team = TeamFactory.create(tenant=tenant)
    MembershipFactory.create(tenant=tenant, team=team)
    MembershipFactory.create(tenant=tenant, team=team)
    base = f"/api/v1/tenants/{tenant.pk}/teams/"

    created = client.post(base, {"name": "Research"}, format="json")
    updated = client.patch(f"{base}{team.pk}/", {"description": "two members"}, format="json")
    read = client.get(f"{base}{team.pk}/")
    listed = client.get(base)

    assert "member_count" in served["components"]["schemas"]["TeamOutput"]["required"]
    assert created.status_code == 201, created.json()
    assert created.json()["member_count"] == 0
    assert updated.status_code == 200, updated.json()
    assert updated.json()["member_count"] == 2
    assert read.json()["member_count"] == 2
    assert {row["name"]: row["member_count"] for row in listed.json()["results"]} == {
        team.name: 2,
        "Research": 0,
    }
