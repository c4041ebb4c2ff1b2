"""Forms of the console's insights pages (analytics, segments, recommendations, interventions):
they check the shape of input; insights.services decides the rest (who may run what, whether a
target changed since) and its refusals are shown in place."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from django import forms

from insights.services.interventions import MAX_REASON_CHARS, MAX_TARGETS

MAX_DAYS = 366
PERIODS = (7, 30, 90)
DEFAULT_DAYS = 30


class AnalyticsPeriodForm(forms.Form):
    """The days to show, UTC days both included (the roll-up's days); the last 30 by default."""

    start = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, today: date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        end = cleaned.get("end") or self.today
        start = cleaned.get("start") or end - timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            self.add_error("end", "The period ends before it starts.")
        elif (end - start).days + 1 > MAX_DAYS:
            self.add_error("start", f"At most {MAX_DAYS} days at a time.")
        cleaned["start"], cleaned["end"] = start, end
        return cleaned

    def period(self) -> tuple[date, date]:
        """The chosen [start, end] (the default on invalid input: the page shows the errors)."""
        if self.is_bound and self.is_valid():
            return self.cleaned_data["start"], self.cleaned_data["end"]
        return self.today - timedelta(days=DEFAULT_DAYS - 1), self.today


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        max_length=MAX_REASON_CHARS,
        help_text="Recorded with the decision in the audit log.",
        widget=forms.TextInput(attrs={"size": 40}),
    )


class AcceptForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        max_length=MAX_REASON_CHARS,
        required=False,
        help_text="Optional: the recommendation's own reason is recorded when left empty.",
        widget=forms.TextInput(attrs={"size": 40}),
    )


_IDS = re.compile(r"[\s,;]+")


class InterventionForm(forms.Form):
    """Run an intervention: its type (those the caller may run), the targets (one id a line;
    several make a bulk intervention, all or nothing), the reason, and the amount for a grant."""

    type = forms.ChoiceField(label="Intervention")
    target_ids = forms.CharField(
        label="Targets",
        required=False,
        max_length=MAX_TARGETS * 40,
        help_text=(
            "The ids of what it acts on, one a line (several: one bulk intervention, all or none). "
            "Leave empty for the tenant-wide ones (suspend, reactivate, grant credits)."
        ),
        widget=forms.Textarea(attrs={"rows": 3, "cols": 40, "spellcheck": "false"}),
    )
    amount = forms.DecimalField(
        label="Credits to grant",
        required=False,
        min_value=0,
        max_digits=20,
        decimal_places=6,
        help_text="For a grant only.",
        widget=forms.NumberInput(attrs={"step": "any", "min": "0", "inputmode": "decimal"}),
    )
    reason = forms.CharField(
        label="Reason",
        max_length=MAX_REASON_CHARS,
        help_text="Required; recorded with the intervention and in the audit log.",
        widget=forms.Textarea(attrs={"rows": 2, "cols": 40}),
    )

    def __init__(self, *args: Any, types: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        type_field: Any = self.fields["type"]
        type_field.choices = types

    def clean_target_ids(self) -> list[str]:
        raw = self.cleaned_data.get("target_ids") or ""
        ids = [part for part in _IDS.split(raw.strip()) if part]
        if len(ids) > MAX_TARGETS:
            raise forms.ValidationError(f"At most {MAX_TARGETS} targets at a time.")
        return ids

    def params(self) -> dict[str, Any]:
        amount = self.cleaned_data.get("amount")
        return {"amount": str(amount)} if amount is not None else {}
