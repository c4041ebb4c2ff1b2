from __future__ import annotations

from typing import Any

import pytest

from accounts.tests.factories import UserFactory


@pytest.fixture
def operator(db: Any) -> Any:
    return UserFactory.create(platform_operator=True)


@pytest.fixture
def price(db: Any) -> Any:
    from billing.tests.factories import create_test_price

    return create_test_price()
