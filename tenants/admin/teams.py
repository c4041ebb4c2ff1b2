"""The back office for teams: create, edit, delete (members stay in the tenant, without a team)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from unfold.contrib.filters.admin import AutocompleteSelectFilter
from unfold.decorators import display

from tenants import services
from tenants.admin.common import ServiceAdmin, actor_of, changed_fields
from tenants.models import Team
from tenants.services import TEAM_FIELDS


class TeamAddForm(forms.ModelForm):
    slug = forms.SlugField(max_length=50, required=False, help_text="Leave blank to derive it from the name.")

    class Meta:
        model = Team
        fields = ["tenant", *TEAM_FIELDS]


@admin.register(Team)
class TeamAdmin(ServiceAdmin):
    list_display = ["name", "slug", "tenant", "member_count", "created_at"]
    list_select_related = ["tenant"]
    list_filter = [("tenant", AutocompleteSelectFilter)]
    search_fields = ["name", "slug", "tenant__name", "tenant__slug"]
    autocomplete_fields = ["tenant"]
    ordering = ["tenant__name", "name", "id"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Team]:
        return super().get_queryset(request).annotate(member_count=Count("memberships"))

    @display(description="Members", ordering="member_count")
    def member_count(self, obj: Team) -> int:
        return obj.member_count  # type: ignore[attr-defined]  # annotated in get_queryset

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = TeamAddForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["tenant", *TEAM_FIELDS]
        return ["tenant", *TEAM_FIELDS, "created_at", "updated_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [] if obj is None else ["tenant", "created_at", "updated_at"]

    def save_model(self, request: HttpRequest, obj: Team, form: Any, change: bool) -> None:
        if change:
            data = changed_fields(form, TEAM_FIELDS)
            if data:
                services.team_update(team=obj, actor=actor_of(request), data=data)
            return
        created = services.team_create(
            tenant=form.cleaned_data["tenant"],
            actor=actor_of(request),
            name=form.cleaned_data["name"],
            slug=form.cleaned_data["slug"],
            description=form.cleaned_data["description"],
        )
        obj.pk = created.pk
        obj.slug = created.slug
        obj._state.adding = False

    def delete_model(self, request: HttpRequest, obj: Team) -> None:
        services.team_delete(team=obj, actor=actor_of(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Team]) -> None:
        # team_delete refuses nothing, so the bulk "delete selected" action is safe to keep.
        for team in queryset.order_by("pk"):
            services.team_delete(team=team, actor=actor_of(request))
