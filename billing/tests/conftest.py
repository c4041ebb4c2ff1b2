from __future__ import annotations

from typing import Any

import pytest

from billing.tests.factories import create_test_price


@pytest.fixture
def price(db: Any) -> Any:
    return create_test_price()
