"""The form of an agent's channels on its console page: one form for the three types, each
type's own field turned into the channel's config; agents.services.channels checks the config
for its type (and refuses credentials typed inline) and its refusals are shown in place."""

from __future__ import annotations

from typing import Any

from django import forms

from agents.models import ChannelType
from console.forms_catalogue import words

NO_SECRET = ""


class ChannelForm(forms.Form):
    type = forms.ChoiceField(label="Type", choices=ChannelType.choices)
    channel = forms.CharField(
        label="Slack channel", required=False, max_length=100, help_text="Slack: #name or a channel id."
    )
    address = forms.CharField(label="E-mail address", required=False, max_length=254)
    allowed_origins = forms.CharField(
        label="Allowed origins",
        required=False,
        max_length=6000,
        help_text="Web: https://app.example.com, one per line or separated by commas.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    secret = forms.ChoiceField(
        label="Secret",
        required=False,
        help_text="From the tenant's secret locker: bot token, mailbox password; never typed here.",
    )

    def __init__(self, *args: Any, secrets: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        secret_field: Any = self.fields["secret"]
        secret_field.choices = [(NO_SECRET, "No secret")] + [
            (str(s.pk), f"{s.name} ({s.provider})") for s in secrets
        ]
        self.secrets = {str(s.pk): s for s in secrets}

    def config(self) -> dict[str, Any]:
        """The config of the chosen type, from that type's field only."""
        kind = self.cleaned_data["type"]
        if kind == ChannelType.SLACK:
            return {"channel": self.cleaned_data["channel"].strip()}
        if kind == ChannelType.EMAIL:
            return {"address": self.cleaned_data["address"].strip()}
        return {"allowed_origins": words(self.cleaned_data["allowed_origins"])}

    def chosen_secret(self) -> Any:
        return self.secrets.get(self.cleaned_data.get("secret") or NO_SECRET)
