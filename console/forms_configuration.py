"""Forms of the configuration pages: settings (a form typed by the setting's definition), feature
flags and the secret locker. They parse and check the shape of input; the services decide the
rest (ranges, formats, who may), and their refusals are shown in place
(`console.forms.show_domain_error`)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django import forms

from tenants.models import FLAG_KEY_VALIDATOR, PROVIDER_VALIDATOR, Environment
from tenants.services import SECRET_MAX_LENGTH
from tenants.settings_registry import Kind, SettingDefinition

REASON_MAX_LENGTH = 2000
# Longer than any value a setting accepts (the service says so in its own words), short enough
# that nobody posts a novel.
TEXT_MAX_LENGTH = 10_000
INT_LIMIT = 2**63 - 1


def _reason_field(
    *,
    required: bool = False,
    label: str = "Reason",
    help_text: str = "Kept with the change in the history and the audit log.",
) -> forms.CharField:
    return forms.CharField(label=label, required=required, max_length=REASON_MAX_LENGTH, help_text=help_text)


def _value_field(definition: SettingDefinition) -> forms.Field:
    """The input for one kind of setting; the range and format are the service's to check."""
    if definition.kind == Kind.BOOL:
        return forms.TypedChoiceField(
            label="Value",
            choices=[("true", "On"), ("false", "Off")],
            coerce=lambda value: value == "true",
        )
    if definition.kind == Kind.INT:
        attrs: dict[str, Any] = {"inputmode": "numeric"}
        if definition.min_value is not None:
            attrs["min"] = str(definition.min_value)
        if definition.max_value is not None:
            attrs["max"] = str(definition.max_value)
        return forms.IntegerField(
            label="Value",
            min_value=-INT_LIMIT,
            max_value=INT_LIMIT,
            widget=forms.NumberInput(attrs=attrs),
            help_text=_range_help(definition, "A whole number"),
        )
    if definition.kind == Kind.DECIMAL:
        return forms.CharField(
            label="Value",
            max_length=64,
            widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
            help_text=_range_help(definition, "A decimal number, e.g. 5.0"),
        )
    if definition.kind == Kind.DECIMAL_LIST:
        return forms.CharField(
            label="Values",
            max_length=TEXT_MAX_LENGTH,
            widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
            help_text=(
                f"Decimal numbers separated by commas, e.g. 100, 50, 10 (at most {definition.max_items})."
            ),
        )
    if definition.is_secret:
        return forms.CharField(
            label="New value",
            max_length=TEXT_MAX_LENGTH,
            strip=False,  # the service refuses whitespace where it matters, in its own words
            widget=forms.PasswordInput(attrs={"autocomplete": "new-password", "spellcheck": "false"}),
            help_text="Stored encrypted; shown masked from then on.",
        )
    return forms.CharField(
        label="Value", max_length=TEXT_MAX_LENGTH, help_text=f"At most {definition.max_length} characters."
    )


def _range_help(definition: SettingDefinition, what: str) -> str:
    low, high = definition.min_value, definition.max_value
    if low is not None and high is not None:
        return f"{what} from {low} to {high}."
    if low is not None:
        return f"{what}, at least {low}."
    if high is not None:
        return f"{what}, at most {high}."
    return f"{what}."


class SettingForm(forms.Form):
    """Set one setting: `value` typed by its definition, and why."""

    def __init__(self, *args: Any, definition: SettingDefinition, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.definition = definition
        self.fields["value"] = _value_field(definition)
        self.fields["reason"] = _reason_field()

    def json_value(self) -> Any:
        """The cleaned value in the JSON form the service takes (decimals as strings)."""
        value = self.cleaned_data["value"]
        if self.definition.kind == Kind.DECIMAL_LIST:
            return [item for item in re.split(r"[,\s]+", value) if item]
        return value


def setting_initial(definition: SettingDefinition, value: Any) -> dict[str, Any]:
    """The edit form's starting value: what is in force (never a secret's)."""
    if definition.is_secret or value is None:
        return {}
    if definition.kind == Kind.BOOL:
        return {"value": "true" if value else "false"}
    if definition.kind == Kind.DECIMAL_LIST:
        return {"value": ", ".join(str(item) for item in value)}
    return {"value": value}


class ReasonForm(forms.Form):
    """A reset of a setting: only why."""

    reason = _reason_field(label="Reason for the reset")


class RevealForm(forms.Form):
    """A reveal of a secret value (a secret setting's, or the locker's): why, always."""

    reason = _reason_field(
        required=True, label="Why do you need to see it?", help_text="Kept in the audit log with the reveal."
    )


class RollbackForm(forms.Form):
    version = forms.IntegerField(min_value=1, max_value=INT_LIMIT, widget=forms.HiddenInput)
    reason = _reason_field()


class EnvironmentForm(forms.Form):
    """Which environment a page shows (GET)."""

    environment = forms.ChoiceField(label="Environment", choices=Environment.choices)


class FlagEnvironmentFilterForm(forms.Form):
    environment = forms.ChoiceField(
        label="Environment", choices=[("", "Every environment"), *Environment.choices], required=False
    )


def _rollout_field(**kwargs: Any) -> forms.DecimalField:
    return forms.DecimalField(
        label=kwargs.pop("label", "Rollout %"),
        min_value=0,
        max_value=100,
        max_digits=5,
        decimal_places=2,
        help_text=kwargs.pop(
            "help_text", "Share of subjects the flag is on for, 0 to 100 (raising it only ever adds some)."
        ),
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0", "max": "100", "inputmode": "decimal"}),
        **kwargs,
    )


class FlagCreateForm(forms.Form):
    key = forms.CharField(
        label="Key",
        max_length=100,
        validators=[FLAG_KEY_VALIDATOR],
        help_text="Lower-case letters, digits, '_', '.' and '-', e.g. agents.new-planner.",
        widget=forms.TextInput(attrs={"autocapitalize": "off", "spellcheck": "false", "autocomplete": "off"}),
    )
    environment = forms.ChoiceField(label="Environment", choices=Environment.choices)
    description = forms.CharField(label="Description", required=False, max_length=REASON_MAX_LENGTH)
    rollout_percentage = _rollout_field(initial=0)
    enabled = forms.BooleanField(
        label="Enabled", required=False, initial=True, help_text="Off: the flag is off for everyone."
    )


class FlagToggleForm(forms.Form):
    enabled = forms.TypedChoiceField(choices=[("true", "On"), ("false", "Off")], coerce=lambda v: v == "true")


class FlagRolloutForm(forms.Form):
    rollout_percentage = _rollout_field(help_text="")


class FlagEditForm(forms.Form):
    """A flag's description, switch, rollout and targeting (the key and environment stay)."""

    description = forms.CharField(label="Description", required=False, max_length=REASON_MAX_LENGTH)
    enabled = forms.BooleanField(
        label="Enabled", required=False, help_text="Off: the flag is off for everyone."
    )
    rollout_percentage = _rollout_field()
    target_roles = forms.MultipleChoiceField(
        label="Roles it is always on for", required=False, widget=forms.CheckboxSelectMultiple
    )
    target_users = forms.MultipleChoiceField(
        label="Members it is always on for",
        required=False,
        help_text="Hold Ctrl (or ⌘) to choose several.",
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )

    def __init__(
        self,
        *args: Any,
        roles: Iterable[tuple[str, str]] = (),
        members: Iterable[tuple[str, str]] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["target_roles"].choices = list(roles)  # type: ignore[attr-defined]  # a ChoiceField
        self.fields["target_users"].choices = list(members)  # type: ignore[attr-defined]  # a ChoiceField


class EvaluateForm(forms.Form):
    """Evaluate every flag for one subject (GET)."""

    subject = forms.CharField(
        label="Subject",
        max_length=200,
        help_text="A member's user id, or any stable id (an agent, an external account).",
        widget=forms.TextInput(attrs={"autocapitalize": "off", "spellcheck": "false", "autocomplete": "off"}),
    )
    role = forms.ChoiceField(
        label="Role",
        required=False,
        help_text="Evaluate as if the subject held this role (empty: a member's own role).",
    )
    environment = forms.ChoiceField(label="Environment", choices=Environment.choices)

    def __init__(self, *args: Any, roles: Iterable[tuple[str, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [("", "Their own role, if a member"), *roles]  # type: ignore[attr-defined]


def _secret_value_field(label: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=SECRET_MAX_LENGTH,
        strip=False,  # a secret is what the provider issued, spaces included
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password", "spellcheck": "false"}),
        help_text="Stored encrypted. Only its last four characters stay readable (if it has 12 or more).",
    )


class SecretCreateForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200)
    provider = forms.CharField(
        label="Provider",
        max_length=50,
        validators=[PROVIDER_VALIDATOR],
        help_text="e.g. openai, anthropic, slack.",
        widget=forms.TextInput(attrs={"autocapitalize": "off", "spellcheck": "false"}),
    )
    value = _secret_value_field("Value")
    description = forms.CharField(label="Description", required=False, max_length=REASON_MAX_LENGTH)
    team = forms.ChoiceField(label="Who sees it", required=False)

    def __init__(self, *args: Any, teams: Iterable[tuple[str, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].choices = [("", "The whole tenant"), *teams]  # type: ignore[attr-defined]


class SecretRotateForm(forms.Form):
    value = _secret_value_field("New value")
