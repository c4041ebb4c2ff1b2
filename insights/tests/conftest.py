from __future__ import annotations

import uuid
from typing import Any

import pytest

from accounts.tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _private_cache(settings: Any) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"insights-tests-{uuid.uuid4().hex}",
        }
    }


@pytest.fixture
def operator(db: Any) -> Any:
    return UserFactory.create(platform_operator=True)


@pytest.fixture
def price(db: Any) -> Any:
    from billing.tests.factories import create_test_price

    return create_test_price()
