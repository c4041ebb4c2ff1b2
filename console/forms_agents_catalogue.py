"""Forms of the console's skills marketplace and template catalogue: they check the shape of
input; agents.services decides the rest (published, compatible role, pinned version) and its
refusals are shown in place."""

from __future__ import annotations

from typing import Any

from django import forms

from agents.models import SkillCategory

ANY = ""


class SkillFilterForm(forms.Form):
    category = forms.ChoiceField(
        label="Category", required=False, choices=[(ANY, "Every category"), *SkillCategory.choices]
    )
    q = forms.CharField(label="Search", required=False, max_length=100)


class InstallForm(forms.Form):
    agent = forms.ChoiceField(label="Agent")
    version = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args: Any, agents: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        agent_field: Any = self.fields["agent"]
        agent_field.choices = [(str(agent.pk), agent.name) for agent in agents]
        self.agents = {str(agent.pk): agent for agent in agents}

    def chosen_agent(self) -> Any:
        return self.agents[self.cleaned_data["agent"]]


class RateForm(forms.Form):
    stars = forms.TypedChoiceField(
        label="Your rating",
        coerce=int,
        choices=[(n, f"{n} star{'s' if n > 1 else ''}") for n in range(5, 0, -1)],
    )
