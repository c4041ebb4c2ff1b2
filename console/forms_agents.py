"""Forms of the console's agents pages: they check the shape of input; agents.services decides
the rest (limits, slots, the status machine) and its refusals are shown in place."""

from __future__ import annotations

from typing import Any

from django import forms

from agents.models import AgentStatus
from billing.models import ModelTier

SCRATCH = ""  # the template choice meaning "from scratch"
NO_TEAM = ""


class AgentFilterForm(forms.Form):
    status = forms.ChoiceField(
        label="Status", required=False, choices=[("", "Any status"), *AgentStatus.choices]
    )


class AgentCreateForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200)
    template = forms.ChoiceField(
        label="Start from",
        required=False,
        help_text=(
            "A template gives the role, model and tool policy; "
            "from scratch takes the tenant's model defaults."
        ),
    )
    team = forms.ChoiceField(label="Team", required=False)
    model_tier = forms.ChoiceField(
        label="Model tier",
        required=False,
        choices=[("", "The template's or the tenant's default"), *ModelTier.choices],
    )

    def __init__(self, *args: Any, templates: list[Any], teams: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        template_field: Any = self.fields["template"]
        template_field.choices = [(SCRATCH, "From scratch")] + [(str(t.pk), t.name) for t in templates]
        team_field: Any = self.fields["team"]
        team_field.choices = [(NO_TEAM, "No team")] + [(str(t.pk), t.name) for t in teams]
        self.templates = {str(t.pk): t for t in templates}
        self.teams = {str(t.pk): t for t in teams}

    def values(self) -> dict[str, Any]:
        """The service's `data` (template apart): name, team_id, model_tier when chosen."""
        data: dict[str, Any] = {"name": self.cleaned_data["name"]}
        team = self.teams.get(self.cleaned_data.get("team") or NO_TEAM)
        data["team_id"] = team.pk if team is not None else None
        if self.cleaned_data.get("model_tier"):
            data["model_tier"] = self.cleaned_data["model_tier"]
        return data

    def chosen_template(self) -> Any:
        return self.templates.get(self.cleaned_data.get("template") or SCRATCH)


class PauseForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        max_length=500,
        help_text="Recorded in the audit log and shown on the agent.",
    )


class ResumeForm(forms.Form):
    reason = forms.CharField(label="Reason", max_length=500, required=False)
