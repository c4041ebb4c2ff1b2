"""A/B test results: the statistics against hand-computed and published values, pooling periods,
recording (platform staff, audited, one per period) and the comparison endpoint."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agents.models import AbTestResult
from agents.services.ab import (
    Pool,
    compare,
    pool,
    t_quantile_975,
    t_two_sided_p,
)
from agents.tests.factories import AbResultFactory, RecipeFactory
from audit.models import AuditLogEntry
from core.tenancy import platform_bypass

pytestmark = pytest.mark.django_db

# Welch's t-test example of Wikipedia ("Welch's t-test", examples, sample 1 vs sample 2):
# t = -2.46, df = 25.0, two-sided p = 0.021.
A1 = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4]
A2 = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4]


def _means(name: str, values: list[float]) -> Pool:
    return Pool(name, "mean", len(values), mean=statistics.mean(values), variance=statistics.variance(values))


def test_student_t__matches_table_values():
    assert t_quantile_975(10) == pytest.approx(2.228, abs=5e-4)
    assert t_quantile_975(1) == pytest.approx(12.706, abs=5e-3)
    assert t_quantile_975(30) == pytest.approx(2.042, abs=5e-4)
    assert t_quantile_975(10**7) == pytest.approx(1.960, abs=5e-4)
    assert t_two_sided_p(2.228, 10) == pytest.approx(0.05, abs=2e-4)
    assert t_two_sided_p(1.0, 1) == pytest.approx(0.5, abs=1e-9)  # Cauchy: P(|T| > 1) = 1/2
    assert t_two_sided_p(0.0, 7) == pytest.approx(1.0)


def test_compare_means__welch__matches_the_published_example():
    baseline, variant = _means("b", A2), _means("v", A1)
    [base, result] = compare([baseline, variant], baseline="b")
    assert base.is_baseline
    assert base.p_value is None
    assert result.statistic == pytest.approx(-2.46, abs=0.005)
    assert result.df == pytest.approx(25.0, abs=0.05)
    assert result.p_value == pytest.approx(0.021, abs=0.0005)
    assert result.significant is True
    diff = statistics.mean(A1) - statistics.mean(A2)  # -1.54
    assert result.difference == pytest.approx(diff)
    assert result.lift == pytest.approx(diff / statistics.mean(A2))
    # The interval: diff ± t*(0.975, 24.98) · se, with t* ≈ 2.060 (table, df 25).
    assert result.statistic is not None
    assert result.ci_high is not None
    se = diff / result.statistic
    assert result.ci_low == pytest.approx(diff - 2.060 * se, abs=0.005)
    assert result.ci_high == pytest.approx(diff + 2.060 * se, abs=0.005)
    assert result.ci_high < 0  # significant: the interval excludes 0


def test_compare_rates__two_proportion_z__hand_computed():
    # Baseline 100/1000 = 0.10, variant 130/1000 = 0.13:
    #   diff 0.03, lift 0.3;
    #   se (unpooled) = √(0.1·0.9/1000 + 0.13·0.87/1000) = √0.0002031 = 0.0142513
    #   CI = 0.03 ± 1.959964 · 0.0142513 = [0.0020680, 0.0579320]
    #   pooled p̂ = 230/2000 = 0.115; se0 = √(0.115·0.885·0.002) = √0.00020355 = 0.0142671
    #   z = 0.03 / 0.0142671 = 2.10274; p = erfc(2.10274/√2) = 0.035484
    rows = [Pool("control", "rate", 1000, successes=100), Pool("new", "rate", 1000, successes=130)]
    [base, new] = compare(rows, baseline="control")
    assert base.value == pytest.approx(0.10)
    assert new.value == pytest.approx(0.13)
    assert new.difference == pytest.approx(0.03)
    assert new.lift == pytest.approx(0.3)
    assert new.ci_low == pytest.approx(0.0020680, abs=1e-6)
    assert new.ci_high == pytest.approx(0.0579320, abs=1e-6)
    assert new.statistic == pytest.approx(2.10274, abs=1e-4)
    assert new.p_value == pytest.approx(0.035484, abs=1e-5)
    assert new.significant is True


def test_compare_rates__no_difference__not_significant_and_zero_baseline_has_no_lift():
    [_, same] = compare(
        [Pool("a", "rate", 50, successes=5), Pool("b", "rate", 50, successes=5)], baseline="a"
    )
    assert same.statistic == pytest.approx(0.0)
    assert same.p_value == pytest.approx(1.0)
    assert same.significant is False
    [_, from_zero] = compare(
        [Pool("a", "rate", 10, successes=0), Pool("b", "rate", 10, successes=0)], baseline="a"
    )
    assert from_zero.lift is None
    assert from_zero.p_value is None  # no variance at all: no test
    assert from_zero.significant is False


def test_pool__periods_of_means__equal_the_concatenated_sample():
    recipe = RecipeFactory.create()
    first, second = A1[:6], A1[6:]
    rows = [
        AbResultFactory.build(
            recipe=recipe,
            successes=None,
            sample_size=len(part),
            mean=statistics.mean(part),
            variance=statistics.variance(part),
        )
        for part in (first, second)
    ]
    pooled = pool("v", rows)
    assert pooled.sample_size == len(A1)
    assert pooled.mean == pytest.approx(statistics.mean(A1))
    assert pooled.variance == pytest.approx(statistics.variance(A1))
    rates = pool(
        "r",
        [
            AbResultFactory.build(successes=3, sample_size=10),
            AbResultFactory.build(successes=7, sample_size=30),
        ],
    )
    assert (rates.successes, rates.sample_size, rates.periods) == (10, 40, 2)


# --- Over HTTP ---------------------------------------------------------------------------------

RECORD = "/api/v1/platform/ab-tests/"
START = datetime(2026, 11, 1, tzinfo=UTC)


def _body(recipe: Any, variant: str, **values: Any) -> dict[str, Any]:
    return {
        "recipe_id": str(recipe.pk),
        "variant": variant,
        "metric": values.pop("metric", "success_rate"),
        "period_start": START.isoformat(),
        "period_end": (START + timedelta(days=7)).isoformat(),
        **values,
    }


def test_ab_api__staff_record_and_compare(as_user, platform_operator):
    recipe = RecipeFactory.create()
    client = as_user(platform_operator)
    for variant, successes in (("control", 100), ("new", 130)):
        response = client.post(
            RECORD, _body(recipe, variant, sample_size=1000, successes=successes), format="json"
        )
        assert response.status_code == 201, response.content
        assert response.json()["kind"] == "rate"
    with platform_bypass(reason="test", log=False):
        assert AuditLogEntry.objects.filter(action="ab_result.recorded").count() == 2
    listed = client.get(RECORD, {"recipe": str(recipe.pk)}).json()
    assert len(listed["results"]) == 2
    response = client.get(
        f"/api/v1/ab-tests/{recipe.pk}/compare", {"metric": "success_rate", "baseline": "control"}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["kind"], body["baseline"], body["confidence"]) == ("rate", "control", 0.95)
    [base, new] = body["variants"]
    assert base["is_baseline"]
    assert base["lift"] is None
    assert new["variant"] == "new"
    assert new["lift"] == pytest.approx(0.3)
    assert new["p_value"] == pytest.approx(0.035484, abs=1e-5)
    assert new["significant"] is True


def test_ab_api__refusals(as_user, platform_operator, tenant, owner):
    recipe = RecipeFactory.create()
    client = as_user(platform_operator)
    ok = _body(recipe, "a", sample_size=10, successes=4)
    assert client.post(RECORD, ok, format="json").status_code == 201
    again = client.post(RECORD, ok, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "ab_result_exists"
    mixed = client.post(RECORD, _body(recipe, "b", sample_size=10, mean=1.0, variance=0.5), format="json")
    assert mixed.status_code == 409
    assert mixed.json()["code"] == "ab_metric_kind_mismatch"
    both = client.post(
        RECORD, _body(recipe, "c", sample_size=10, successes=1, mean=1.0, variance=1.0), format="json"
    )
    assert both.status_code == 400
    assert both.json()["code"] == "ab_result_kind"
    too_many = client.post(RECORD, _body(recipe, "d", sample_size=10, successes=11), format="json")
    assert too_many.status_code == 400
    backwards = _body(
        recipe, "e", sample_size=10, successes=1, period_end=(START - timedelta(days=1)).isoformat()
    )
    assert client.post(RECORD, backwards, format="json").status_code == 400
    compare_url = f"/api/v1/ab-tests/{recipe.pk}/compare"
    assert client.get(compare_url, {"metric": "success_rate", "baseline": "nope"}).status_code == 400
    assert client.get(compare_url, {"metric": "other", "baseline": "a"}).status_code == 400
    # One metric, one variant: both default (the only metric; "control", else the first variant).
    defaulted = client.get(compare_url)
    assert defaulted.status_code == 200
    assert (defaulted.json()["metric"], defaulted.json()["baseline"]) == ("success_rate", "a")
    AbResultFactory.create(recipe=recipe, metric="duration_ms", successes=None, mean=3.0, variance=1.0)
    assert client.get(compare_url).json()["errors"]["metric"]  # two metrics now: name one
    missing = "/api/v1/ab-tests/00000000-0000-4000-8000-000000000000/compare"
    assert client.get(missing, {"metric": "m", "baseline": "a"}).status_code == 404
    # A tenant's owner is not platform staff: neither records nor compares.
    member_client = as_user(owner)
    assert (
        member_client.post(RECORD, _body(recipe, "z", sample_size=5, successes=1), format="json").status_code
        == 403
    )
    assert member_client.get(compare_url, {"metric": "success_rate", "baseline": "a"}).status_code == 403
    with platform_bypass(reason="test", log=False):
        assert AbTestResult.objects.count() == 2  # the one recorded, the one made above
