"""What tenants' back office shares: a ModelAdmin whose saves call services and show their
refusals on the form, and the actor the services are called as.

Every write goes through `tenants.services` (which audit it); the admin only parses, calls and
renders. Where an admin form cannot map onto a service (a generic "add membership"), the admin
does not offer the operation. Requests run under the platform bypass (core.admin_bypass).
Platform admins change things; platform operators only look.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from unfold.admin import ModelAdmin

from accounts.models import User
from audit.admin import AuditHistoryMixin
from core.admin_bypass import PlatformStaffAdminMixin
from core.errors import DomainError
from tenants.models import FeatureFlag, Setting, SettingVersion


def actor_of(request: HttpRequest) -> User:
    """The platform staff member using the back office, as the services' actor."""
    user = request.user
    if not isinstance(user, User):  # the admin site lets no anonymous caller this far
        raise PermissionDenied
    return user


def error_text(exc: DomainError) -> str:
    """A service's refusal as one line for the admin's messages."""
    details = [f"{field}: {msg}" for field, msgs in exc.errors.items() for msg in msgs]
    return " ".join([exc.detail, *details])


class ServiceAdmin(AuditHistoryMixin, PlatformStaffAdminMixin, ModelAdmin):
    """A ModelAdmin whose saves call services, with the services' refusals shown on the form;
    its History button shows the audit entries about the object.

    A service that refuses (DomainError) inside save_model has its savepoint rolled back; the
    form is then validated once more with the refusal added as errors, so the user sees what
    went wrong next to what they typed, and nothing was written.
    """

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form_class = super().get_form(request, obj, change, **kwargs)
        error: DomainError | None = getattr(request, "_qm_service_error", None)
        if error is None:
            return form_class
        refusal: DomainError = error

        class RefusedForm(form_class):  # type: ignore[misc, valid-type]  # built at run time
            def clean(self) -> Any:
                cleaned = super().clean()
                placed = False
                for field, msgs in refusal.errors.items():
                    for msg in msgs:
                        if field in self.fields:
                            self.add_error(field, msg)
                            placed = True
                        else:
                            self.add_error(None, f"{field}: {msg}")
                if not placed:
                    self.add_error(None, refusal.detail)
                return cleaned

        return RefusedForm

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> Any:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:
            request._qm_service_error = exc  # type: ignore[attr-defined]  # read by get_form
            return super().changeform_view(request, object_id, form_url, extra_context)

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> Any:
        try:
            return super().delete_view(request, object_id, extra_context)
        except DomainError as exc:
            self.message_user(request, error_text(exc), messages.ERROR)
            opts = self.model._meta
            return HttpResponseRedirect(
                reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[object_id])
            )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # The service saved everything there is (no many-to-many fields, no inlines here).
        pass


def changed_fields(form: forms.ModelForm, fields: list[str]) -> dict[str, Any]:
    """The form's changed values among `fields`."""
    return {f: form.cleaned_data[f] for f in form.changed_data if f in fields}


def level_name(obj: Setting | SettingVersion | FeatureFlag) -> str:
    """The level a configuration row belongs to: its tenant's name, or "Platform"."""
    return obj.tenant.name if obj.tenant is not None else "Platform"
