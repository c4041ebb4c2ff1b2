"""Forms of the console's sessions and tasks pages: they check the shape of input (filters, a
reason); agents.services decides the rest and its refusals are shown in place."""

from __future__ import annotations

from typing import Any

from django import forms

from agents.models import SessionStatus

ANY = ""


def _agent_choices(agents: list[Any]) -> list[tuple[str, str]]:
    return [(ANY, "Any agent")] + [(str(agent.pk), agent.name) for agent in agents]


class SessionFilterForm(forms.Form):
    agent = forms.ChoiceField(label="Agent", required=False)
    status = forms.ChoiceField(
        label="Status", required=False, choices=[(ANY, "Any status"), *SessionStatus.choices]
    )
    roots_only = forms.BooleanField(label="Root sessions only", required=False)

    def __init__(self, *args: Any, agents: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        agent_field: Any = self.fields["agent"]
        agent_field.choices = _agent_choices(agents)

    def filters(self) -> dict[str, Any]:
        """The selector's filters (agents.selectors.session_list); none for an unbound or bad form."""
        if not self.is_bound or not self.is_valid():
            return {}
        data = self.cleaned_data
        return {"agent": data["agent"], "status": data["status"], "roots_only": data["roots_only"]}


class TaskFilterForm(forms.Form):
    agent = forms.ChoiceField(label="Agent", required=False)

    def __init__(self, *args: Any, agents: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        agent_field: Any = self.fields["agent"]
        agent_field.choices = _agent_choices(agents)


class CancelForm(forms.Form):
    reason = forms.CharField(
        label="Reason", max_length=500, required=False, help_text="Kept in the audit log."
    )
