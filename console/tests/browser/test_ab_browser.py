"""The A/B test pages in Chromium: platform staff open them from the catalogue, see a recipe's
comparison, change the metric (htmx swaps the panel, the URL follows), record a result and find
it compared; at 390 px nothing scrolls sideways. Screenshots: ab-*."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import TEST_PASSWORD, UserFactory
from agents.models import AbTestResult
from console.tests.browser.conftest import PHONE
from console.tests.data import ab_demo_results
from core.tenancy import platform_bypass

pytestmark = pytest.mark.django_db(transaction=True)

OVERFLOW_TOLERANCE = 2  # sub-pixel rounding, as test_demo_pages_browser.py


def _staff(people: Any, **kwargs: Any) -> Any:
    staff = UserFactory.create(platform_operator=True)
    browser = people(**kwargs)
    browser.sign_in(staff.email, TEST_PASSWORD)
    expect(browser.page.get_by_role("heading", level=1)).to_be_visible()
    return browser


def _width(person: Any) -> int:
    return int(person.page.evaluate("document.documentElement.scrollWidth"))


def test_ab_pages__staff_compare_change_metric_and_record(people: Any) -> None:
    recipe = ab_demo_results()
    ops = _staff(people)
    page = ops.page
    ops.open("/platform/catalogue/")
    page.get_by_test_id("ab-tests-link").click()
    expect(page.get_by_role("heading", level=1, name="A/B tests")).to_be_visible()
    ops.shot("ab-index")
    page.get_by_test_id("ab-recipes").get_by_role("link", name=f"weekly-status {recipe.version}").click()

    expect(page.get_by_role("heading", level=1, name=f"A/B: weekly-status {recipe.version}")).to_be_visible()
    comparison = page.get_by_test_id("ab-comparison")
    expect(page.get_by_label("Metric")).to_have_value("duration_ms")  # the first by name
    expect(comparison.get_by_test_id("ab-row-shorter-prompt")).to_contain_text("Significant, lower")
    ops.shot("ab-compare-duration")

    page.get_by_label("Metric").select_option("success_rate")
    page.get_by_role("button", name="Compare").click()
    variant = page.get_by_test_id("ab-comparison").get_by_test_id("ab-row-shorter-prompt")
    expect(variant).to_contain_text("91.9 %")
    expect(variant).to_contain_text("+6.2 pp")
    expect(variant).to_contain_text("Significant, higher")
    expect(page.get_by_test_id("ab-row-control")).to_contain_text("Baseline")
    expect(page.get_by_test_id("ab-chart")).to_be_visible()
    expect(page).to_have_url(re.compile(r"metric=success_rate"))
    ops.shot("ab-compare-success-rate")

    page.get_by_role("link", name=f"Record a result for weekly-status {recipe.version}").click()
    expect(page.get_by_role("heading", level=1, name="Record an A/B result")).to_be_visible()
    form = page.get_by_test_id("ab-record-form")
    expect(form.get_by_label("Metric")).to_have_value("success_rate")  # prefilled from the page
    form.get_by_label("Variant").fill("terse-summary")
    form.get_by_label("Sample size (runs)").fill("400")
    form.get_by_label("Successes").fill("300")
    form.get_by_label("Period start (UTC)").fill("2026-11-16T09:00")
    form.get_by_label("Period end (UTC)").fill("2026-11-23T09:00")
    ops.shot("ab-record-form")
    form.get_by_role("button", name="Record the result").click()

    expect(page.get_by_role("status")).to_contain_text("Recorded terse-summary's success_rate")
    row = page.get_by_test_id("ab-comparison").get_by_test_id("ab-row-terse-summary")
    expect(row).to_contain_text("75.0 %")
    expect(row).to_contain_text("Significant, lower")
    ops.shot("ab-compare-recorded")
    with platform_bypass(reason="test", log=False):
        assert AbTestResult.objects.filter(recipe=recipe, variant="terse-summary").count() == 1

    # The same period again: refused on the form, nothing added.
    ops.open(f"/platform/catalogue/ab-tests/record/?recipe={recipe.pk}&metric=success_rate")
    form.get_by_label("Variant").fill("terse-summary")
    form.get_by_label("Sample size (runs)").fill("400")
    form.get_by_label("Successes").fill("310")
    form.get_by_label("Period start (UTC)").fill("2026-11-16T09:00")
    form.get_by_label("Period end (UTC)").fill("2026-11-23T09:00")
    form.get_by_role("button", name="Record the result").click()
    expect(page.get_by_role("alert")).to_contain_text("already recorded")
    with platform_bypass(reason="test", log=False):
        assert AbTestResult.objects.filter(recipe=recipe, variant="terse-summary").count() == 1


def test_ab_pages__phone__nothing_scrolls_sideways(people: Any) -> None:
    recipe = ab_demo_results()
    ops = _staff(people, viewport=PHONE)
    too_wide = {}
    for name, path in (
        ("ab-index", "/platform/catalogue/ab-tests/"),
        ("ab-compare", f"/platform/catalogue/ab-tests/{recipe.pk}/?metric=success_rate"),
        ("ab-compare-means", f"/platform/catalogue/ab-tests/{recipe.pk}/?metric=duration_ms"),
        ("ab-record", f"/platform/catalogue/ab-tests/record/?recipe={recipe.pk}"),
    ):
        response = ops.open(path)
        assert response is not None
        assert response.status == 200, path
        ops.shot(f"{name}-390")
        if _width(ops) > PHONE["width"] + OVERFLOW_TOLERANCE:
            too_wide[name] = _width(ops)
    assert too_wide == {}, "pages that scroll sideways on a 390 px phone (their width)"
