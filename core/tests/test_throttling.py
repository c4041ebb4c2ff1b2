"""Issue 10, finding 16: platform admins pass the per-user throttle, recorded in the log; API keys
are never counted by it; the per-IP auth throttle applies to platform admins like anyone.

Throttles are off in tests (config.settings) and DRF binds its rates when a view class is made,
so the classes are exercised here directly: on a view of this module's own, and on the login
endpoint (whose AuthRateThrottle is named by the view, not by settings), with the rates patched
on the class and a local-memory cache of each test's own.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from django.core.cache.backends.locmem import LocMemCache
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIClient, APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from accounts.tests.factories import TEST_PASSWORD, ApiKeyFactory, UserFactory
from core.throttling import AuthRateThrottle, UserRateThrottle

factory = APIRequestFactory()


class PerUserProbe(APIView):
    """What every API view gets in production: the per-user throttle."""

    permission_classes = [AllowAny]
    throttle_classes = [UserRateThrottle]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class AuthProbe(PerUserProbe):
    throttle_classes = [AuthRateThrottle]


@pytest.fixture
def rates(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two requests a minute for each scope, counted in a cache of this test's own."""
    cache = LocMemCache(f"throttle-{uuid.uuid4().hex}", {})
    cache.clear()
    for throttle in (UserRateThrottle, AuthRateThrottle):
        monkeypatch.setattr(throttle, "cache", cache)
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "2/min"})
    monkeypatch.setattr(AuthRateThrottle, "THROTTLE_RATES", {"auth": "2/min"})


def call(view: type[APIView], user: Any = None, token: Any = None) -> Any:
    request = factory.get("/probe")
    if user is not None:
        force_authenticate(request, user=user, token=token)
    return view.as_view()(request)


def bypass_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        r.msg
        for r in caplog.records
        if r.name == "core.throttling"
        and isinstance(r.msg, dict)
        and r.msg.get("event") == "throttle_bypassed"
    ]


def assert_throttled(response: Any) -> None:
    response.render()
    assert response.status_code == 429, response.content
    assert response.data["code"] == "throttled"
    assert int(response["Retry-After"]) > 0


@pytest.mark.django_db
def test_user_throttle__ordinary_user_past_the_rate__429_throttled(rates):
    user = UserFactory.create()

    answers = [call(PerUserProbe, user) for _ in range(3)]

    assert [a.status_code for a in answers[:2]] == [200, 200]
    assert_throttled(answers[2])


@pytest.mark.django_db
def test_user_throttle__platform_operator_past_the_rate__429_throttled(rates):
    """Only the platform admin holds the bypass; other platform staff are limited like anyone."""
    operator = UserFactory.create(platform_operator=True)

    answers = [call(PerUserProbe, operator) for _ in range(3)]

    assert_throttled(answers[2])


@pytest.mark.django_db
def test_user_throttle__platform_admin_past_the_rate__passes_and_each_bypass_is_logged(rates, caplog):
    admin = UserFactory.create(platform_admin=True)

    with caplog.at_level(logging.INFO, logger="core.throttling"):
        within = [call(PerUserProbe, admin) for _ in range(2)]
        assert bypass_lines(caplog) == []  # within the rate: nothing bypassed, nothing logged
        beyond = [call(PerUserProbe, admin) for _ in range(3)]

    assert [a.status_code for a in within + beyond] == [200] * 5
    lines = bypass_lines(caplog)
    assert len(lines) == 3
    assert {(line["scope"], line["rate"], line["user_id"]) for line in lines} == {
        ("user", "2/min", str(admin.pk))
    }


@pytest.mark.django_db
def test_user_throttle__api_key__never_counted_its_creators_budget_untouched(rates, caplog):
    creator = UserFactory.create()
    key = ApiKeyFactory.create(created_by=creator)

    with caplog.at_level(logging.INFO, logger="core.throttling"):
        by_key = [call(PerUserProbe, creator, token=key) for _ in range(5)]
    by_person = [call(PerUserProbe, creator) for _ in range(3)]

    assert [a.status_code for a in by_key] == [200] * 5
    assert bypass_lines(caplog) == []  # a key is not a bypass: it is not counted at all
    # The creator's own two requests a minute are all still there.
    assert [a.status_code for a in by_person[:2]] == [200, 200]
    assert_throttled(by_person[2])


@pytest.mark.django_db
def test_auth_throttle__platform_admin__429_like_anyone(rates, caplog):
    admin = UserFactory.create(platform_admin=True)

    with caplog.at_level(logging.INFO, logger="core.throttling"):
        answers = [call(AuthProbe, admin) for _ in range(3)]

    assert [a.status_code for a in answers[:2]] == [200, 200]
    assert_throttled(answers[2])
    assert bypass_lines(caplog) == []


@pytest.mark.django_db
def test_login__platform_admin_past_the_auth_rate__429_throttled(rates):
    admin = UserFactory.create(platform_admin=True)
    client = APIClient()

    answers = [
        client.post("/api/v1/auth/login", {"email": admin.email, "password": TEST_PASSWORD}, format="json")
        for _ in range(3)
    ]

    assert [a.status_code for a in answers[:2]] == [200, 200]
    assert all("access" in a.json() for a in answers[:2])
    assert answers[2].status_code == 429, answers[2].content
    assert answers[2].json()["code"] == "throttled"
    assert int(answers[2]["Retry-After"]) > 0
