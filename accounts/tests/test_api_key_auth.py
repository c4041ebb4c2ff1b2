"""`Authorization: Api-Key <key>`: scopes, tenant, revocation, expiry, IP allow-list, rate limit,
last use, audit attribution."""

from __future__ import annotations

import uuid
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.api_key_auth import ApiKeyAuthentication, _touch, hash_key
from accounts.tests.factories import UserFactory
from accounts.tests.test_api_keys import (
    as_user,
    audit_entries,
    keys_url,
    make_key,
    stored,
    with_key,
)
from audit.models import ActorType
from core.tenancy import platform_bypass
from core.throttling import ApiKeyRateThrottle, window_count
from tenants.models import Membership, Tenant, TenantStatus
from tenants.tests.factories import TeamFactory, TenantFactory, member


def teams_url(tenant: Tenant, *rest: str) -> str:
    return f"/api/v1/tenants/{tenant.pk}/teams/" + "".join(rest)


def _error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, f"{response.status_code} {response.content[:400]!r}"
    assert response.json()["code"] == code, response.json()


@pytest.fixture
def tenant() -> Tenant:
    return TenantFactory.create()


@pytest.fixture
def owner(tenant: Tenant) -> Any:
    return member(tenant, "owner")


# --- Scopes ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_key__within_its_scopes__acts_on_the_tenant_route(tenant, owner):
    TeamFactory.create(tenant=tenant, name="Ops")
    _, raw = make_key(tenant, owner, scopes=["teams:read"])

    response = with_key(raw).get(teams_url(tenant))

    assert response.status_code == 200, response.json()
    assert [t["name"] for t in response.json()["results"]] == ["Ops"]


@pytest.mark.django_db
def test_api_key__outside_its_scopes__403_missing_permission_though_the_creator_may(tenant, owner):
    _, raw = make_key(tenant, owner, scopes=["teams:read"])

    response = with_key(raw).post(teams_url(tenant), {"name": "New"})

    _error(response, 403, "missing_permission")
    assert as_user(owner).post(teams_url(tenant), {"name": "New"}).status_code == 201


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("scopes", "method", "expected"),
    [
        (["teams:read"], "GET", 200),
        (["teams:read"], "POST", 403),
        (["teams:read"], "DELETE", 403),
        (["teams:write"], "GET", 403),
        (["teams:write"], "POST", 201),
        (["teams:write"], "PATCH", 200),
        (["teams:write"], "DELETE", 403),
        (["teams:delete"], "DELETE", 204),
        (["teams:delete"], "PATCH", 403),
        (["agents:read"], "GET", 403),
        (["teams:read", "teams:write", "teams:delete"], "PATCH", 200),
    ],
)
def test_api_key__scope_by_method__allowed_only_with_the_methods_permission(
    tenant, owner, scopes, method, expected
):
    team = TeamFactory.create(tenant=tenant)
    _, raw = make_key(tenant, owner, scopes=scopes)
    client = with_key(raw)
    url = teams_url(tenant) if method == "POST" else teams_url(tenant, f"{team.pk}/")

    response = getattr(client, method.lower())(url, {"name": "Renamed"} if method != "GET" else None)

    assert response.status_code == expected, response.content[:300]
    if expected == 403:
        assert response.json()["code"] == "missing_permission"


@pytest.mark.django_db
def test_api_key__of_tenant_a_on_tenant_bs_url__403_even_when_the_creator_belongs_to_both(tenant, owner):
    other = TenantFactory.create()
    member(other, "owner", user=owner)
    _, raw = make_key(tenant, owner, scopes=["teams:read"])

    response = with_key(raw).get(teams_url(other))

    _error(response, 403, "api_key_wrong_tenant")


@pytest.mark.django_db
def test_api_key__creator_removed_from_the_tenant__403_its_permissions_are_empty(tenant, owner):
    creator = member(tenant, "admin")
    _, raw = make_key(tenant, creator, scopes=["teams:read"])
    client = with_key(raw)
    assert client.get(teams_url(tenant)).status_code == 200
    with platform_bypass(reason="test", log=False):
        Membership.objects.filter(tenant=tenant, user=creator).delete()

    response = client.get(teams_url(tenant))

    _error(response, 403, "missing_permission")


@pytest.mark.django_db
def test_api_key__creator_demoted_to_viewer__loses_the_scopes_the_role_no_longer_grants(tenant, owner):
    from tenants.tests.factories import system_role

    creator = member(tenant, "admin")
    _, raw = make_key(tenant, creator, scopes=["teams:read", "teams:write"])
    with platform_bypass(reason="test", log=False):
        Membership.objects.filter(tenant=tenant, user=creator).update(role=system_role("viewer"))

    client = with_key(raw)

    assert client.get(teams_url(tenant)).status_code == 200
    _error(client.post(teams_url(tenant), {"name": "x"}), 403, "missing_permission")


@pytest.mark.django_db
def test_api_key__platform_admins_key__does_not_widen_beyond_its_scopes_or_its_tenant(tenant):
    platform_admin = UserFactory.create(platform_admin=True)
    _, raw = make_key(tenant, platform_admin, scopes=["teams:read"])
    client = with_key(raw)

    assert client.get(teams_url(tenant)).status_code == 200
    _error(client.post(teams_url(tenant), {"name": "x"}), 403, "missing_permission")
    _error(
        client.post("/api/v1/tenants/", {"name": "Evil", "admin_email": "e@x.example"}),
        403,
        "api_key_not_allowed",
    )
    _error(client.get(teams_url(TenantFactory.create())), 403, "api_key_wrong_tenant")


# --- Invalid keys ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_key__revoked__401_invalid_api_key_on_the_very_next_request(tenant, owner):
    api_key, raw = make_key(tenant, owner, scopes=["teams:read"])
    client = with_key(raw)
    assert client.get(teams_url(tenant)).status_code == 200

    revoked = as_user(owner).post(keys_url(tenant, f"{api_key.pk}/revoke"))
    response = client.get(teams_url(tenant))

    assert revoked.status_code == 200
    _error(response, 401, "invalid_api_key")
    assert response.has_header("WWW-Authenticate")


@pytest.mark.django_db
def test_api_key__expired__401_invalid_api_key(tenant, owner):
    _, raw = make_key(tenant, owner, expires_at=timezone.now() - timedelta(seconds=1))

    _error(with_key(raw).get(teams_url(tenant)), 401, "invalid_api_key")


@pytest.mark.django_db
def test_api_key__unknown_revoked_expired_or_inactive_creator__one_indistinguishable_answer(tenant, owner):
    _, revoked = make_key(tenant, owner, revoked_at=timezone.now())
    _, expired = make_key(tenant, owner, expires_at=timezone.now() - timedelta(minutes=1))
    inactive = member(tenant, "admin", user=UserFactory.create(is_active=False))
    _, of_inactive = make_key(tenant, inactive)
    unknown = "qm_live_" + "A" * 43

    bodies = [with_key(raw).get(teams_url(tenant)) for raw in (unknown, revoked, expired, of_inactive)]

    assert {r.status_code for r in bodies} == {401}
    assert len({r.content for r in bodies}) == 1
    assert bodies[0].json()["code"] == "invalid_api_key"


@pytest.mark.django_db
@pytest.mark.parametrize("header", ["Api-Key", "Api-Key a b", "Api-Key " + "x" * 300])
def test_api_key__malformed_header__401_invalid_api_key(tenant, header):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    _error(client.get(teams_url(tenant)), 401, "invalid_api_key")


@pytest.mark.django_db
def test_api_key__keyword_in_any_case__accepted(tenant, owner):
    from rest_framework.test import APIClient

    _, raw = make_key(tenant, owner)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"aPI-kEY {raw}")

    assert client.get(teams_url(tenant)).status_code == 200


@pytest.mark.django_db
def test_api_key__authenticate_header__names_the_scheme():
    from django.http import HttpRequest
    from rest_framework.request import Request

    assert ApiKeyAuthentication().authenticate_header(Request(HttpRequest())) == "Api-Key"


@pytest.mark.django_db
def test_api_key__lookup__one_statement_by_hash_with_creator_and_no_savepoint(tenant, owner):
    _, raw = make_key(tenant, owner)
    client = with_key(raw)
    client.get(teams_url(tenant))  # the last-use write happens on the first request of a minute

    with CaptureQueriesContext(connection) as queries:
        response = client.get(teams_url(tenant))

    assert response.status_code == 200
    key_reads = [
        q["sql"] for q in queries if "qm_api_key_by_hash" in q["sql"] or "accounts_apikey" in q["sql"]
    ]
    assert len(key_reads) == 1
    assert "FROM qm_api_key_by_hash(" in key_reads[0]
    assert "JOIN accounts_user u" in key_reads[0]
    # One savepoint: the request's own transaction, nested in the test's; none for the lookup.
    assert len([q for q in queries if q["sql"].startswith("SAVEPOINT")]) == 1


@pytest.mark.django_db
def test_api_key__lookup_function__bypasses_rls_for_that_lookup_only(tenant, owner):
    """The database function finds the key across tenants and leaves the bypass as it was."""
    from accounts.selectors import api_key_for_authentication
    from core.tenancy import tenant_context

    key, raw = make_key(tenant, owner)
    other_tenant = TenantFactory.create()
    with tenant_context(other_tenant), connection.cursor() as cursor:
        found = api_key_for_authentication(key_hash=hash_key(raw))
        assert found is not None
        _touch(found, "203.0.113.9")  # the last-use write bypasses RLS the same narrow way
        cursor.execute(
            "SELECT coalesce(current_setting('app.bypass_rls', true), ''), count(*) FROM accounts_apikey"
        )
        bypass, visible = cursor.fetchone()

    assert found is not None
    assert found.pk == key.pk
    assert found.created_by.email == owner.email  # built from the same row: no second query
    assert bypass == ""
    assert visible == 0  # other_tenant sees none of tenant's keys afterwards
    assert api_key_for_authentication(key_hash=hash_key(raw + "x")) is None
    assert stored(key.pk).last_used_ip == "203.0.113.9"


@pytest.mark.django_db
@pytest.mark.parametrize("param", ["api_key", "apikey", "API_KEY", "key", "token"])
def test_api_key__sent_in_the_query_string__401_api_key_in_query_even_with_a_good_header(
    tenant, owner, param
):
    _, raw = make_key(tenant, owner)

    response = with_key(raw).get(teams_url(tenant) + f"?{param}={raw}")

    _error(response, 401, "api_key_in_query")


@pytest.mark.django_db
def test_api_key__query_string_alone__401_api_key_in_query(tenant, owner):
    from rest_framework.test import APIClient

    _, raw = make_key(tenant, owner)

    _error(APIClient().get(teams_url(tenant) + f"?api_key={raw}"), 401, "api_key_in_query")


@pytest.mark.django_db
def test_api_key__ordinary_key_filter_in_the_query__not_mistaken_for_a_key(tenant, owner):
    _, raw = make_key(tenant, owner)

    response = with_key(raw).get(teams_url(tenant) + "?key=agents.max_depth")

    assert response.status_code == 200


# --- Suspended tenant --------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_key__suspended_tenant__reads_work_writes_403_tenant_suspended(tenant, owner):
    _, raw = make_key(tenant, owner, scopes=["teams:read", "teams:write"])
    with platform_bypass(reason="test", log=False):
        Tenant.objects.filter(pk=tenant.pk).update(status=TenantStatus.SUSPENDED, suspended_at=timezone.now())
    client = with_key(raw)

    assert client.get(teams_url(tenant)).status_code == 200
    _error(client.post(teams_url(tenant), {"name": "x"}), 403, "tenant_suspended")


# --- IP allow-list -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_key__ip_in_allowed_cidr__passes(tenant, owner):
    _, raw = make_key(tenant, owner, allowed_ips=["203.0.113.0/24", "198.51.100.7/32"])

    assert with_key(raw, REMOTE_ADDR="203.0.113.42").get(teams_url(tenant)).status_code == 200
    assert with_key(raw, REMOTE_ADDR="198.51.100.7").get(teams_url(tenant)).status_code == 200


@pytest.mark.django_db
def test_api_key__ip_outside_the_allow_list__403_ip_not_allowed(tenant, owner):
    _, raw = make_key(tenant, owner, allowed_ips=["203.0.113.0/24"])

    _error(with_key(raw, REMOTE_ADDR="198.51.100.1").get(teams_url(tenant)), 403, "ip_not_allowed")


@pytest.mark.django_db
def test_api_key__spoofed_forwarded_for_without_trusted_proxies__403_ip_not_allowed(tenant, owner, settings):
    settings.QM_TRUSTED_PROXY_COUNT = 0
    _, raw = make_key(tenant, owner, allowed_ips=["203.0.113.0/24"])
    client = with_key(raw, REMOTE_ADDR="198.51.100.1", HTTP_X_FORWARDED_FOR="203.0.113.5")

    _error(client.get(teams_url(tenant)), 403, "ip_not_allowed")


@pytest.mark.django_db
def test_api_key__forwarded_for_from_one_trusted_proxy__the_client_address_is_checked(
    tenant, owner, settings
):
    settings.QM_TRUSTED_PROXY_COUNT = 1
    _, raw = make_key(tenant, owner, allowed_ips=["203.0.113.0/24"])
    proxy = {"REMOTE_ADDR": "10.0.0.2"}

    allowed = with_key(raw, HTTP_X_FORWARDED_FOR="203.0.113.5", **proxy).get(teams_url(tenant))
    # The client wrote the left entry itself; only the one the proxy appended is believed.
    spoofed = with_key(raw, HTTP_X_FORWARDED_FOR="203.0.113.5, 198.51.100.1", **proxy).get(teams_url(tenant))

    assert allowed.status_code == 200
    _error(spoofed, 403, "ip_not_allowed")


@pytest.mark.django_db
def test_api_key__ipv6_cidr__allows_inside_refuses_outside(tenant, owner):
    _, raw = make_key(tenant, owner, allowed_ips=["2001:db8:abcd::/48"])

    inside = with_key(raw, REMOTE_ADDR="2001:db8:abcd:12::1").get(teams_url(tenant))
    outside = with_key(raw, REMOTE_ADDR="2001:db8:ffff::1").get(teams_url(tenant))
    ipv4 = with_key(raw, REMOTE_ADDR="203.0.113.5").get(teams_url(tenant))

    assert inside.status_code == 200
    _error(outside, 403, "ip_not_allowed")
    _error(ipv4, 403, "ip_not_allowed")


@pytest.mark.django_db
def test_api_key__ipv4_mapped_ipv6_peer__checked_as_ipv4(tenant, owner):
    _, raw = make_key(tenant, owner, allowed_ips=["203.0.113.0/24"])

    assert with_key(raw, REMOTE_ADDR="::ffff:203.0.113.9").get(teams_url(tenant)).status_code == 200


# --- Rate limit --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_key__rate_limit_3_per_minute__4th_request_429_with_retry_after(tenant, owner):
    _, raw = make_key(tenant, owner, rate_limit_per_minute=3)
    _, other_raw = make_key(tenant, owner, rate_limit_per_minute=3)
    client = with_key(raw)

    statuses = [client.get(teams_url(tenant)).status_code for _ in range(3)]
    response = client.get(teams_url(tenant))

    assert statuses == [200, 200, 200]
    _error(response, 429, "throttled")
    assert response.json()["type"] == "rate_limited"
    assert 1 <= int(response["Retry-After"]) <= 60
    assert with_key(other_raw).get(teams_url(tenant)).status_code == 200  # per key, not global


@pytest.mark.django_db
@pytest.mark.redis
def test_api_key__rate_limit_through_redis__shared_by_every_worker(tenant, owner, settings, redis_url):
    from django.core.cache.backends.redis import RedisCache

    prefix = f"qm-test-{uuid.uuid4().hex}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": prefix,
        }
    }
    api_key, raw = make_key(tenant, owner, rate_limit_per_minute=3)
    # Another worker: its own connection to the same Redis, the same key prefix.
    other_worker = RedisCache(redis_url, {"KEY_PREFIX": prefix})
    try:
        first = with_key(raw).get(teams_url(tenant))
        window = list(other_worker._cache.get_client().keys(f"{prefix}:*rl:apikey:{api_key.pk}:*"))
        assert len(window) == 1
        stored_name = window[0].decode() if isinstance(window[0], bytes) else str(window[0])
        counter = stored_name.split(":", 2)[2]  # strip "<prefix>:<version>:"
        assert other_worker.get(counter) == 1
        other_worker.incr(counter, 2)  # two requests served elsewhere in this minute

        response = with_key(raw).get(teams_url(tenant))
    finally:
        client = other_worker._cache.get_client()
        for key in client.keys(f"{prefix}:*"):
            client.delete(key)

    assert first.status_code == 200
    _error(response, 429, "throttled")
    assert response.has_header("Retry-After")


@pytest.mark.django_db
def test_api_key_rate_throttle__as_a_drf_throttle__counts_keys_and_passes_everyone_else(tenant, owner):
    api_key, _ = make_key(tenant, owner, rate_limit_per_minute=2)
    keyed = SimpleNamespace(auth=api_key)
    person = SimpleNamespace(auth=None)

    allowed = [ApiKeyRateThrottle().allow_request(keyed, None) for _ in range(2)]
    refused = ApiKeyRateThrottle()
    over = refused.allow_request(keyed, None)

    assert allowed == [True, True]
    assert over is False
    assert 1 <= (refused.wait() or 0) <= ApiKeyRateThrottle.window_seconds
    assert all(ApiKeyRateThrottle().allow_request(person, None) for _ in range(5))


@pytest.mark.django_db
@pytest.mark.redis
def test_api_key_rate_throttle__redis__one_round_trip_per_request_and_an_expiry(
    settings, redis_url, monkeypatch
):
    from django.core.cache import cache
    from redis.connection import Connection

    prefix = f"qm-test-{uuid.uuid4().hex}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": prefix,
        }
    }
    sent: list[int] = []
    send = Connection.send_packed_command

    def counting(self: Connection, command: Any, check_health: bool = True) -> None:
        sent.append(1)
        send(self, command, check_health)

    cache.set("warm-up", 1)  # the connection is opened before counting starts
    monkeypatch.setattr(Connection, "send_packed_command", counting)
    try:
        counts = [window_count("qm:rl:test", timeout=90) for _ in range(3)]
        round_trips = len(sent)
        monkeypatch.undo()
        client = cache._cache.get_client()  # type: ignore[attr-defined]  # the raw TTL, for the test
        ttl = client.ttl(cache.make_and_validate_key("qm:rl:test"))
        stored_value = cache.get("qm:rl:test")
    finally:
        monkeypatch.undo()
        client = cache._cache.get_client()  # type: ignore[attr-defined]  # this test's keys go
        for key in client.keys(f"{prefix}:*"):
            client.delete(key)

    assert counts == [1, 2, 3]
    assert round_trips == 3  # INCR and EXPIRE NX pipelined: one send per request
    assert 0 < ttl <= 90  # set by the first request and kept by the later ones
    assert stored_value == 3  # the public cache API reads the counter as an integer


# --- Last use, audit ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_key__several_requests_within_a_minute__last_used_written_once(tenant, owner):
    api_key, raw = make_key(tenant, owner)
    client = with_key(raw, REMOTE_ADDR="198.51.100.23")
    assert stored(api_key.pk).last_used_at is None

    with CaptureQueriesContext(connection) as queries:
        statuses = [client.get(teams_url(tenant)).status_code for _ in range(4)]

    updates = [q["sql"] for q in queries if "qm_api_key_touch" in q["sql"]]
    assert statuses == [200] * 4
    assert len(updates) == 1
    key = stored(api_key.pk)
    assert key.last_used_at is not None
    assert timezone.now() - key.last_used_at < timedelta(seconds=30)
    assert key.last_used_ip == "198.51.100.23"


@pytest.mark.django_db
def test_api_key__write_through_the_key__audited_as_api_key_acting_for_its_creator(tenant, owner):
    api_key, raw = make_key(tenant, owner, scopes=["teams:write"])

    response = with_key(raw).post(teams_url(tenant), {"name": "Made by a runtime"})

    assert response.status_code == 201, response.json()
    (entry,) = audit_entries(action="team.created")
    assert entry.actor_type == ActorType.API_KEY
    assert entry.actor_api_key_id == api_key.pk
    assert entry.actor_user_id == owner.pk
    assert api_key.prefix in entry.actor_label
