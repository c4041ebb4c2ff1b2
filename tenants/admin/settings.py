"""The back office for settings: values masked, changes through the versioned, audited services,
the history read-only."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from unfold.contrib.filters.admin import AutocompleteSelectFilter
from unfold.decorators import display
from unfold.widgets import UnfoldAdminTextareaWidget

from core.admin_bypass import ReadOnlyAdmin
from tenants import selectors, services, settings_registry
from tenants.admin.common import ServiceAdmin, actor_of, level_name
from tenants.models import Setting, SettingVersion


def _masked_json(is_secret: bool, value: Any, encrypted: str) -> str:
    if is_secret:
        return selectors.MASK if encrypted else "—"
    return "—" if value is None else json.dumps(value)


class SettingForm(forms.ModelForm):
    """Key, tenant and environment on creation; a new value (or a reset) and a reason on change."""

    key = forms.ChoiceField(choices=[(d.key, d.key) for d in settings_registry.REGISTRY])
    new_value = forms.CharField(
        required=False,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 2}),
        help_text='JSON of the setting\'s type: 5, true, "5.0", ["100"]. A secret: the value itself '
        "(never shown again; leave blank to keep it).",
    )
    reset = forms.BooleanField(
        required=False, help_text="Remove the value at this level: the platform's (or the default) applies."
    )
    reason = forms.CharField(
        max_length=2000, required=False, help_text="Kept in the history and the audit log."
    )

    class Meta:
        model = Setting
        fields = ["tenant", "environment"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance._state.adding:
            for name in ("key", "tenant", "environment"):
                self.fields.pop(name, None)
        else:
            self.fields["tenant"].required = False
            self.fields["tenant"].help_text = "Empty: the platform default."
        key = None if self.instance._state.adding else self.instance.key
        definition = settings_registry.definition(key) if key else None
        if definition is not None and definition.is_secret:
            self.fields["new_value"].widget = forms.PasswordInput(render_value=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        key = cleaned.get("key") if self.instance._state.adding else self.instance.key
        definition = settings_registry.definition(key or "")
        raw = cleaned.get("new_value") or ""
        if definition is None or cleaned.get("reset"):
            return cleaned
        if not raw:
            if self.instance._state.adding:
                self.add_error("new_value", "Give a value.")
            cleaned["parsed_value"] = None
            return cleaned
        if definition.is_secret and definition.kind == settings_registry.Kind.STR:
            cleaned["parsed_value"] = raw  # a secret string as typed, never parsed
            return cleaned
        try:
            cleaned["parsed_value"] = json.loads(raw)
        except json.JSONDecodeError:
            if definition.kind != settings_registry.Kind.STR:
                self.add_error("new_value", "Not valid JSON.")
            cleaned["parsed_value"] = raw
        return cleaned


@admin.register(Setting)
class SettingAdmin(ServiceAdmin):
    """Setting values, secrets masked; changes go through the versioned, audited services."""

    form = SettingForm
    list_display = ["key", "level", "environment", "value_display", "version", "updated_by", "updated_at"]
    list_select_related = ["tenant", "updated_by"]
    list_filter = ["environment", "category", "is_secret", ("tenant", AutocompleteSelectFilter)]
    search_fields = ["key", "tenant__name", "tenant__slug"]
    autocomplete_fields = ["tenant"]
    ordering = ["key", "environment", "id"]
    actions = None

    @display(description="Tenant", ordering="tenant__name")
    def level(self, obj: Setting) -> str:
        return level_name(obj)

    @display(description="Value")
    def value_display(self, obj: Setting) -> str:
        return _masked_json(obj.is_secret, obj.value, obj.value_encrypted)

    @display(description="History")
    def history(self, obj: Setting) -> str:
        link = reverse("admin:tenants_settingversion_changelist") + f"?setting__exact={obj.pk}"
        return format_html('<a href="{}">{} version(s)</a>', link, obj.version)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["key", "tenant", "environment", "new_value", "reason"]
        fields = ["key", "level", "environment", "value_display", "history", "updated_by", "updated_at"]
        if self.has_change_permission(request, obj):
            fields += ["new_value", "reset", "reason"]
        return fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return []
        return ["key", "level", "environment", "value_display", "history", "updated_by", "updated_at"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # rows keep their history; "reset" empties a value instead

    def save_model(self, request: HttpRequest, obj: Setting, form: Any, change: bool) -> None:
        cleaned = form.cleaned_data
        reason = cleaned.get("reason", "")
        if change:
            tenant, key, environment = obj.tenant, obj.key, obj.environment
        else:
            tenant, key, environment = cleaned.get("tenant"), cleaned["key"], cleaned["environment"]
        if cleaned.get("reset"):
            services.setting_reset(
                tenant=tenant, key=key, actor=actor_of(request), environment=environment, reason=reason
            )
        elif cleaned.get("parsed_value") is not None:
            services.setting_set(
                tenant=tenant,
                key=key,
                value=cleaned["parsed_value"],
                actor=actor_of(request),
                environment=environment,
                reason=reason,
            )
        if not change:
            saved = Setting.objects.get(tenant=tenant, key=key, environment=environment)
            obj.pk = saved.pk
            obj._state.adding = False


@admin.register(SettingVersion)
class SettingVersionAdmin(ReadOnlyAdmin):
    """The setting history: insert-only in the database, read-only here, values masked."""

    list_display = ["key", "version", "action", "level", "environment", "changed_by_label", "created_at"]
    list_select_related = ["tenant"]
    list_filter = ["environment", "action", "is_secret"]
    search_fields = ["key", "tenant__name", "changed_by_label", "reason"]
    ordering = ["-created_at", "-id"]
    actions = None
    fields = [
        "key",
        "version",
        "action",
        "level",
        "environment",
        "old_display",
        "new_display",
        "rolled_back_to",
        "reason",
        "changed_by_label",
        "created_at",
    ]
    readonly_fields = fields

    @display(description="Tenant", ordering="tenant__name")
    def level(self, obj: SettingVersion) -> str:
        return level_name(obj)

    @display(description="Old value")
    def old_display(self, obj: SettingVersion) -> str:
        return _masked_json(obj.is_secret, obj.old_value, obj.old_value_encrypted)

    @display(description="New value")
    def new_display(self, obj: SettingVersion) -> str:
        return _masked_json(obj.is_secret, obj.new_value, obj.new_value_encrypted)
