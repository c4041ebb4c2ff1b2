"""Forms of the A/B test pages (console/views/ab_tests.py): which metric and baseline to compare
(a GET form), and one variant's result to record. They check the shape of input;
agents.services.ab decides the rest (a rate or a mean and variance, successes within the sample,
the period's order, a period recorded twice, an unknown baseline) and its refusals are shown
in place."""

from __future__ import annotations

from typing import Any

from django import forms

from agents.models import Recipe
from agents.services.ab import DEFAULT_BASELINE, METRIC_NAME

NAME_HELP = "Lower-case letters, digits, _ . - (at most 64)."
MAX_COUNT = 10**15  # the API's bound on sample sizes and successes
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"]


def _moment_input() -> forms.DateTimeInput:
    return forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class CompareForm(forms.Form):
    """The metric (one the recipe has results for) and the baseline variant (checked by the
    compare service: a variant with results on that metric). Always bound, both optional."""

    metric = forms.ChoiceField(label="Metric", required=False)
    baseline = forms.CharField(
        label="Baseline",
        required=False,
        max_length=64,
        widget=forms.Select,
    )

    def __init__(self, data: Any, *, metrics: list[str]) -> None:
        super().__init__(data)
        names = ", ".join(metrics)
        self.fields["metric"].choices = [(name, name) for name in metrics]  # type: ignore[attr-defined]
        self.fields["metric"].error_messages["invalid_choice"] = (
            f"No results for that metric: pick one of {names}." if names else "No results recorded yet."
        )

    def offer_baselines(self, variants: list[str]) -> None:
        """The baseline's choices: the variants recorded on the chosen metric."""
        choices = [
            ("", f"Default ({DEFAULT_BASELINE}, else the first)"),
            *((name, name) for name in variants),
        ]
        self.fields["baseline"].widget.choices = choices


class RecordForm(forms.Form):
    """One variant's result on a metric over a period, as `POST /api/v1/platform/ab-tests/`
    takes it: successes of the sample (a rate), or mean and variance (a duration, a cost)."""

    recipe = forms.ChoiceField(label="Recipe")
    variant = forms.RegexField(
        METRIC_NAME, label="Variant", max_length=64, help_text=f"E.g. “{DEFAULT_BASELINE}”. {NAME_HELP}"
    )
    metric = forms.RegexField(
        METRIC_NAME, label="Metric", max_length=64, help_text=f"E.g. “success_rate”. {NAME_HELP}"
    )
    sample_size = forms.IntegerField(label="Sample size (runs)", min_value=1, max_value=MAX_COUNT)
    successes = forms.IntegerField(
        label="Successes",
        required=False,
        min_value=0,
        max_value=MAX_COUNT,
        help_text="A rate: how many of the runs succeeded. Leave empty for a mean.",
    )
    mean = forms.FloatField(
        label="Mean", required=False, help_text="A continuous metric (a duration, a cost): the runs' mean."
    )
    variance = forms.FloatField(
        label="Variance", required=False, min_value=0, help_text="With the mean: the runs' sample variance."
    )
    period_start = forms.DateTimeField(
        label="Period start (UTC)", input_formats=DATETIME_FORMATS, widget=_moment_input()
    )
    period_end = forms.DateTimeField(
        label="Period end (UTC)", input_formats=DATETIME_FORMATS, widget=_moment_input()
    )

    def __init__(
        self, data: Any = None, *, recipes: list[Recipe], initial: dict[str, Any] | None = None
    ) -> None:
        super().__init__(data, initial=initial)
        self.recipes = {str(recipe.pk): recipe for recipe in recipes}
        self.fields["recipe"].choices = [  # type: ignore[attr-defined]
            ("", "Choose a recipe"),
            *((key, f"{r.name} {r.version} ({r.cookbook.name})") for key, r in self.recipes.items()),
        ]

    def values(self) -> dict[str, Any]:
        """The service's arguments: the recipe itself, the rest as cleaned."""
        data = dict(self.cleaned_data)
        data["recipe"] = self.recipes[data["recipe"]]
        return data
