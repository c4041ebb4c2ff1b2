"""Issue 10, finding 13: `Accept: text/html` never answers 5xx.

DRF's browsable API renderer, when a caller asked for HTML, rendered forms for the methods of
the view and ran the view's permission checks for each; a caller who may read but not write
(a viewer on a team list) made a domain error escape the renderer: 500. The API now renders
JSON only (the interactive documentation is Swagger UI at /api/docs/): a request that accepts
only HTML gets a 406 in the API's JSON error format, and a browser's usual Accept header, which
ends in `*/*`, gets the JSON answer.
"""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.tests.factories import TEST_PASSWORD
from core.tenancy import platform_bypass
from tenants.models import Membership
from tenants.tests.factories import TenantFactory, member

HTML_ONLY = "text/html"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def signed_in(user: Any) -> APIClient:
    """A client holding the user's access token from a real login."""
    client = APIClient()
    login = client.post("/api/v1/auth/login", {"email": user.email, "password": TEST_PASSWORD}, format="json")
    assert login.status_code == 200, login.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {login.json()['access']}")
    return client


def viewer_paths() -> tuple[APIClient, dict[str, str]]:
    """A viewer's client and the routes it may read but not write."""
    tenant = TenantFactory.create()
    viewer = member(tenant, "viewer")
    with platform_bypass(reason="test", log=False):
        own = Membership.objects.get(tenant=tenant, user=viewer)
    base = f"/api/v1/tenants/{tenant.pk}"
    return signed_in(viewer), {
        "teams": f"{base}/teams/",  # GET teams:read, POST teams:write
        "members": f"{base}/members/",
        "member": f"{base}/members/{own.pk}/",  # GET members:read, PATCH/DELETE members:write/delete
    }


def assert_json_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"type", "code", "detail", "errors"}
    assert body["code"] == code


@pytest.mark.django_db
@pytest.mark.parametrize("route", ["teams", "members", "member"])
def test_accept_html_only__viewer_on_a_route_it_reads_but_cannot_write__406_json_not_acceptable(route):
    client, paths = viewer_paths()

    response = client.get(paths[route], HTTP_ACCEPT=HTML_ONLY)

    assert_json_error(response, 406, "not_acceptable")


@pytest.mark.django_db
@pytest.mark.parametrize("route", ["teams", "members", "member"])
def test_accept_of_a_browser__viewer_on_a_route_it_reads_but_cannot_write__200_json(route):
    client, paths = viewer_paths()

    response = client.get(paths[route], HTTP_ACCEPT=BROWSER)

    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    if route == "member":
        assert body["role"]["slug"] == "viewer"
    else:
        assert set(body) == {"count", "next", "previous", "results"}


@pytest.mark.django_db
def test_accept_html_only__anonymous_auth_me__406_json_not_acceptable():
    response = APIClient().get("/api/v1/auth/me", HTTP_ACCEPT=HTML_ONLY)

    assert_json_error(response, 406, "not_acceptable")


@pytest.mark.django_db
def test_accept_of_a_browser__anonymous_auth_me__401_json():
    response = APIClient().get("/api/v1/auth/me", HTTP_ACCEPT=BROWSER)

    assert_json_error(response, 401, "not_authenticated")
