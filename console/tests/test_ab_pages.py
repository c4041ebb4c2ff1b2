"""Platform staff's A/B test pages (issue 13): the recipes with results, a recipe's comparison
(the figures of agents.services.ab_compare, formatted), refusals shown in place, recording a
result through the API's service (audited; a period recorded twice is a form error), tenant
members refused, and query counts independent of the number of results."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils.html import escape

from agents import selectors, services
from agents.models import AbTestResult, Recipe
from agents.tests.factories import AbResultFactory, RecipeFactory
from audit.models import AuditLogEntry
from console.demo.telemetry import AB_FIGURES
from console.tests.data import AB_START, AB_WEEK, ab_demo_results
from console.views.ab_tests import interval_chart, p_text, plain, points, row_of
from core.tenancy import platform_bypass

pytestmark = pytest.mark.django_db

ROOT = "/platform/catalogue/ab-tests/"
RECORD = f"{ROOT}record/"


@pytest.fixture
def staff(signed_in: Any, platform_operator: Any) -> Client:
    client: Client = signed_in(platform_operator)
    return client


def _compare_url(recipe: Recipe, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"{ROOT}{recipe.pk}/" + (f"?{query}" if query else "")


def _text(response: Any) -> str:
    return str(response.content.decode())


def _record_body(recipe: Recipe, **extra: Any) -> dict[str, Any]:
    return {
        "recipe": str(recipe.pk),
        "variant": "control",
        "metric": "success_rate",
        "sample_size": "200",
        "successes": "150",
        "mean": "",
        "variance": "",
        "period_start": "2026-12-01T00:00",
        "period_end": "2026-12-08T00:00",
        **extra,
    }


def _audited(action: str) -> list[AuditLogEntry]:
    with platform_bypass(reason="test", log=False):
        return list(AuditLogEntry.objects.filter(action=action))


def _statements(client: Client, url: str) -> list[str]:
    client.get(url)  # warm: the configuration cache, the session
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]


# --- Who may open them ----------------------------------------------------------------------------


def test_ab_pages__tenant_owner__403_page_and_nothing_recorded(signed_in: Any, owner: Any) -> None:
    recipe = ab_demo_results()
    client = signed_in(owner)
    for url in (ROOT, _compare_url(recipe), RECORD):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "platform staff" in _text(response)
        assert "shorter-prompt" not in _text(response)
    assert client.post(RECORD, _record_body(recipe, period_start="2027-01-01T00:00")).status_code == 403
    with platform_bypass(reason="test", log=False):
        assert AbTestResult.objects.count() == 8


def test_ab_pages__signed_out__to_sign_in() -> None:
    response = Client().get(ROOT)
    assert response.status_code == 302
    assert response["Location"].startswith("/signin/")


def test_ab_compare__unknown_recipe__404_page(staff: Client) -> None:
    response = staff.get(f"{ROOT}00000000-0000-4000-8000-000000000000/")
    assert response.status_code == 404
    assert "no such recipe" in _text(response)
    assert staff.get(f"{ROOT}not-a-uuid/").status_code == 404


# --- The index ------------------------------------------------------------------------------------


def test_ab_index__no_results__says_how_they_arrive(staff: Client) -> None:
    RecipeFactory.create(name="never-tested")
    response = staff.get(ROOT)
    assert response.status_code == 200
    body = _text(response)
    assert 'data-testid="ab-empty"' in body
    assert "POST /api/v1/platform/ab-tests/" in body
    assert "never-tested" not in body


def test_ab_index__recipes_with_results__metrics_variants_count_linked(staff: Client) -> None:
    recipe = ab_demo_results()
    RecipeFactory.create(name="never-tested")
    body = _text(staff.get(ROOT))
    assert "1 recipe version with results" in body
    assert f'href="{ROOT}{recipe.pk}/"' in body
    assert f'href="{ROOT}{recipe.pk}/?metric=duration_ms"' in body
    row = body.split(f'data-testid="ab-recipe-weekly-status-{recipe.version}"', 1)[1].split("</tr>", 1)[0]
    assert "<code>duration_ms</code>" in row
    assert "<code>success_rate</code>" in row
    assert "<code>control</code>" in row
    assert "<code>shorter-prompt</code>" in row
    assert '<td class="num">8</td>' in row
    assert "never-tested" not in body


def test_ab_index__query_count__same_for_one_recipe_and_many(staff: Client) -> None:
    ab_demo_results()
    few = _statements(staff, ROOT)
    for _ in range(3):
        ab_demo_results()
    many = _statements(staff, ROOT)
    assert len(many) == len(few), "\n".join(many)


# --- The comparison -------------------------------------------------------------------------------


def test_ab_compare__demo_success_rate__the_services_figures_formatted(staff: Client) -> None:
    recipe = ab_demo_results()
    response = staff.get(_compare_url(recipe, metric="success_rate"))
    assert response.status_code == 200
    body = _text(response)
    results = list(selectors.ab_result_list(recipe=recipe, metric="success_rate"))
    answer = services.ab_compare(results=results, baseline="control")
    [base, variant] = answer["comparisons"]
    assert (base.variant, variant.variant) == ("control", "shorter-prompt")
    control_row = body.split('data-testid="ab-row-control"', 1)[1].split("</tr>", 1)[0]
    variant_row = body.split('data-testid="ab-row-shorter-prompt"', 1)[1].split("</tr>", 1)[0]
    # Pooled by hand: 690 of 805 (85.7 %) against 753 of 819 (91.9 %), +6.2 points.
    assert ">805<" in control_row
    assert "85.7 %" in control_row
    assert "Baseline" in control_row
    assert ">819<" in variant_row
    assert "91.9 %" in variant_row
    assert "+6.2 pp" in variant_row
    assert variant.lift is not None
    assert f"+{variant.lift * 100:.1f} %" in variant_row  # +7.3 %
    assert (
        points(variant.ci_low or 0).removesuffix(" pp") + " to " + points(variant.ci_high or 0) in variant_row
    )
    assert escape(p_text(variant.p_value)) in variant_row  # "< 0.0001"
    assert variant.significant
    assert 'class="badge badge-ok" data-testid="ab-significance">Significant, higher' in variant_row
    assert 'data-testid="ab-chart"' in body
    assert 'data-testid="ab-results"' in body  # the four rows compared
    assert body.count("2 Nov 2026") >= 2


def test_ab_compare__no_metric_named__the_first_by_name_and_the_control_baseline(staff: Client) -> None:
    recipe = ab_demo_results()
    body = _text(staff.get(_compare_url(recipe)))
    assert "<code>duration_ms</code> against <code>control</code>" in body
    variant_row = body.split('data-testid="ab-row-shorter-prompt"', 1)[1].split("</tr>", 1)[0]
    results = list(selectors.ab_result_list(recipe=recipe, metric="duration_ms"))
    [_, variant] = services.ab_compare(results=results, baseline="control")["comparisons"]
    # A mean, unit-less: 34,845 against 42,046; lower, and significantly so.
    assert plain(variant.value) in variant_row
    assert plain(variant.difference or 0, signed=True) in variant_row
    assert variant.difference is not None
    assert variant.difference < 0
    assert "t = " in variant_row
    assert 'class="badge badge-warn" data-testid="ab-significance">Significant, lower' in variant_row


def test_ab_compare__other_baseline__the_control_compared_with_it(staff: Client) -> None:
    recipe = ab_demo_results()
    body = _text(staff.get(_compare_url(recipe, metric="success_rate", baseline="shorter-prompt")))
    control_row = body.split('data-testid="ab-row-control"', 1)[1].split("</tr>", 1)[0]
    assert "\u22126.2 pp" in control_row
    assert "Significant, lower" in control_row


def test_ab_compare__hand_computed_rates(staff: Client) -> None:
    # 100/1000 against 130/1000 (agents/tests/test_telemetry_ab.py): +3.0 pp, lift +30.0 %,
    # CI [0.0020680, 0.0579320], p = 0.035484.
    recipe = RecipeFactory.create()
    AbResultFactory.create(recipe=recipe, variant="control", sample_size=1000, successes=100)
    AbResultFactory.create(recipe=recipe, variant="new", sample_size=1000, successes=130)
    body = _text(staff.get(_compare_url(recipe)))
    row = body.split('data-testid="ab-row-new"', 1)[1].split("</tr>", 1)[0]
    for figure in ("13.0 %", "+3.0 pp", "+30.0 %", "+0.2 to +5.8 pp", "0.0355", "z = 2.10"):
        assert figure in row, figure


def test_ab_compare__bad_metric_or_baseline__a_clear_message_not_a_500(staff: Client) -> None:
    recipe = ab_demo_results()
    response = staff.get(_compare_url(recipe, metric="latency"))
    assert response.status_code == 400
    assert "No results for that metric: pick one of duration_ms, success_rate." in _text(response)
    response = staff.get(_compare_url(recipe, metric="success_rate", baseline="nope"))
    assert response.status_code == 400
    assert "No results of that variant for this metric." in _text(response)
    assert 'data-testid="ab-comparison"' not in _text(response)
    long = staff.get(_compare_url(recipe, metric="x" * 500, baseline="y" * 500))
    assert long.status_code == 400


def test_ab_compare__htmx__the_comparison_panel_alone(staff: Client) -> None:
    recipe = ab_demo_results()
    response = staff.get(_compare_url(recipe, metric="success_rate"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = _text(response)
    assert body.lstrip().startswith('<section class="panel" aria-labelledby="ab-comparison-title"')
    assert "<html" not in body
    assert "Significant, higher" in body


def test_ab_compare__recipe_without_results__empty_state_and_a_way_to_record(staff: Client) -> None:
    recipe = RecipeFactory.create()
    response = staff.get(_compare_url(recipe))
    assert response.status_code == 200
    body = _text(response)
    assert 'data-testid="ab-empty"' in body
    assert f'href="{RECORD}?recipe={recipe.pk}"' in body


def test_ab_compare__query_count__same_for_few_results_and_many(staff: Client) -> None:
    recipe = ab_demo_results()
    url = _compare_url(recipe, metric="success_rate")
    few = _statements(staff, url)
    for n in range(2, 8):  # six more weeks of both variants
        for variant in AB_FIGURES:
            AbResultFactory.create(
                recipe=recipe, variant=variant, sample_size=400, successes=350,
                period_start=AB_START + n * AB_WEEK, period_end=AB_START + (n + 1) * AB_WEEK,
            )  # fmt: skip
    many = _statements(staff, url)
    assert len(many) == len(few), "\n".join(many)
    # The Django session; the console session with its user; the recipe; its metrics; the
    # metric's results with who recorded them; the header's switcher (in the user's
    # row-level-security context: read, set, restore).
    assert len(few) == 8, "\n".join(q[:160] for q in few)


def test_interval_chart__zero_inside_the_axis_and_the_interval_around_the_point() -> None:
    results = [
        AbResultFactory.build(variant="control", sample_size=1000, successes=100),
        AbResultFactory.build(variant="new", sample_size=1000, successes=130),
    ]
    comparisons = services.ab_compare(results=results, baseline="control")["comparisons"]
    chart = interval_chart(comparisons, "rate")
    assert chart is not None
    [row] = chart.rows
    assert row.x_low is not None
    assert row.x_high is not None

    def at(x: str) -> float:
        return float(x.removesuffix("%"))

    assert 0 < at(chart.zero_x) < at(row.x_low) < at(row.x_point) < at(row.x_high) < 100
    assert [tick.label for tick in chart.ticks] == ["0 pp", "+2 pp", "+4 pp", "+6 pp"]
    assert (chart.ticks[0].anchor, chart.ticks[-1].anchor) == ("start", "end")
    assert row.direction == "up"
    assert interval_chart(comparisons[:1], "rate") is None  # the baseline alone: nothing to draw


def test_row_of__baseline_and_undefined_figures__dashes() -> None:
    results = [
        AbResultFactory.build(variant="a", sample_size=1, successes=None, mean=3.0, variance=0.0),
        AbResultFactory.build(variant="b", sample_size=1, successes=None, mean=4.0, variance=0.0),
    ]
    [base, other] = [
        row_of(c, "mean") for c in services.ab_compare(results=results, baseline="a")["comparisons"]
    ]
    assert (base.difference, base.lift, base.p_value, base.significance) == (
        "\u2014",
        "\u2014",
        "\u2014",
        "Baseline",
    )
    assert (other.value, other.difference, other.interval, other.statistic) == ("4.00", "+1.00", "\u2014", "")
    assert other.significance == "Not significant"


# --- Recording ------------------------------------------------------------------------------------


def test_ab_record__valid__created_audited_and_shown_in_the_comparison(
    staff: Client, platform_operator: Any
) -> None:
    recipe = RecipeFactory.create(name="triage")
    form = staff.get(f"{RECORD}?recipe={recipe.pk}&metric=success_rate")
    assert form.status_code == 200
    assert f'<option value="{recipe.pk}" selected>' in _text(form)
    response = staff.post(RECORD, _record_body(recipe))
    assert response.status_code == 302
    assert response["Location"] == f"{ROOT}{recipe.pk}/?metric=success_rate"
    with platform_bypass(reason="test", log=False):
        result = AbTestResult.objects.get(recipe=recipe)
    assert (result.variant, result.sample_size, result.successes, result.mean) == ("control", 200, 150, None)
    assert result.period_start == datetime(2026, 12, 1, tzinfo=UTC)
    assert result.recorded_by_id == platform_operator.pk
    [entry] = _audited("ab_result.recorded")
    assert entry.actor_user_id == platform_operator.pk
    assert entry.details["sample_size"] == 200
    page = _text(staff.get(response["Location"]))
    assert "Recorded control&#x27;s success_rate for triage" in page
    assert "75.0 %" in page


def test_ab_record__a_mean__created(staff: Client) -> None:
    recipe = RecipeFactory.create()
    body = _record_body(recipe, metric="duration_ms", successes="", mean="41800.5", variance="92000000")
    assert staff.post(RECORD, body).status_code == 302
    with platform_bypass(reason="test", log=False):
        result = AbTestResult.objects.get(recipe=recipe)
    assert (result.kind, result.mean, result.variance) == ("mean", 41800.5, 9.2e7)


def test_ab_record__duplicate_period__form_error_nothing_added(staff: Client) -> None:
    recipe = RecipeFactory.create()
    assert staff.post(RECORD, _record_body(recipe)).status_code == 302
    again = staff.post(RECORD, _record_body(recipe, successes="160"))
    assert again.status_code == 409
    assert "already recorded" in _text(again)
    assert 'class="notice notice-error"' in _text(again)
    with platform_bypass(reason="test", log=False):
        assert AbTestResult.objects.filter(recipe=recipe).count() == 1
    assert len(_audited("ab_result.recorded")) == 1


@pytest.mark.parametrize(
    ("extra", "status", "message"),
    [
        ({"mean": "3.5", "variance": "1"}, 400, "Give successes (a rate) or mean and variance"),
        ({"successes": ""}, 400, "Give successes (a rate) or mean and variance"),
        ({"successes": "201"}, 400, "More successes than the sample size."),
        ({"period_end": "2026-11-30T00:00"}, 400, "The period ends before it starts."),
        ({"variant": "Not A Name"}, 400, "Enter a valid value."),
        ({"sample_size": "0"}, 400, "greater than or equal to 1"),
        ({"variance": "-1", "mean": "2", "successes": ""}, 400, "greater than or equal to 0"),
        ({"mean": "nan", "variance": "1", "successes": ""}, 400, "Enter a number."),
        ({"recipe": "00000000-0000-4000-8000-000000000000"}, 400, "Select a valid choice."),
        ({"period_start": "yesterday"}, 400, "Enter a valid date/time."),
    ],
)
def test_ab_record__bad_input__shown_on_the_form_nothing_recorded(
    staff: Client, extra: dict[str, str], status: int, message: str
) -> None:
    recipe = RecipeFactory.create()
    response = staff.post(RECORD, {**_record_body(recipe), **extra})
    assert response.status_code == status
    assert message in _text(response)
    with platform_bypass(reason="test", log=False):
        assert not AbTestResult.objects.exists()
    assert _audited("ab_result.recorded") == []


def test_ab_record__metric_of_the_other_kind__409_on_the_form(staff: Client) -> None:
    recipe = RecipeFactory.create()
    assert staff.post(RECORD, _record_body(recipe)).status_code == 302
    mixed = _record_body(recipe, variant="b", successes="", mean="2", variance="1")
    response = staff.post(RECORD, mixed)
    assert response.status_code == 409
    assert "is recorded as a rate" in _text(response)


# --- Links to the pages ---------------------------------------------------------------------------


def test_catalogue_and_recipe_pages__link_to_the_ab_pages(staff: Client) -> None:
    recipe = ab_demo_results()
    assert f'href="{ROOT}"' in _text(staff.get("/platform/catalogue/"))
    new_version = f"/platform/catalogue/cookbooks/{recipe.cookbook_id}/recipes/new/?from={recipe.pk}"
    assert f'href="{ROOT}{recipe.pk}/">A/B results' in _text(staff.get(new_version))
    untested = RecipeFactory.create(cookbook=recipe.cookbook, name="untested")
    untested_page = f"/platform/catalogue/cookbooks/{recipe.cookbook_id}/recipes/new/?from={untested.pk}"
    assert "A/B results" not in _text(staff.get(untested_page))
    cookbook = _text(staff.get(f"/platform/catalogue/cookbooks/{recipe.cookbook_id}/"))
    assert cookbook.count("A/B results") == 1
    assert f'href="{ROOT}{recipe.pk}/">A/B results' in cookbook
