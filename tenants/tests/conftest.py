from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from tenants.tests.factories import TenantFactory, member


@pytest.fixture
def tenant() -> Any:
    return TenantFactory.create()


@pytest.fixture
def other_tenant() -> Any:
    return TenantFactory.create()


@pytest.fixture
def as_user():
    """as_user(user) -> an APIClient authenticated as that user."""

    def make(user: Any) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def owner(tenant: Any) -> Any:
    return member(tenant, "owner")


@pytest.fixture
def admin(tenant: Any) -> Any:
    return member(tenant, "admin")


@pytest.fixture
def platform_admin() -> Any:
    return UserFactory.create(platform_admin=True)


@pytest.fixture
def platform_operator() -> Any:
    return UserFactory.create(platform_operator=True)
