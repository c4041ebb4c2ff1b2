"""Fixtures shared by every app's tests."""

from __future__ import annotations

import os
from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from tenants.tests.factories import TenantFactory, member


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def redis_url() -> str:
    """The real Redis of REDIS_URL; tests that need it are skipped, with the reason, without it."""
    url = os.environ.get("REDIS_URL", "")
    if not url:
        pytest.skip("needs a real Redis: set REDIS_URL (CI does; `make test` on a bare machine has none)")
    return url


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Every test starts with an empty cache: rate-limit windows, once-a-minute markers, cached
    settings and last-use stamps, whatever ran before it. Under test the cache is local memory
    (config/settings.py), one per process, so clearing it touches no other xdist worker; tests
    of the real Redis make their own."""
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    cache = caches["default"]
    assert isinstance(cache, LocMemCache), "tests clear the cache: it must be the in-process one"
    cache.clear()


@pytest.fixture(autouse=True, scope="session")
def _flush_past_insert_only_triggers() -> None:
    """Transactional tests end with a TRUNCATE of every table (Django's flush). The insert-only
    tables refuse TRUNCATE by trigger, as they must in production; only this test teardown may
    pass, through pgtrigger's explicit ignore."""
    import pgtrigger
    from django.core.management.commands import flush

    original = flush.Command.handle

    def handle(self: flush.Command, **options: Any) -> None:
        with pgtrigger.ignore():
            original(self, **options)

    flush.Command.handle = handle  # type: ignore[method-assign]  # test-only teardown hook


# --- The people and tenants most API tests start from (an app's conftest may define its own).


@pytest.fixture
def tenant(db: Any) -> Any:
    return TenantFactory.create()


@pytest.fixture
def other_tenant(db: Any) -> Any:
    return TenantFactory.create()


@pytest.fixture
def owner(tenant: Any) -> Any:
    return member(tenant, "owner")


@pytest.fixture
def platform_admin(db: Any) -> Any:
    return UserFactory.create(platform_admin=True)


@pytest.fixture
def platform_operator(db: Any) -> Any:
    return UserFactory.create(platform_operator=True)


@pytest.fixture
def as_user():
    def make(user: Any) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client

    return make
