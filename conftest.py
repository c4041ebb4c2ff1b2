"""Fixtures shared by every app's tests."""

from __future__ import annotations

import os

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
