"""Forms of the credits, audit and platform pages: they parse and check the shape of input (the
filters of the ledger and the audit log, a month for a statement, a reason), and the services
decide the rest (amounts, kinds and reasons of credit postings are checked by
`billing.services.credits_post`, whose errors are shown in place)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from django import forms

from accounts.models import PlatformRole
from billing.models import TransactionKind
from billing.services.postings import STAFF_KINDS
from tenants.models import TenantStatus

# Dates asked for lie in this range (as the API's statements): every bound computed from them
# (the day after, midnight in any time zone) is a valid date.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2999, 12, 31)
_RANGE = "Between 1 Jan 2000 and 31 Dec 2999."
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

KIND_LABELS = dict(TransactionKind.choices)


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class PeriodForm(forms.Form):
    """A date range, both ends included, in the tenant's time zone."""

    start = forms.DateField(label="From", required=False, widget=_date_input())
    end = forms.DateField(label="To (included)", required=False, widget=_date_input())

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("start", "end"):
            day = data.get(name)
            if day is not None and not FIRST_DAY <= day <= LAST_DAY:
                self.add_error(name, _RANGE)
        start, end = data.get("start"), data.get("end")
        if start and end and end < start and not self.errors:
            self.add_error("end", "The end comes on or after the start.")
        return data


class LedgerFilterForm(PeriodForm):
    """The ledger's filters (the API's: kind, model, created between)."""

    kind = forms.ChoiceField(
        label="Kind", required=False, choices=[("", "All kinds"), *TransactionKind.choices]
    )
    model = forms.CharField(label="Model", required=False, max_length=100)

    field_order = ["kind", "model", "start", "end"]


class StatementForm(forms.Form):
    month = forms.CharField(
        label="Month",
        max_length=7,
        help_text=(
            "The month's ledger as a CSV file: opening balance, every entry posted in the month "
            "(with when it happened and when it was posted), closing balance."
        ),
        widget=forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM", "pattern": r"\d{4}-\d{2}"}),
    )

    def clean_month(self) -> date:
        value = self.cleaned_data["month"].strip()
        if not _MONTH.match(value):
            raise forms.ValidationError("A month as YYYY-MM, e.g. 2025-03.")
        first = date.fromisoformat(f"{value}-01")
        if not FIRST_DAY <= first <= LAST_DAY:
            raise forms.ValidationError(_RANGE)
        return first


class AuditFilterForm(PeriodForm):
    """The audit log's filters: who (part of the actor's e-mail or key), what (an action, or a
    prefix ending in `.*`, as in the API), on what (a target type), when."""

    actor = forms.CharField(
        label="Who",
        required=False,
        max_length=254,
        widget=forms.TextInput(attrs={"placeholder": "part of an e-mail"}),
    )
    action = forms.CharField(
        label="Action",
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": "member.* or credits.grant"}),
    )
    target_type = forms.CharField(
        label="On",
        required=False,
        max_length=64,
        widget=forms.TextInput(attrs={"placeholder": "tenants.membership"}),
    )

    field_order = ["actor", "action", "target_type", "start", "end"]


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        max_length=1000,
        help_text="Required. Kept in the audit log.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class TenantStatusForm(ReasonForm):
    """Suspend or reactivate: the action the page was shown for, and why."""

    SUSPEND, REACTIVATE = "suspend", "reactivate"
    action = forms.ChoiceField(
        choices=[(SUSPEND, "Suspend"), (REACTIVATE, "Reactivate")], widget=forms.HiddenInput
    )


class TenantFilterForm(forms.Form):
    q = forms.CharField(label="Search", required=False, max_length=100)
    status = forms.ChoiceField(
        label="Status", required=False, choices=[("", "Any status"), *TenantStatus.choices]
    )


class UserFilterForm(forms.Form):
    q = forms.CharField(label="Search", required=False, max_length=254)
    role = forms.ChoiceField(
        label="Platform role", required=False, choices=[("", "Anyone"), *PlatformRole.choices]
    )
    locked = forms.BooleanField(label="Locked out only", required=False)


class CreditPostForm(forms.Form):
    """A staff posting; the amount is checked by the service (as the API's), shown in place."""

    kind = forms.ChoiceField(
        label="Kind",
        choices=[(kind, KIND_LABELS[kind]) for kind in STAFF_KINDS],
        help_text="Grants, top-ups and refunds add credits; an adjustment may be negative.",
    )
    amount = forms.CharField(
        label="Credits",
        max_length=40,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
        help_text="Up to 6 decimals, e.g. 250 or 12.5.",
    )
    reason = forms.CharField(
        label="Reason",
        max_length=1000,
        help_text="Required. Kept in the ledger and the audit log.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    refund_of = forms.UUIDField(
        label="Refund of entry (optional)", required=False, help_text="The id of the usage entry refunded."
    )
    # Posting twice (a double click, a reload) answers the first posting: billing's idempotency.
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=255, required=False)
