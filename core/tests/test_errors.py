"""Every API error is JSON in one format; no HTML page or traceback reaches an API client."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.urls import path
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as project_urlpatterns
from core.errors import Conflict


class _Input(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=10, decimal_places=2)


class _EchoApi(APIView):
    permission_classes = [AllowAny]

    def post(self, request):
        data = _Input(data=request.data)
        data.is_valid(raise_exception=True)
        return Response({"amount": str(data.validated_data["amount"])})


class _ConflictApi(APIView):
    permission_classes = [AllowAny]

    def post(self, request):
        raise Conflict("Already done.", code="idempotency_key_reused")


class _CrashApi(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise RuntimeError("secret-internal-detail")


class _PrivateApi(APIView):
    """Keeps the default permission classes: IsAuthenticated."""

    def get(self, request):
        return Response({"ok": True})


def _crash_plain_view(request):
    raise ValueError("secret-internal-detail")


urlpatterns = [
    path("api/v1/_test/echo", _EchoApi.as_view()),
    path("api/v1/_test/conflict", _ConflictApi.as_view()),
    path("api/v1/_test/crash", _CrashApi.as_view()),
    path("api/v1/_test/crash-plain", _crash_plain_view),
    path("api/v1/_test/private", _PrivateApi.as_view()),
    *project_urlpatterns,
]

ERROR_KEYS = {"type", "code", "detail", "errors"}


@pytest.fixture
def client_no_raise(client):
    client.raise_request_exception = False
    return client


@pytest.mark.django_db
def test_unknown_api_route__any_method__json_404(client):
    response = client.get("/api/v1/does-not-exist")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"type": "not_found", "code": "not_found", "detail": "Not found.", "errors": {}}


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_unknown_api_route__debug_on__still_json_not_the_debug_page(client):
    response = client.get("/api/v1/nope/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.urls(__name__)
@pytest.mark.django_db
def test_validation_error__bad_field__400_with_field_errors(client):
    response = client.post("/api/v1/_test/echo", {"amount": "lots"}, content_type="application/json")

    assert response.status_code == 400
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert body["type"] == "invalid_request"
    assert body["code"] == "validation_error"
    assert body["errors"] == {"amount": ["A valid number is required."]}


@pytest.mark.urls(__name__)
@pytest.mark.django_db
def test_malformed_json__400_parse_error(client):
    response = client.post("/api/v1/_test/echo", "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


@pytest.mark.urls(__name__)
@pytest.mark.django_db
def test_domain_error__conflict__409_with_its_code(client):
    response = client.post("/api/v1/_test/conflict")

    assert response.status_code == 409
    assert response.json() == {
        "type": "conflict",
        "code": "idempotency_key_reused",
        "detail": "Already done.",
        "errors": {},
    }


@pytest.mark.urls(__name__)
@pytest.mark.django_db
def test_method_not_allowed__405_json(client):
    response = client.delete("/api/v1/_test/echo")

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


@pytest.mark.urls(__name__)
@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("url", ["/api/v1/_test/crash", "/api/v1/_test/crash-plain"])
def test_unhandled_exception__500_json_without_traceback(client_no_raise, settings, url, debug):
    settings.DEBUG = debug

    response = client_no_raise.get(url)

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "server_error"
    text = response.content.decode()
    assert "secret-internal-detail" not in text
    assert "Traceback" not in text


@pytest.mark.urls(__name__)
@pytest.mark.django_db
def test_private_view__no_credentials__401_json(client):
    response = client.get("/api/v1/_test/private")

    assert response.status_code == 401
    assert response.json()["type"] == "authentication_error"
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.urls(__name__)
@pytest.mark.django_db
def test_private_view__forged_bearer_token__401_json(client):
    response = client.get("/api/v1/_test/private", HTTP_AUTHORIZATION="Bearer not.a.jwt")

    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


@pytest.mark.django_db
def test_non_api_404__stays_an_html_page(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert "application/json" not in response["Content-Type"]
