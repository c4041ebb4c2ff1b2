"""Charts drawn on the server as SVG: the geometry here, the markup in a template
(templates/console/partials/bar_chart.html). No JavaScript, no build step; the numbers are
also given as a table for screen readers and for copying."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from decimal import Decimal

from console.formatting import amount, compact

# Viewbox units; the SVG scales to its container's width.
WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 12, 28
TICKS = 4


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    day: date
    value: Decimal
    label: str  # "4 Mar: 12.50 credits"


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class XLabel:
    x: float
    label: str
    anchor: str  # SVG text-anchor: the last day's label ends at the plot's edge


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    left: int
    right: float  # the plot's right edge
    bottom: float  # the plot's baseline
    bars: list[Bar]
    ticks: list[Tick]
    x_labels: list[XLabel]
    total: Decimal
    empty: bool  # nothing above zero: the template says what to do instead of drawing
    # A second series drawn over the bars on the same scale (an hourly chart's failures).
    overlay: list[Bar] = field(default_factory=list)


def nice_ceiling(value: Decimal) -> Decimal:
    """The smallest of 1, 2, 2.5, 5 x 10^k at or above `value` (an axis' top); 1 for nothing."""
    if value <= 0:
        return Decimal(1)
    exponent = value.adjusted()  # 10^exponent <= value < 10^(exponent + 1)
    base = Decimal(10) ** exponent
    for step in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10)):
        if step * base >= value:
            return (step * base).normalize()
    return (Decimal(10) * base).normalize()  # not reached: 10 x base > value


def _day_label(day: date) -> str:
    return f"{day.day} {day:%b}"


def daily_bars(points: Sequence[tuple[date, Decimal]], *, unit: str = "credits") -> BarChart:
    """A bar per day, oldest on the left; the axis labelled at nice values, a day label a week."""
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    baseline = TOP + plot_height
    top_value = nice_ceiling(max((value for _, value in points), default=Decimal(0)))
    slot = plot_width / max(len(points), 1)
    bars = []
    for index, (day, value) in enumerate(points):
        height = float(max(value, Decimal(0)) / top_value) * plot_height
        if value > 0:
            height = max(height, 1.0)  # a tiny day still shows
        bars.append(
            Bar(
                x=round(LEFT + index * slot + slot * 0.15, 2),
                y=round(baseline - height, 2),
                width=round(slot * 0.7, 2),
                height=round(height, 2),
                day=day,
                value=value,
                label=f"{_day_label(day)}: {amount(value)} {unit}",
            )
        )
    ticks = [
        Tick(y=round(baseline - plot_height * i / TICKS, 2), label=compact(top_value * i / TICKS))
        for i in range(TICKS + 1)
    ]
    last = len(points) - 1
    x_labels = [
        XLabel(
            x=round(WIDTH - RIGHT if index == last else LEFT + index * slot + slot / 2, 2),
            label=_day_label(day),
            anchor="end" if index == last else "middle",
        )
        for index, (day, _) in enumerate(points)
        if (last - index) % 7 == 0
    ]
    total = sum((value for _, value in points), Decimal(0))
    return BarChart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=WIDTH - RIGHT,
        bottom=baseline,
        bars=bars,
        ticks=ticks,
        x_labels=x_labels,
        total=total,
        empty=not any(value > 0 for _, value in points),
    )


def _hour_label(moment: datetime) -> str:
    return f"{moment.day} {moment:%b} {moment:%H}:00"


def hourly_bars(
    points: Sequence[tuple[datetime, Decimal]],
    *,
    unit: str,
    tz: tzinfo,
    overlay: Sequence[Decimal] = (),
    overlay_unit: str = "",
) -> BarChart:
    """A bar per hour, oldest on the left, labelled in `tz` every six hours; `overlay` (one value
    per hour, at most the bar's) is drawn over the bars on the same scale, e.g. failures."""
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    baseline = TOP + plot_height
    top_value = nice_ceiling(max((value for _, value in points), default=Decimal(0)))
    slot = plot_width / max(len(points), 1)

    def bar(index: int, moment: datetime, value: Decimal, what: str) -> Bar:
        height = float(max(value, Decimal(0)) / top_value) * plot_height
        if value > 0:
            height = max(height, 1.0)
        return Bar(
            x=round(LEFT + index * slot + slot * 0.15, 2),
            y=round(baseline - height, 2),
            width=round(slot * 0.7, 2),
            height=round(height, 2),
            day=moment,
            value=value,
            label=f"{_hour_label(moment)}: {compact(value)} {what}",
        )

    local = [(moment.astimezone(tz), value) for moment, value in points]
    bars = [bar(i, moment, value, unit) for i, (moment, value) in enumerate(local)]
    extra = [
        bar(i, local[i][0], value, overlay_unit or unit) for i, value in enumerate(overlay) if i < len(local)
    ]
    ticks = [
        Tick(y=round(baseline - plot_height * i / TICKS, 2), label=compact(top_value * i / TICKS))
        for i in range(TICKS + 1)
    ]
    x_labels = [
        XLabel(
            x=round(LEFT + index * slot + slot / 2, 2),
            label=f"{moment:%H}:00" if moment.hour else f"{moment.day} {moment:%b}",
            anchor="middle",
        )
        for index, (moment, _) in enumerate(local)
        if moment.hour % 6 == 0
    ]
    return BarChart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=WIDTH - RIGHT,
        bottom=baseline,
        bars=bars,
        ticks=ticks,
        x_labels=x_labels,
        total=sum((value for _, value in points), Decimal(0)),
        empty=not any(value > 0 for _, value in points),
        overlay=extra,
    )
