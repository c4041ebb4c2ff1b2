"""Probes, request ids, logs, the docs pages and the admin."""

from __future__ import annotations

import json
import logging
import re

import pytest
from django.db import connection

from core import views as core_views


@pytest.mark.django_db
def test_healthz__alive__200_ok(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz__database_up__200_with_checks(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "ok"


@pytest.mark.django_db
def test_readyz__database_down__503_naming_it(client, monkeypatch):
    def broken() -> None:
        raise ConnectionError("down")

    monkeypatch.setattr(core_views, "_check_database", broken)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["failing"] == ["database"]


@pytest.mark.django_db
def test_readyz__cache_configured_but_broken__503_naming_it(client, monkeypatch, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    def broken() -> None:
        raise ConnectionError("down")

    monkeypatch.setattr(core_views, "_check_cache", broken)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["failing"] == ["cache"]


@pytest.mark.django_db
def test_metrics__prometheus_text(client):
    client.get("/healthz")

    response = client.get("/metrics")

    assert response.status_code == 200
    assert b"django_http_requests_total_by_method_total" in response.content


@pytest.mark.django_db
def test_request_id__sane_incoming__echoed(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="req-1234abcd")

    assert response["X-Request-ID"] == "req-1234abcd"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "incoming", ["", "short", "bad id with spaces", "x" * 200, "<script>alert(1)</script>"]
)
def test_request_id__missing_or_insane__replaced_by_a_new_one(client, incoming):
    response = client.get("/healthz", HTTP_X_REQUEST_ID=incoming)

    assert response["X-Request-ID"] != incoming
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


@pytest.mark.django_db
def test_request_id__is_in_every_log_line_of_the_request(client, monkeypatch):
    from core.logging import make_formatter

    records: list[str] = []
    handler = logging.Handler()
    handler.setFormatter(make_formatter("json"))
    handler.emit = lambda record: records.append(handler.format(record))  # type: ignore[method-assign]
    logging.getLogger("django.request").addHandler(handler)
    try:
        client.get("/api/v1/missing-page", HTTP_X_REQUEST_ID="trace-abc-123")
    finally:
        logging.getLogger("django.request").removeHandler(handler)

    assert records, "Django logs a warning for a 404"
    lines = [json.loads(r) for r in records]
    assert all(line["request_id"] == "trace-abc-123" for line in lines)


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_docs_pages__served_offline__no_external_host(client, url):
    response = client.get(url)

    assert response.status_code == 200
    html = response.content.decode()
    external = re.findall(r"""(?:src|href)=["'](https?:)?//[^"']+""", html)
    assert external == []
    assert "/static/drf_spectacular_sidecar/" in html


@pytest.mark.django_db
def test_schema__openapi_3(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


@pytest.mark.django_db
def test_admin_login__renders_the_unfold_theme(client):
    response = client.get("/admin/login/")

    assert response.status_code == 200
    assert b"unfold" in response.content


@pytest.mark.django_db
def test_database_role__is_neither_superuser_nor_bypassrls():
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        rolsuper, rolbypassrls = cursor.fetchone()

    assert rolsuper is False
    assert rolbypassrls is False
