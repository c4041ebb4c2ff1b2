"""Amounts and times for people (console.formatting, the template filters)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import timezone

from console import formatting


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("12345.6"), "12,345.60"),
        (Decimal("0.5"), "0.50"),
        (Decimal("0.004200"), "0.0042"),
        (Decimal("-3.005"), "\u22123.01"),
        (Decimal("0"), "0"),
        (Decimal("0.000000"), "0"),
        (None, "\u2014"),
        ("junk", "\u2014"),
        (Decimal("NaN"), "\u2014"),
    ],
)
def test_amount__values__as_people_read_them(value: object, expected: str) -> None:
    assert formatting.amount(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(Decimal("1234.5"), "$1,234.50"), (Decimal("0.0031"), "$0.0031"), (Decimal("-2"), "\u2212$2.00")],
)
def test_usd__values__with_the_dollar_sign(value: Decimal, expected: str) -> None:
    assert formatting.usd(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("0"), "0"),
        (Decimal("2.5"), "2.5"),
        (Decimal("7.5"), "7.5"),
        (Decimal("950"), "950"),
        (Decimal("1250"), "1.3k"),
        (Decimal("2000000"), "2M"),
    ],
)
def test_compact__axis_values__short(value: Decimal, expected: str) -> None:
    assert formatting.compact(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "\u2014"),
        (Decimal("0.4"), "less than a day"),
        (Decimal("1.0"), "1 day"),
        (Decimal("3.46"), "3.5 days"),
        (Decimal("205.4"), "205 days"),
        (Decimal("1234.5"), "1,235 days"),
    ],
)
def test_runway__days__in_words(value: object, expected: str) -> None:
    assert formatting.runway(value) == expected


def test_when__in_the_active_time_zone__with_its_abbreviation() -> None:
    moment = datetime(2025, 3, 4, 13, 5, tzinfo=UTC)
    with timezone.override("Europe/Berlin"):
        assert formatting.when(moment) == "4 Mar 2025, 14:05 CET"
    with timezone.override("America/New_York"):
        assert formatting.when(moment) == "4 Mar 2025, 08:05 EST"


def test_ago__recent_and_older__in_words() -> None:
    assert formatting.ago(timezone.now()) == "just now"
    assert formatting.ago(timezone.now() - timedelta(minutes=5, seconds=3)) == "5\xa0minutes ago"


@pytest.mark.parametrize(
    ("seconds", "expected"), [(1, "1 second"), (40, "40 seconds"), (61, "2 minutes"), (900, "15 minutes")]
)
def test_wait__seconds__in_words(seconds: int, expected: str) -> None:
    assert formatting.wait(seconds) == expected


def test_filters__in_a_template__format_and_check_permissions() -> None:
    class Access:
        def allows(self, permission: str) -> bool:
            return permission == "credits:read"

    template = Template(
        '{% load console %}{{ amount|credits }}|{{ access|allows:"credits:read" }}|'
        '{{ access|allows:"credits:admin" }}|{{ none|allows:"credits:read" }}|{{ action|label }}'
    )
    text = template.render(
        Context(
            {
                "amount": Decimal("1000"),
                "access": Access(),
                "none": None,
                "action": "credits.threshold_created",
            }
        )
    )
    assert text == "1,000.00|True|False|False|Credits threshold created"
