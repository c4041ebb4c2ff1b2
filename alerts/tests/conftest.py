from __future__ import annotations

from typing import Any

import pytest

from tenants.tests.factories import member


@pytest.fixture
def admin(tenant: Any) -> Any:
    return member(tenant, "admin")


@pytest.fixture
def viewer(tenant: Any) -> Any:
    return member(tenant, "viewer")


@pytest.fixture
def plain_member(tenant: Any) -> Any:
    return member(tenant, "member")
