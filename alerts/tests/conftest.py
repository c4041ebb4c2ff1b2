from __future__ import annotations

import uuid
from typing import Any

import pytest

from tenants.tests.factories import member


@pytest.fixture(autouse=True)
def _private_cache(settings: Any) -> None:
    """Cached settings (the Slack webhook) in a cache of this test's own."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"alerts-tests-{uuid.uuid4().hex}",
        }
    }


@pytest.fixture
def admin(tenant: Any) -> Any:
    return member(tenant, "admin")


@pytest.fixture
def viewer(tenant: Any) -> Any:
    return member(tenant, "viewer")


@pytest.fixture
def plain_member(tenant: Any) -> Any:
    return member(tenant, "member")
