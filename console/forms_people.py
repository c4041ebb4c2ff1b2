"""Forms of the people pages (members, invites, roles, teams, API keys, sessions). They check
the shape of input; the services decide the rest (rank rules, permissions held, limits) and
their refusals are shown in place (`console.forms.show_domain_error`).

Choices of roles and teams are the tenant's own, passed in by the view from the lists it has
already read: an id of another tenant's role or team is not a choice, so it is a field error.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from django import forms

from accounts import permissions as registry
from accounts.services.api_keys import MAX_ALLOWED_IPS, MAX_RATE_LIMIT_PER_MINUTE, NAME_MAX_LENGTH

NO_TEAM = ""
MAX_RANK = 40


def _choices(rows: Iterable[Any]) -> list[tuple[str, str]]:
    return [(str(row.pk), row.name) for row in rows]


class MemberForm(forms.Form):
    """A member's role and team (one row of the members list)."""

    role = forms.ChoiceField(label="Role")
    team = forms.ChoiceField(label="Team", required=False)

    def __init__(self, *args: Any, roles: Iterable[Any], teams: Iterable[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["role"]).choices = _choices(roles)
        cast(forms.ChoiceField, self.fields["team"]).choices = [(NO_TEAM, "No team"), *_choices(teams)]


class InviteForm(forms.Form):
    email = forms.EmailField(
        label="E-mail", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "off"})
    )
    role = forms.ChoiceField(label="Role", help_text="Only roles you may hand out are listed.")
    team = forms.ChoiceField(label="Team", required=False)

    def __init__(self, *args: Any, roles: Iterable[Any], teams: Iterable[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["role"]).choices = _choices(roles)
        cast(forms.ChoiceField, self.fields["team"]).choices = [(NO_TEAM, "No team"), *_choices(teams)]


class RoleForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100)
    slug = forms.SlugField(
        label="Slug",
        max_length=50,
        required=False,
        help_text="Letters, digits, hyphens. Left empty: made from the name.",
    )
    description = forms.CharField(
        label="Description", max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    rank = forms.IntegerField(
        label="Rank",
        min_value=1,
        max_value=MAX_RANK,
        help_text="1 to 40 (viewer 10, member 20, admin 30, owner 40). No higher than your own.",
    )
    permissions = forms.MultipleChoiceField(
        label="Permissions",
        required=False,
        choices=[(p.key, p.key) for p in registry.REGISTRY],
        widget=forms.CheckboxSelectMultiple,
    )


def permission_groups(
    *, selected: Iterable[str] = (), held: frozenset[str] | None = None
) -> list[dict[str, Any]]:
    """The registry grouped by resource for checkboxes: each permission with its description,
    whether it is selected, and whether the actor holds it (one cannot hand out the others)."""
    chosen = set(selected)
    groups: dict[str, list[dict[str, Any]]] = {}
    for permission in registry.REGISTRY:
        groups.setdefault(permission.resource, []).append(
            {
                "key": permission.key,
                "action": permission.action,
                "description": permission.description,
                "checked": permission.key in chosen,
                "held": held is None or permission.key in held,
            }
        )
    return [{"resource": resource, "permissions": rows} for resource, rows in groups.items()]


class TeamForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200)
    description = forms.CharField(label="Description", max_length=2000, required=False)


class TeamMemberForm(forms.Form):
    """Add one of the tenant's members to a team."""

    membership = forms.ChoiceField(label="Member")

    def __init__(self, *args: Any, memberships: Iterable[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["membership"]).choices = [
            (
                str(row.pk),
                f"{row.user.full_name} ({row.user.email})" if row.user.full_name else row.user.email,
            )
            for row in memberships
        ]


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=NAME_MAX_LENGTH,
        help_text="What uses it, e.g. “Production runtime”.",
    )
    scopes = forms.MultipleChoiceField(
        label="Scopes",
        choices=[(p.key, p.key) for p in registry.REGISTRY],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one scope."},
    )
    expires_at = forms.DateTimeField(
        label="Expires",
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        help_text="In the tenant's time zone. Empty: never.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    allowed_ips = forms.CharField(
        label="IP allow-list",
        required=False,
        max_length=MAX_ALLOWED_IPS * 64,
        help_text="Addresses or CIDR ranges, one a line (or comma-separated). Empty: any address.",
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "autocapitalize": "off"}),
    )
    rate_limit_per_minute = forms.IntegerField(
        label="Requests a minute",
        min_value=1,
        max_value=MAX_RATE_LIMIT_PER_MINUTE,
        initial=600,
    )

    def __init__(self, *args: Any, held: frozenset[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.held = held

    def clean_allowed_ips(self) -> list[str]:
        text = self.cleaned_data.get("allowed_ips") or ""
        entries = [part.strip() for line in text.splitlines() for part in line.split(",")]
        return [entry for entry in entries if entry]
