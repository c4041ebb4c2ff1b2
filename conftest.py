"""Fixtures shared by every app's tests."""

from __future__ import annotations

import os
from typing import Any

import pytest
from rest_framework.test import APIClient


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
