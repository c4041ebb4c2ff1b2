"""The signed-in user's own settings: two-factor authentication (from the user menu)."""

from __future__ import annotations

from typing import Any, cast

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login

from accounts.models import User
from accounts.services import mfa
from console.access import render_page, user_page
from console.forms import CodeForm, EnrolCodeForm, show_domain_error
from console.views.signin import enrollment_context, retry_message
from core.errors import DomainError, RetryLater

TEMPLATE = "console/account/two_factor.html"


@user_page
@require_http_methods(["GET", "POST"])
def two_factor(request: HttpRequest) -> HttpResponse:
    """Turn two-factor authentication on (scan, confirm, see the backup codes once) or off.

    One page, three POSTs by `action`: `start` (a new authenticator: its QR code, this once),
    `confirm` (the first code: backup codes), `disable` (a current code).
    """
    user = cast(User, request.user)
    action = request.POST.get("action", "") if request.method == "POST" else ""
    context: dict[str, Any] = {"enabled": mfa.mfa_enabled(user), "required": mfa.mfa_demanded_by_rules(user)}
    status = 200
    response_headers: dict[str, str] = {}
    if action == "start":
        try:
            context.update(enrollment_context(mfa.totp_enroll(user=user)))
        except DomainError as exc:
            context["error"] = exc.detail
            status = exc.status_code
        context["form"] = EnrolCodeForm()
        response_headers["Cache-Control"] = "no-store"  # the QR code carries the new seed
    elif action == "confirm":
        form = EnrolCodeForm(request.POST)
        context["form"] = form
        if form.is_valid():
            try:
                codes = mfa.totp_confirm(
                    user=user,
                    code=form.cleaned_data["code"],
                    session=request.console_session,  # type: ignore[attr-defined]  # set by user_page
                )
            except DomainError as exc:
                show_domain_error(form, exc, field="code")
                status = exc.status_code
            else:
                device = mfa.confirmed_totp_device(user)
                if device is not None:
                    otp_login(request, device)  # this session has just proven the factor
                context.update(enabled=True, codes=codes)
                response_headers["Cache-Control"] = "no-store"  # shown this once
        else:
            status = 400
        context["enrolling"] = "codes" not in context
    elif action == "disable":
        disable_form = CodeForm(request.POST, prefix="disable")
        context["disable_form"] = disable_form
        if disable_form.is_valid():
            try:
                mfa.totp_disable(user=user, code=disable_form.cleaned_data["code"])
            except RetryLater as exc:
                disable_form.add_error("code", retry_message(exc))
                status = 429
                response_headers["Retry-After"] = str(exc.retry_after)
            except DomainError as exc:
                show_domain_error(disable_form, exc, field="code")
                status = exc.status_code
            else:
                context.update(enabled=False, disabled=True)
        else:
            status = 400
    elif request.method == "POST":
        status = 400
        context["error"] = "Unknown action."
    if context["enabled"] and "disable_form" not in context:
        context["disable_form"] = CodeForm(prefix="disable")
    response = render_page(request, TEMPLATE, context, status=status)
    for name, value in response_headers.items():
        response[name] = value
    return response


urlpatterns = [
    path("account/two-factor/", two_factor, name="two_factor"),
]
