from __future__ import annotations

import uuid
from typing import Any

import pytest

from billing.tests.factories import create_test_price


@pytest.fixture(autouse=True)
def _private_cache(settings: Any) -> None:
    """API-key rate limits and last-use markers in a cache of this test's own."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"billing-tests-{uuid.uuid4().hex}",
        }
    }


@pytest.fixture
def price(db: Any) -> Any:
    return create_test_price()
