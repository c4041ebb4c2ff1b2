from __future__ import annotations

import uuid
from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from tenants.tests.factories import TenantFactory, member


@pytest.fixture(autouse=True)
def _private_cache(settings: Any) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"insights-tests-{uuid.uuid4().hex}",
        }
    }


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
def operator(db: Any) -> Any:
    return UserFactory.create(platform_operator=True)


@pytest.fixture
def as_user():
    def make(user: Any) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def price(db: Any) -> Any:
    from billing.tests.factories import create_test_price

    return create_test_price()
