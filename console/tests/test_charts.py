"""The server-drawn bar chart's geometry (console.charts)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from console import charts


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("0"), Decimal("1")),
        (Decimal("0.3"), Decimal("0.5")),
        (Decimal("1"), Decimal("1")),
        (Decimal("7"), Decimal("10")),
        (Decimal("8"), Decimal("10")),
        (Decimal("21"), Decimal("25")),
        (Decimal("26"), Decimal("50")),
        (Decimal("1234"), Decimal("2000")),
    ],
)
def test_nice_ceiling__values__next_round_top(value: Decimal, expected: Decimal) -> None:
    assert charts.nice_ceiling(value) == expected


def _days(values: list[str]) -> list[tuple[date, Decimal]]:
    first = date(2025, 3, 1)
    return [(first + timedelta(days=i), Decimal(v)) for i, v in enumerate(values)]


def test_daily_bars__values__heights_in_proportion_on_a_nice_axis() -> None:
    chart = charts.daily_bars(_days(["0", "5", "10", "0.001"]))
    plot_height = charts.HEIGHT - charts.TOP - charts.BOTTOM
    heights = [bar.height for bar in chart.bars]
    assert heights[0] == 0
    assert heights[1] == pytest.approx(plot_height / 2)
    assert heights[2] == pytest.approx(plot_height)  # the top of the axis is 10
    assert heights[3] == 1.0  # a tiny day still shows
    assert [tick.label for tick in chart.ticks] == ["0", "2.5", "5", "7.5", "10"]
    assert chart.bars[2].y == pytest.approx(chart.bottom - plot_height)
    assert chart.bars[1].label == "2 Mar: 5.00 credits"
    assert chart.total == Decimal("15.001")
    assert chart.empty is False
    assert all(
        bar.x >= charts.LEFT and bar.x + bar.width <= charts.WIDTH - charts.RIGHT for bar in chart.bars
    )


def test_daily_bars__thirty_days__a_label_a_week_the_last_one_ending_at_the_edge() -> None:
    chart = charts.daily_bars(_days(["1"] * 30))
    assert [label.label for label in chart.x_labels] == ["2 Mar", "9 Mar", "16 Mar", "23 Mar", "30 Mar"]
    assert chart.x_labels[-1].anchor == "end"
    assert chart.x_labels[-1].x == charts.WIDTH - charts.RIGHT
    assert {label.anchor for label in chart.x_labels[:-1]} == {"middle"}


def test_daily_bars__nothing_used__empty() -> None:
    chart = charts.daily_bars(_days(["0"] * 30))
    assert chart.empty is True
    assert {bar.height for bar in chart.bars} == {0}
