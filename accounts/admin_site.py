"""The admin site: unfold's, plus what platform staff need to get in.

- The second factor (QM_STAFF_REQUIRE_2FA): a password login at /admin/login/ is not enough when
  the rule is on: the session must also be verified with a TOTP or backup code at /admin/verify/
  (django-otp marks it), or the admin treats the user as not staff. A wrong code is answered
  with how long to wait before the next try (django-otp's throttle, doubling per failure).
- Enrolment in the browser at /admin/enroll/: a QR code (SVG, drawn by the service with segno)
  for the authenticator app, a first code to confirm, and the backup codes shown once.
- /admin/login/ opened directly lands on the admin's index after the login (not on Django's
  LOGIN_REDIRECT_URL); a tenant's owner or member who tries it is told to use the console.
"""

from __future__ import annotations

import math
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django_otp import login as otp_login
from unfold.forms import AuthenticationForm
from unfold.sites import UnfoldAdminSite
from unfold.widgets import UnfoldAdminTextInputWidget

from accounts.models import EncryptedTOTPDevice
from accounts.services.mfa import (
    InvalidCode,
    MfaThrottled,
    confirmed_totp_device,
    mfa_verify,
    totp_confirm,
    totp_enroll,
)
from core.errors import DomainError

CONSOLE_SIGNIN = "/signin/"


def _code_field(label: str) -> forms.CharField:
    # unfold's input widget: the box has a visible border like every other field of the admin.
    return forms.CharField(
        max_length=32,
        label=label,
        widget=UnfoldAdminTextInputWidget(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class VerifyForm(forms.Form):
    code = _code_field("Authenticator or backup code")


class EnrolForm(forms.Form):
    code = _code_field("The 6-digit code the app shows now")


class StaffLoginForm(AuthenticationForm):
    """The admin's login form: a user who is not platform staff is sent to the console."""

    def confirm_login_allowed(self, user: Any) -> None:
        if user.is_active and not (user.is_staff and getattr(user, "is_platform_staff", False)):
            raise forms.ValidationError(
                format_html(
                    "This is the back office, for platform staff. Tenant owners and members sign in to "
                    'the console: <a class="underline font-semibold" href="{}">sign in there</a>.',
                    CONSOLE_SIGNIN,
                ),
                code="not_staff",
            )
        if getattr(user, "locked_at", None) is not None:
            raise forms.ValidationError("This account is locked by the platform's operators.", code="locked")
        super().confirm_login_allowed(user)


def _needs_second_factor(request: HttpRequest) -> bool:
    user = request.user
    return bool(
        settings.QM_STAFF_REQUIRE_2FA
        and user.is_authenticated
        and user.is_active
        and user.is_staff
        and not user.is_verified()  # type: ignore[attr-defined]  # added by django-otp's middleware
    )


def _seconds(count: int) -> str:
    return "1 second" if count == 1 else f"{count} seconds"


def _wait_after_failure(device: EncryptedTOTPDevice | None) -> int:
    """Seconds before django-otp's throttle lets the next code be tried (0: now)."""
    if device is None:
        return 0
    device.refresh_from_db()
    allowed, info = device.verify_is_allowed()
    locked_until = (info or {}).get("locked_until")
    if allowed or locked_until is None:
        return 0
    return max(1, math.ceil((locked_until - timezone.now()).total_seconds()))


class QuartermasterAdminSite(UnfoldAdminSite):
    def has_permission(self, request: HttpRequest) -> bool:
        return super().has_permission(request) and not _needs_second_factor(request)

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if _needs_second_factor(request):
            return HttpResponseRedirect(reverse("admin:otp_verify"))
        self.login_form = StaffLoginForm
        # unfold's login page has no `next` field, so a login from /admin/login/ itself would end
        # on LOGIN_REDIRECT_URL; the admin's index is where staff are going.
        if REDIRECT_FIELD_NAME not in request.GET and REDIRECT_FIELD_NAME not in request.POST:
            query = request.GET.copy()
            query[REDIRECT_FIELD_NAME] = reverse("admin:index", current_app=self.name)
            request.GET = query  # type: ignore[assignment]  # a mutable copy, read by LoginView
        return super().login(request, {"console_signin": CONSOLE_SIGNIN, **(extra_context or {})})

    def get_urls(self) -> list[Any]:
        # Not wrapped in admin_view: an unverified user must reach them.
        return [
            path("verify/", self.verify_view, name="otp_verify"),
            path("enroll/", self.enroll_view, name="otp_enroll"),
            *super().get_urls(),
        ]

    def verify_view(self, request: HttpRequest) -> HttpResponse:
        if not (request.user.is_authenticated and request.user.is_staff):
            return HttpResponseRedirect(reverse("admin:login"))
        if not _needs_second_factor(request):
            return HttpResponseRedirect(reverse("admin:index"))
        form = VerifyForm(request.POST or None)
        # Through accounts' EncryptedTOTPDevice (the seed is encrypted at rest), like the API.
        device = confirmed_totp_device(request.user)
        status = 200
        if request.method == "POST" and form.is_valid() and device is not None:
            try:
                # The same check as the API login: device row locked, each code accepted once.
                mfa_verify(user=request.user, code=form.cleaned_data["code"])
            except MfaThrottled as exc:
                status = 429
                form.add_error("code", f"Too many wrong codes: try again in {_seconds(exc.retry_after)}.")
            except InvalidCode as exc:
                wait = _wait_after_failure(device)
                later = f" You can try again in {_seconds(wait)}." if wait else ""
                form.add_error("code", f"{exc.detail}{later}")
            except DomainError as exc:
                form.add_error("code", exc.detail)
            else:
                otp_login(request, device)
                return HttpResponseRedirect(reverse("admin:index"))
        context = {
            **self.each_context(request),
            "form": form,
            "has_device": device is not None,
            "title": "Two-factor check",
        }
        return TemplateResponse(request, "admin/otp_verify.html", context, status=status)

    def enroll_view(self, request: HttpRequest) -> HttpResponse:
        """Set up an authenticator app: each visit starts afresh with a new QR code; a first
        code confirms it, and the backup codes are shown this once."""
        user: Any = request.user
        if not (user.is_authenticated and user.is_staff):
            return HttpResponseRedirect(reverse("admin:login"))
        if confirmed_totp_device(user) is not None:
            return HttpResponseRedirect(
                reverse("admin:otp_verify" if _needs_second_factor(request) else "admin:index")
            )
        form = EnrolForm(request.POST or None)
        context: dict[str, Any] = {**self.each_context(request), "title": "Set up two-factor authentication"}
        status = 200
        if request.method == "POST" and form.is_valid():
            try:
                codes = totp_confirm(user=user, code=form.cleaned_data["code"])
            except DomainError as exc:
                status = 400
                form.add_error(
                    "code", f"{exc.detail} Check the app's clock, or start again for a new QR code."
                )
            else:
                device = confirmed_totp_device(user)
                if device is not None:
                    otp_login(request, device)  # this session has now passed the second factor
                context["codes"] = codes
        else:
            context.update(totp_enroll(user=user))  # otpauth_uri and qr_svg (segno's SVG)
        context["form"] = form
        response = TemplateResponse(request, "admin/otp_enroll.html", context, status=status)
        response["Cache-Control"] = "no-store"  # the QR code carries the seed; the codes are once
        return response
