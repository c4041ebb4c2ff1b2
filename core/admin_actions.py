"""Admin actions that ask for something first (at least a reason), then call a service per object.

The pattern is Django's intermediate action page: the changelist posts the action with the
selected ids; we answer with a form (templates/admin/action_form.html) that posts the same
action back with `apply`; a valid form calls the service once per object, in primary-key order
(the services lock rows, always in the same order), each in its own savepoint, so one refusal
shows as a message and the others still happen. The same form serves an object's own page
(unfold's `actions_detail`): `form_action(..., detail=True)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from unfold.widgets import UnfoldAdminTextareaWidget

from core.errors import DomainError

REASON_HELP = "Recorded in the audit log."


def reason_field(**kwargs: Any) -> forms.CharField:
    """A required reason, as the services want it (kept in the audit log)."""
    return forms.CharField(
        max_length=kwargs.pop("max_length", 2000),
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
        help_text=kwargs.pop("help_text", REASON_HELP),
        **kwargs,
    )


class ReasonForm(forms.Form):
    reason = reason_field()

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("A reason is required.")
        return reason


def error_text(exc: DomainError) -> str:
    """A service's refusal as one line for the admin's messages."""
    details = [f"{field}: {msg}" for field, msgs in exc.errors.items() for msg in msgs]
    return " ".join([exc.detail, *details])


def form_action(
    modeladmin: Any,
    request: HttpRequest,
    objects: QuerySet[Any] | Iterable[Model],
    *,
    action: str,
    title: str,
    apply: Callable[[Any, dict[str, Any]], object],
    done: str,
    form_class: type[forms.Form] = ReasonForm,
    intro: str = "",
    danger: bool = False,
    detail: bool = False,
) -> HttpResponse | None:
    """Ask for `form_class` about `objects`; once it is valid, `apply(obj, cleaned_data)` each.

    Returns the form page, or None when done (the changelist then redirects to itself; a detail
    action redirects to the object). `done` is the success message's verb ("Granted").
    """
    form = form_class(request.POST if "apply" in request.POST else None)
    targets = list(objects.order_by("pk") if isinstance(objects, QuerySet) else objects)
    if form.is_valid():
        changed = []
        for obj in targets:
            try:
                apply(obj, form.cleaned_data)
            except DomainError as exc:
                modeladmin.message_user(request, f"{obj}: {error_text(exc)}", messages.WARNING)
            else:
                changed.append(str(obj))
        if changed:
            modeladmin.message_user(request, f"{done}: {', '.join(changed)}.", messages.SUCCESS)
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "intro": intro,
        "opts": modeladmin.model._meta,
        "objects": targets,
        "form": form,
        "action": action,
        "detail": detail,
        "danger": danger,
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/action_form.html", context)
