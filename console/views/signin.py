"""Signing in and out: e-mail and password, then the second factor (a TOTP or backup code), or
its enrolment when a rule demands one that is not set up; all through accounts' login services,
with the API's lockout, backoff and 2FA rules (console.auth has the session side).

The steps commit even when they refuse (a wrong password or code must count), so, like the
API's login views, they run no transaction of their own: each service opens its own. Each POST
is also held to the per-address `auth` rate of the API's login (core.throttling).
"""

from __future__ import annotations

import math
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import path, reverse
from django.views.decorators.http import require_http_methods, require_POST

from accounts.services import auth as auth_services
from accounts.services.mfa import InvalidChallenge
from console import auth
from console.access import public, render_page
from console.formatting import wait
from console.forms import CodeForm, EnrolCodeForm, SignInForm, show_domain_error
from core.errors import DomainError, RetryLater
from core.throttling import AuthRateThrottle

EXPIRED = "Your sign-in took too long or has ended: enter your e-mail and password again."


def throttled(request: HttpRequest) -> int:
    """Seconds this address must wait under the login's per-address rate; 0: go ahead."""
    throttle = AuthRateThrottle()
    # A DRF throttle outside DRF: it reads only the client's address (core.context.client_ip,
    # which takes a Django request) and the cache; the view is unused.
    if throttle.allow_request(cast(Any, request), cast(Any, None)):
        return 0
    return max(1, math.ceil(throttle.wait() or 1))


# What a wait is called on the page (the services' own texts are written for API clients).
WAITS = {
    "account_locked": "Too many failed sign-ins from here: this account is locked for a while.",
    "login_backoff": "This account has seen many failed sign-ins from many places, so new devices are "
    "held back for a while. A device that signed in before is not.",
    "mfa_throttled": "Too many wrong codes.",
}


def retry_message(exc: RetryLater) -> str:
    """A refusal that ends by itself, with how long to wait."""
    reason = WAITS.get(exc.code) or f"{exc.detail.rstrip('.')}."
    return f"{reason} Try again in {wait(exc.retry_after)}."


def _refused(form: Any, exc: DomainError, *, field: str | None = None) -> tuple[int, dict[str, str]]:
    """Show a refusal on the form; the answer's status and headers (a wait: 429, Retry-After)."""
    if isinstance(exc, RetryLater):
        form.add_error(field, retry_message(exc))
        return 429, {"Retry-After": str(exc.retry_after)}
    show_domain_error(form, exc, field=field)
    return exc.status_code, {}


def _page(
    request: HttpRequest, template: str, context: dict[str, Any], status: int, headers: dict[str, str]
) -> HttpResponse:
    response = render_page(request, template, context, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


def _restart(request: HttpRequest, message: str = EXPIRED) -> HttpResponse:
    request.session.pop(auth.CHALLENGE_SESSION_KEY, None)
    messages.info(request, message)
    return redirect("console:signin")


def _signed_in(
    request: HttpRequest, tokens: auth_services.IssuedTokens, *, second_factor: bool
) -> HttpResponse:
    next_url = request.session.pop(auth.NEXT_SESSION_KEY, "/")
    auth.sign_in(request, tokens, second_factor=second_factor)
    response = HttpResponseRedirect(auth.safe_next(request, next_url))
    auth.remember_device(response, tokens.device_token)
    return response


def continue_sign_in(
    request: HttpRequest, outcome: auth_services.LoginOutcome, next_url: str
) -> HttpResponse:
    """After accounts' login accepted the password: signed in, or on to the second factor or
    its enrolment, then to `next_url` (checked to be ours)."""
    request.session[auth.NEXT_SESSION_KEY] = auth.safe_next(request, next_url)
    if outcome.tokens is not None:
        return _signed_in(request, outcome.tokens, second_factor=False)
    request.session[auth.CHALLENGE_SESSION_KEY] = outcome.challenge_token
    step = "verify" if outcome.challenge_purpose == "verify" else "enroll"
    return redirect(f"console:signin_{step}")


@public
@require_http_methods(["GET", "POST"])
def signin(request: HttpRequest) -> HttpResponse:
    """E-mail and password; then the second factor, its enrolment, or the console."""
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if auth.console_session(request) is not None:
        return redirect(auth.safe_next(request, next_url))
    # `email`: filled in for whoever comes from a page that knows it (a reset, an invite).
    form = SignInForm(request.POST or None, initial={"email": request.GET.get("email", "")[:254]})
    status, headers = 200, dict[str, str]()
    if request.method == "POST" and form.is_valid():
        if seconds := throttled(request):
            status, headers = _refused(
                form, RetryLater(retry_after=seconds, detail="Too many sign-in attempts")
            )
        else:
            try:
                outcome = auth_services.login(
                    request=request,
                    email=form.cleaned_data["email"],
                    password=form.cleaned_data["password"],
                    device_token=auth.device_token(request),
                    device_name=auth.DEVICE_NAME,
                )
            except DomainError as exc:
                # The lockout is answered here, with its wait, as the API answers it:
                # django-axes' middleware would otherwise replace this page with its own text.
                request.axes_locked_out = False  # type: ignore[attr-defined]  # django-axes' mark
                status, headers = _refused(form, exc)
            else:
                return continue_sign_in(request, outcome, next_url)
    return _page(request, "console/signin/signin.html", {"form": form, "next": next_url}, status, headers)


@public
@require_http_methods(["GET", "POST"])
def signin_verify(request: HttpRequest) -> HttpResponse:
    """The second step: a code from the authenticator app, or a backup code."""
    challenge = request.session.get(auth.CHALLENGE_SESSION_KEY)
    if not challenge:
        return redirect("console:signin")
    form = CodeForm(request.POST or None)
    status, headers = 200, dict[str, str]()
    if request.method == "POST" and form.is_valid():
        if seconds := throttled(request):
            status, headers = _refused(
                form, RetryLater(retry_after=seconds, detail="Too many attempts"), field="code"
            )
        else:
            try:
                tokens, kind = auth_services.login_mfa_verify(
                    request=request,
                    challenge_token=challenge,
                    code=form.cleaned_data["code"],
                    device_name=auth.DEVICE_NAME,
                )
            except InvalidChallenge:
                return _restart(request)
            except DomainError as exc:  # a wrong code, or too many (MfaThrottled: 429 with the wait)
                status, headers = _refused(form, exc, field="code")
            else:
                if kind == "backup":
                    messages.warning(
                        request,
                        "You signed in with a backup code; it cannot be used again. "
                        "Running low? Set up two-factor authentication again to get new ones.",
                    )
                return _signed_in(request, tokens, second_factor=True)
    return _page(request, "console/signin/verify.html", {"form": form}, status, headers)


def _manual_key(otpauth_uri: str) -> str:
    """The secret of an otpauth URI in groups of four, for typing into an app by hand."""
    secret = parse_qs(urlsplit(otpauth_uri).query).get("secret", [""])[0]
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def enrollment_context(enrollment: dict[str, str]) -> dict[str, Any]:
    """What the enrolment template shows of the service's answer (shown this once)."""
    return {
        "qr_svg": enrollment["qr_svg"],  # segno's SVG, made by the service from our own URI
        "otpauth_uri": enrollment["otpauth_uri"],
        "manual_key": _manual_key(enrollment["otpauth_uri"]),
    }


@public
@require_http_methods(["GET", "POST"])
def signin_enroll(request: HttpRequest) -> HttpResponse:
    """A rule demands a second factor this account has not set up: enrol an authenticator app
    now (each visit starts afresh with a new QR code), confirm with a first code, and see the
    backup codes once."""
    challenge = request.session.get(auth.CHALLENGE_SESSION_KEY)
    if not challenge:
        return redirect("console:signin")
    form = EnrolCodeForm(request.POST or None)
    context: dict[str, Any] = {"form": form}
    status, headers = 200, dict[str, str]()
    if request.method == "GET":
        try:
            context.update(enrollment_context(auth_services.login_mfa_enroll(challenge_token=challenge)))
        except InvalidChallenge:
            return _restart(request)
    elif form.is_valid():
        if seconds := throttled(request):
            status, headers = _refused(
                form, RetryLater(retry_after=seconds, detail="Too many attempts"), field="code"
            )
        else:
            try:
                tokens, codes = auth_services.login_mfa_enroll_confirm(
                    request=request,
                    challenge_token=challenge,
                    code=form.cleaned_data["code"],
                    device_name=auth.DEVICE_NAME,
                )
            except InvalidChallenge:
                return _restart(request)
            except DomainError as exc:
                status, headers = _refused(form, exc, field="code")
            else:
                next_url = auth.safe_next(request, request.session.pop(auth.NEXT_SESSION_KEY, "/"))
                auth.sign_in(request, tokens, second_factor=True)
                # Shown this once, in this answer: nothing keeps them to show again.
                response = render_page(
                    request, "console/signin/backup_codes.html", {"codes": codes, "next": next_url}
                )
                response["Cache-Control"] = "no-store"
                auth.remember_device(response, tokens.device_token)
                return response
    headers["Cache-Control"] = "no-store"  # the QR code carries the new seed
    return _page(request, "console/signin/enroll.html", context, status, headers)


@public
@require_POST
def signout(request: HttpRequest) -> HttpResponse:
    """End the console session and the accounts session behind it; the device stays known."""
    auth.sign_out(request, auth.console_session(request))
    messages.info(request, "You are signed out.")
    return HttpResponseRedirect(reverse("console:signin"))


urlpatterns = [
    path("signin/", signin, name="signin"),
    path("signin/verify/", signin_verify, name="signin_verify"),
    path("signin/enroll/", signin_enroll, name="signin_enroll"),
    path("signout/", signout, name="signout"),
]
