"""Platform staff's A/B test pages (issue 13), under the catalogue: the recipes with results, a
recipe's comparison of its variants on one metric, and recording a result.

- The comparison is `GET /api/v1/ab-tests/{recipe_id}/compare`'s: the results of the metric
  (agents.selectors.ab_result_list) pooled and compared with the baseline by
  agents.services.ab_compare; the baseline when none is chosen is the API's too
  (agents.services.ab.default_baseline). With no metric chosen the page shows the recipe's first
  metric by name (the API asks for one when there are several). A metric without results or a
  variant that is not one are shown on the form (400), never a 500.
- The figures are the service's, formatted: a rate as a percentage, its difference and interval
  in percentage points; a mean as a plain number (the metric's unit is its name's business).
  "Significant" is p < 0.05, coloured by the sign of the difference only: whether higher is better
  depends on the metric (for a duration or a cost, lower is).
- Recording calls agents.services.ab_result_record, as `POST /api/v1/platform/ab-tests/` does
  (one transaction, audited there); its refusals (a period recorded twice, both kinds given,
  more successes than runs) are shown on the form.

Guard: `platform_page` (console/views/platform.py), as the catalogue's pages: platform staff;
everyone else the 403 page. A/B results are platform-wide (no tenant, no row-level security).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast
from uuid import UUID

from django.contrib import messages
from django.contrib.postgres.aggregates import ArrayAgg
from django.db.models import Count, Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods

from accounts.models import User
from agents import selectors, services
from agents.models import Recipe
from agents.services.ab import Comparison, default_baseline
from console.access import refusal_page, render_page
from console.formatting import DASH, MINUS, compact
from console.forms import show_domain_error
from console.forms_ab import CompareForm, RecordForm
from console.views.money import wants_fragment
from console.views.platform import platform_page
from core.errors import DomainError

INDEX = "console/catalogue/ab_index.html"
COMPARE = "console/catalogue/ab_compare.html"
RECORD = "console/catalogue/ab_record.html"
NAV = "console:platform_catalogue"

# The interval chart's geometry: heights in CSS pixels, the margins at both ends in percent.
TOP, ROW, AXIS, MARGIN = 4, 44, 24, 2.0


def _page(request: HttpRequest, page: str, status: int = 200, /, **context: Any) -> HttpResponse:
    return render_page(request, page, {"nav_current": NAV, **context}, status=status)


# --- Numbers as people read them ------------------------------------------------------------------


def _signed(text: str, number: float) -> str:
    if number > 0:
        return f"+{text}"
    return f"{MINUS}{text}" if number < 0 else text


def _decimals(size: float) -> int:
    """Decimals for about three significant digits, at most four: 41,800 → 0; 3.14 → 2."""
    if size == 0 or size >= 100:
        return 0
    return min(4, max(0, 2 - math.floor(math.log10(size))))


def plain(number: float, *, signed: bool = False) -> str:
    """A mean, a difference of means: thousands separators, about three significant digits."""
    size = abs(number)
    text = f"{size:,.{_decimals(size)}f}"
    if float(text.replace(",", "")) == 0:
        return "0"
    return _signed(text, number) if signed else (f"{MINUS}{text}" if number < 0 else text)


def percent(number: float) -> str:
    """A rate: `86.1 %`."""
    return f"{number * 100:.1f} %"


def points(number: float) -> str:
    """A difference of rates in percentage points: `+4.3 pp`."""
    text = f"{abs(number) * 100:.1f}"
    return f"{_signed(text, number if text != '0.0' else 0)} pp"


def lift_text(number: float | None) -> str:
    if number is None:
        return DASH
    text = f"{abs(number) * 100:.1f}"
    return f"{_signed(text, number if text != '0.0' else 0)} %"


def p_text(p: float | None) -> str:
    if p is None:
        return DASH
    return "< 0.0001" if p < 0.0001 else f"{p:.4f}"


def _difference(number: float | None, kind: str) -> str:
    if number is None:
        return DASH
    return points(number) if kind == "rate" else plain(number, signed=True)


def _interval(low: float | None, high: float | None, kind: str) -> str:
    if low is None or high is None:
        return DASH
    if kind == "rate":
        return f"{points(low).removesuffix(' pp')} to {points(high)}"
    return f"{plain(low, signed=True)} to {plain(high, signed=True)}"


def _statistic(c: Comparison, kind: str) -> str:
    if c.statistic is None:
        return ""
    if kind == "rate":
        return f"z = {plain(c.statistic)}"
    return f"t = {plain(c.statistic)}, df {plain(c.df or 0)}"


@dataclass(frozen=True)
class Row:
    """One variant of the comparison as the table shows it."""

    variant: str
    is_baseline: bool
    sample_size: int
    value: str
    difference: str
    lift: str
    interval: str
    statistic: str  # "z = 2.10", "t = -2.46, df 25.0" (a real minus); "" for none
    p_value: str
    significance: str  # "Baseline", "Significant, higher", "Significant, lower", "Not significant"
    badge: str  # its CSS class
    direction: str  # up | down | none (the sign of a significant difference)


def row_of(c: Comparison, kind: str) -> Row:
    """A comparison's figures formatted for the table."""
    direction = "none"
    if c.is_baseline:
        significance, badge = "Baseline", "badge"
    elif c.significant and (c.difference or 0) != 0:
        direction = "up" if (c.difference or 0) > 0 else "down"
        higher = direction == "up"
        significance = f"Significant, {'higher' if higher else 'lower'}"
        badge = "badge badge-ok" if higher else "badge badge-warn"
    else:
        significance, badge = "Not significant", "badge"
    return Row(
        variant=c.variant,
        is_baseline=c.is_baseline,
        sample_size=c.sample_size,
        value=percent(c.value) if kind == "rate" else plain(c.value),
        difference=_difference(c.difference, kind),
        lift=lift_text(c.lift),
        interval=_interval(c.ci_low, c.ci_high, kind),
        statistic=_statistic(c, kind),
        p_value=p_text(c.p_value),
        significance=significance,
        badge=badge,
        direction=direction,
    )


# --- The interval chart ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """One variant's row: its name above, its interval and point below (x as "12.5%")."""

    label_y: int
    y: int
    variant: str
    x_low: str | None  # None: no interval (a sample of one, no variance)
    x_high: str | None
    x_point: str
    title: str  # "shorter-prompt: +6.2 pp (95 % CI +3.2 to +9.3 pp)"
    direction: str


@dataclass(frozen=True)
class AxisTick:
    x: str
    label: str
    anchor: str  # SVG text-anchor: the end labels stay inside the chart


@dataclass(frozen=True)
class IntervalChart:
    """Drawn without a viewBox: heights in CSS pixels, x in percent of the width, so that the
    text keeps its size from a phone to a laptop and nothing scrolls."""

    height: int
    top: int
    bottom: int  # the plot's lower edge (the axis labels below it)
    zero_x: str
    rows: list[Interval]
    ticks: list[AxisTick]


def _nice_step(span: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k at or above `span`."""
    base = 10 ** math.floor(math.log10(span))
    return next(m * base for m in (1, 2, 2.5, 5, 10) if m * base >= span * (1 - 1e-12))


def _tick_label(value: float, kind: str) -> str:
    if kind == "rate":
        text = f"{abs(value) * 100:.2f}".rstrip("0").rstrip(".")
        return f"{_signed(text, value)} pp"
    return compact(Decimal(repr(value))) if value else "0"


def interval_chart(comparisons: list[Comparison], kind: str) -> IntervalChart | None:
    """Each variant's difference from the baseline with its 95 % interval, on one axis with the
    baseline at 0; None when there is nothing to draw (the baseline alone)."""
    others = [c for c in comparisons if not c.is_baseline and c.difference is not None]
    if not others:
        return None
    values = [0.0]
    for c in others:
        values += [v for v in (c.difference, c.ci_low, c.ci_high) if v is not None]
    lo, hi = min(values), max(values)
    if hi - lo == 0:
        lo, hi = lo - 1, hi + 1
    step = _nice_step((hi - lo) / 4)
    lo, hi = math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step

    def x(value: float) -> str:
        return f"{MARGIN + (value - lo) / (hi - lo) * (100 - 2 * MARGIN):.2f}%"

    rows = []
    for n, c in enumerate(others):
        row = row_of(c, kind)
        interval = "" if row.interval == DASH else f" (95 % CI {row.interval})"
        top = TOP + ROW * n
        rows.append(
            Interval(
                label_y=top + 14,
                y=top + 30,
                variant=c.variant,
                x_low=x(c.ci_low) if c.ci_low is not None else None,
                x_high=x(c.ci_high) if c.ci_high is not None else None,
                x_point=x(c.difference or 0.0),
                title=f"{c.variant}: {row.difference}{interval}",
                direction=row.direction,
            )
        )
    count = round((hi - lo) / step)
    ticks = [
        AxisTick(
            x(lo + k * step),
            _tick_label(lo + k * step, kind),
            "start" if k == 0 else "end" if k == count else "middle",
        )
        for k in range(count + 1)
    ]
    bottom = TOP + ROW * len(others)
    return IntervalChart(height=bottom + AXIS, top=TOP, bottom=bottom, zero_x=x(0.0), rows=rows, ticks=ticks)


# --- The pages ------------------------------------------------------------------------------------


@platform_page()
@require_GET
def ab_tests(request: HttpRequest) -> HttpResponse:
    """The recipes (versions) with A/B results: their metrics, variants, latest period and
    count; one query whatever their number."""
    recipes = list(
        Recipe.objects.select_related("cookbook")
        .annotate(
            result_count=Count("ab_results"),
            metrics=ArrayAgg("ab_results__metric", distinct=True, order_by="ab_results__metric"),
            variants=ArrayAgg("ab_results__variant", distinct=True, order_by="ab_results__variant"),
            latest_start=Max("ab_results__period_start"),
            latest_end=Max("ab_results__period_end"),
        )
        .filter(result_count__gt=0)
        .order_by("name", "-created_at", "id")
    )
    return _page(request, INDEX, recipes=recipes)


def _recipe(recipe_id: UUID) -> Recipe | None:
    return (
        selectors.recipe_list(published_only=False)
        .select_related("cookbook__template")
        .filter(pk=recipe_id)
        .first()
    )


@platform_page()
@require_GET
def ab_compare(request: HttpRequest, recipe_id: UUID) -> HttpResponse:
    """A recipe's variants on one metric against a baseline (`?metric=&baseline=`), the chart of
    the intervals and the results compared. htmx (the form): the comparison panel alone."""
    recipe = _recipe(recipe_id)
    if recipe is None:
        return refusal_page(request, status=404, detail="There is no such recipe in the catalogue.")
    metrics = selectors.ab_metric_names(recipe=recipe)
    form = CompareForm(
        {
            "metric": request.GET.get("metric") or (metrics[0] if metrics else ""),
            "baseline": request.GET.get("baseline", ""),
        },
        metrics=metrics,
    )
    context: dict[str, Any] = {"recipe": recipe, "metrics": metrics, "form": form, "comparison": None}
    status = 200
    if metrics and form.is_valid():
        metric = form.cleaned_data["metric"]
        results = list(selectors.ab_result_list(recipe=recipe, metric=metric).select_related("recorded_by"))
        variants = sorted({row.variant for row in results})
        form.offer_baselines(variants)
        baseline = form.cleaned_data["baseline"] or default_baseline(variants)
        context.update(metric=metric, results=results, baseline=baseline)
        try:
            answer = services.ab_compare(results=results, baseline=baseline)
        except DomainError as exc:  # a baseline that is no variant of this metric
            show_domain_error(form, exc)
            status = exc.status_code
        else:
            comparisons = answer["comparisons"]
            context.update(
                kind=answer["kind"],
                comparison=[row_of(c, answer["kind"]) for c in comparisons],
                chart=interval_chart(comparisons, answer["kind"]),
            )
    elif metrics:
        status = 400
    template = f"{COMPARE}#comparison" if wants_fragment(request) else COMPARE
    return _page(request, template, status, **context)


@platform_page()
@require_http_methods(["GET", "POST"])
def ab_record(request: HttpRequest) -> HttpResponse:
    """Record one variant's result (`?recipe=&metric=&variant=` prefill the form); then the
    recipe's comparison on that metric."""
    recipes = list(selectors.recipe_list(published_only=False).order_by("name", "-created_at", "id"))
    if request.method != "POST":
        initial = {name: request.GET.get(name, "")[:64] for name in ("recipe", "metric", "variant")}
        return _page(request, RECORD, form=RecordForm(recipes=recipes, initial=initial))
    form = RecordForm(request.POST, recipes=recipes)
    if not form.is_valid():
        return _page(request, RECORD, 400, form=form)
    values = form.values()
    try:
        result = services.ab_result_record(actor=cast(User, request.user), **values)
    except DomainError as exc:  # both kinds or neither, a period recorded twice, a mixed metric
        show_domain_error(form, exc)
        return _page(request, RECORD, exc.status_code, form=form)
    recipe = values["recipe"]
    messages.success(
        request,
        f"Recorded {result.variant}'s {result.metric} for {recipe.name} {recipe.version} "
        f"(n = {result.sample_size:,}).",
    )
    url = reverse("console:platform_ab_compare", kwargs={"recipe_id": recipe.pk})
    return redirect(f"{url}?{urlencode({'metric': result.metric})}")


AB_URL = "platform/catalogue/ab-tests/"
urlpatterns = [
    path(AB_URL, ab_tests, name="platform_ab_tests"),
    path(f"{AB_URL}record/", ab_record, name="platform_ab_record"),
    path(f"{AB_URL}<uuid:recipe_id>/", ab_compare, name="platform_ab_compare"),
]
