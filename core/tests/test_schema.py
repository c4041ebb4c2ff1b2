"""The OpenAPI schema builds without a warning and validates as OpenAPI 3."""

from __future__ import annotations

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_openapi_schema__generates_without_warnings_and_validates(tmp_path):
    out = tmp_path / "schema.yaml"

    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(out))

    text = out.read_text()
    assert "/api/v1/tenants/{tenant_id}/members/" in text
    assert "/api/v1/tenants/{tenant_id}/audit-logs/" in text
