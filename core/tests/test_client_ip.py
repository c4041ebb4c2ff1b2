"""One client IP for every consumer (issue 10, finding 1): spoofed forwarding headers fool none.

Each consumer of `core.context.client_ip` (throttles, the lockout, API-key allow-lists, the
audit log, sessions) is asked, with `X-Forwarded-For`, `X-Real-IP` and `Forwarded` written by
the client, at 0 and at 1 trusted proxy, which address it saw: always the real one.
"""

from __future__ import annotations

from typing import Any

import pytest
from axes.models import AccessAttempt
from django.core.cache import cache
from django.test import RequestFactory
from rest_framework.test import APIClient, APIRequestFactory

from accounts.models import UserSession
from accounts.tests.factories import TEST_PASSWORD, UserFactory
from accounts.tests.test_api_keys import make_key, with_key
from audit.models import AuditLogEntry
from core.context import client_ip
from core.tenancy import platform_bypass
from core.throttling import AnonRateThrottle, AuthRateThrottle, UserRateThrottle
from tenants.tests.factories import TenantFactory, member

REAL = "203.0.113.10"  # the client's real address
PROXY = "10.0.0.2"  # the trusted proxy, when there is one
SPOOF = "198.51.100.77"  # what the client claims to be

SPOOFED_HEADERS = {
    "x-forwarded-for": {"HTTP_X_FORWARDED_FOR": SPOOF},
    "x-real-ip": {"HTTP_X_REAL_IP": SPOOF},
    "forwarded": {"HTTP_FORWARDED": f"for={SPOOF}"},
}


def network(proxies: int, header: str) -> dict[str, Any]:
    """The request's META as it reaches the app: straight from the client (0 proxies), or
    through one trusted proxy that appended the client's address to X-Forwarded-For."""
    meta = dict(SPOOFED_HEADERS[header])
    if proxies == 0:
        return {"REMOTE_ADDR": REAL, **meta}
    forwarded = meta.pop("HTTP_X_FORWARDED_FOR", "")
    return {
        "REMOTE_ADDR": PROXY,
        "HTTP_X_FORWARDED_FOR": f"{forwarded}, {REAL}" if forwarded else REAL,
        **meta,
    }


CASES = [
    pytest.param(proxies, header, id=f"{proxies}-proxies-{header}")
    for proxies in (0, 1)
    for header in SPOOFED_HEADERS
]


@pytest.fixture(autouse=True)
def _clean_cache() -> Any:
    cache.clear()
    yield
    cache.clear()


# --- The function itself -------------------------------------------------------------------------


@pytest.mark.parametrize(("proxies", "header"), CASES)
def test_client_ip__spoofed_header__the_real_address(settings, proxies, header):
    settings.QM_TRUSTED_PROXY_COUNT = proxies

    assert client_ip(RequestFactory().get("/", **network(proxies, header))) == REAL


@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [("not-an-ip", PROXY), ("", PROXY), (f"{SPOOF}, 999.1.1.1", PROXY), (" 2001:db8::1 ", "2001:db8::1")],
)
def test_client_ip__one_proxy_forwarding_garbage__falls_back_to_the_peer(settings, forwarded, expected):
    settings.QM_TRUSTED_PROXY_COUNT = 1

    request = RequestFactory().get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded)

    assert client_ip(request) == expected


def test_client_ip__two_proxies_but_one_entry__the_peer(settings):
    settings.QM_TRUSTED_PROXY_COUNT = 2

    assert client_ip(RequestFactory().get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=SPOOF)) == PROXY


# --- Consumers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("proxies", "header"), CASES)
@pytest.mark.parametrize("throttle_class", [AnonRateThrottle, UserRateThrottle, AuthRateThrottle])
def test_throttles__spoofed_header__keyed_on_the_real_address(settings, proxies, header, throttle_class):
    settings.QM_TRUSTED_PROXY_COUNT = proxies
    request = APIRequestFactory().post("/api/v1/auth/login", **network(proxies, header))

    assert throttle_class().get_ident(request) == REAL


@pytest.mark.django_db
@pytest.mark.parametrize(("proxies", "header"), CASES)
def test_auth_throttle__spoofed_header_after_the_limit__still_429(settings, monkeypatch, proxies, header):
    """The attack of finding 1: 30 logins get 429, then 40 more with X-Forwarded-For got through."""
    settings.QM_TRUSTED_PROXY_COUNT = proxies
    monkeypatch.setattr(AuthRateThrottle, "THROTTLE_RATES", {"auth": "3/min"})
    user = UserFactory.create()
    body = {"email": user.email, "password": "wrong-password-123"}
    client = APIClient(**network(proxies, header))

    answers = [client.post("/api/v1/auth/login", body, format="json").status_code for _ in range(3)]
    spoofed = [
        APIClient(**_vary(network(proxies, header), header, n)).post(
            "/api/v1/auth/login", body, format="json"
        )
        for n in range(5)
    ]

    assert answers == [401, 401, 401]
    assert {r.status_code for r in spoofed} == {429}
    assert spoofed[0].json()["code"] == "throttled"
    assert int(spoofed[0]["Retry-After"]) >= 1


def _vary(meta: dict[str, Any], header: str, n: int) -> dict[str, Any]:
    """`meta` with a different spoofed address in `header`, as the attacker sent each request."""
    spoof = f"198.51.100.{n + 1}"
    varied = dict(meta)
    if header == "x-forwarded-for":
        varied["HTTP_X_FORWARDED_FOR"] = varied["HTTP_X_FORWARDED_FOR"].replace(SPOOF, spoof)
    elif header == "x-real-ip":
        varied["HTTP_X_REAL_IP"] = spoof
    else:
        varied["HTTP_FORWARDED"] = f"for={spoof}"
    return varied


@pytest.mark.django_db
@pytest.mark.parametrize(("proxies", "header"), CASES)
def test_lockout__spoofed_header__failures_recorded_against_the_real_address(settings, proxies, header):
    settings.QM_TRUSTED_PROXY_COUNT = proxies
    user = UserFactory.create()
    client = APIClient(**network(proxies, header))

    for _ in range(5):
        client.post(
            "/api/v1/auth/login", {"email": user.email, "password": "wrong-password-123"}, format="json"
        )
    locked = client.post(
        "/api/v1/auth/login", {"email": user.email, "password": TEST_PASSWORD}, format="json"
    )

    assert list(AccessAttempt.objects.values_list("ip_address", "failures_since_start")) == [(REAL, 5)]
    assert locked.status_code == 429
    assert locked.json()["code"] == "account_locked"


@pytest.mark.django_db
@pytest.mark.parametrize(("proxies", "header"), CASES)
def test_api_key_allow_list__spoofed_header__the_real_address_is_checked(settings, proxies, header):
    settings.QM_TRUSTED_PROXY_COUNT = proxies
    tenant = TenantFactory.create()
    _, raw = make_key(tenant, member(tenant, "owner"), allowed_ips=[f"{SPOOF}/32"])
    _, open_raw = make_key(tenant, member(tenant, "owner"), allowed_ips=[f"{REAL}/32"])
    url = f"/api/v1/tenants/{tenant.pk}/teams/"

    refused = with_key(raw, **network(proxies, header)).get(url)
    allowed = with_key(open_raw, **network(proxies, header)).get(url)

    assert refused.status_code == 403
    assert refused.json()["code"] == "ip_not_allowed"
    assert allowed.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(("proxies", "header"), CASES)
def test_audit_log_and_session__spoofed_header__the_real_address_recorded(settings, proxies, header):
    settings.QM_TRUSTED_PROXY_COUNT = proxies
    user = UserFactory.create()
    client = APIClient(**network(proxies, header))

    client.post("/api/v1/auth/login", {"email": user.email, "password": "wrong-password-123"}, format="json")
    ok = client.post("/api/v1/auth/login", {"email": user.email, "password": TEST_PASSWORD}, format="json")

    assert ok.status_code == 200, ok.json()
    with platform_bypass(reason="test", log=False):
        addresses = set(
            AuditLogEntry.objects.filter(
                action__in=["auth.login_failed", "auth.login_succeeded"]
            ).values_list("ip_address", flat=True)
        )
    assert addresses == {REAL}
    assert UserSession.objects.get(pk=ok.json()["session_id"]).ip_address == REAL
