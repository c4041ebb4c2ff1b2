"""The admin site: unfold's, plus the second factor platform staff need (QM_STAFF_REQUIRE_2FA).

A password login at /admin/login/ is not enough when the rule is on: the session must also be
verified with a TOTP or backup code at /admin/verify/ (django-otp marks it), or the admin
treats the user as not staff. Devices are enrolled through the API (POST /api/v1/auth/2fa/totp).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django_otp import login as otp_login
from unfold.sites import UnfoldAdminSite

from accounts.services.mfa import confirmed_totp_device, mfa_verify
from core.errors import DomainError


class VerifyForm(forms.Form):
    code = forms.CharField(max_length=32, label="Authenticator or backup code")


def _needs_second_factor(request: HttpRequest) -> bool:
    user = request.user
    return bool(
        settings.QM_STAFF_REQUIRE_2FA
        and user.is_authenticated
        and user.is_active
        and user.is_staff
        and not user.is_verified()  # type: ignore[attr-defined]  # added by django-otp's middleware
    )


class QuartermasterAdminSite(UnfoldAdminSite):
    def has_permission(self, request: HttpRequest) -> bool:
        return super().has_permission(request) and not _needs_second_factor(request)

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if _needs_second_factor(request):
            return HttpResponseRedirect(reverse("admin:otp_verify"))
        return super().login(request, extra_context)

    def get_urls(self) -> list[Any]:
        # Not wrapped in admin_view: an unverified user must reach it.
        return [path("verify/", self.verify_view, name="otp_verify"), *super().get_urls()]

    def verify_view(self, request: HttpRequest) -> HttpResponse:
        if not (request.user.is_authenticated and request.user.is_staff):
            return HttpResponseRedirect(reverse("admin:login"))
        if not _needs_second_factor(request):
            return HttpResponseRedirect(reverse("admin:index"))
        form = VerifyForm(request.POST or None)
        # Through accounts' EncryptedTOTPDevice (the seed is encrypted at rest), like the API.
        device = confirmed_totp_device(request.user)
        if request.method == "POST" and form.is_valid() and device is not None:
            try:
                # The same check as the API login: device row locked, each code accepted once.
                mfa_verify(user=request.user, code=form.cleaned_data["code"])
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
        return TemplateResponse(request, "admin/otp_verify.html", context)
