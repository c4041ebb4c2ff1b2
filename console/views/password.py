"""A forgotten password: ask for a reset link, then set a new password from it; both through
accounts' password services (the same as the API's `auth/password/reset` and its confirmation).

The reset page's path is the one the e-mail carries (`accounts.services.passwords
.password_reset_link`: `<QM_PUBLIC_URL>/password-reset?uid=...&token=...`). The link's token is
the credential: it is checked when the page opens and again when the form is sent, and the page
is not cached. Asking for a link answers the same whether or not the address has an account;
both forms are held to the per-address `auth` rate of the API's login.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods

from accounts.services import passwords
from console.access import public, render_page
from console.forms import ForgotPasswordForm, ResetPasswordForm, show_domain_error
from console.views.signin import retry_message, throttled
from core.errors import DomainError, InvalidInput, RetryLater

FORGOT_TEMPLATE = "console/signin/forgot.html"
RESET_TEMPLATE = "console/signin/reset.html"


def _wait(request: HttpRequest, form: ForgotPasswordForm | ResetPasswordForm) -> dict[str, str] | None:
    """Too many tries from this address: the wait on the form, and the answer's headers."""
    seconds = throttled(request)
    if not seconds:
        return None
    form.add_error(None, retry_message(RetryLater(retry_after=seconds, detail="Too many attempts")))
    return {"Retry-After": str(seconds)}


@public
@require_http_methods(["GET", "POST"])
def password_forgot(request: HttpRequest) -> HttpResponse:
    """The e-mail address of the account; a reset link goes there if it has one."""
    form = ForgotPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        headers = _wait(request, form)
        if headers is None:
            passwords.password_reset_request(email=form.cleaned_data["email"])
            return render_page(request, FORGOT_TEMPLATE, {"sent_to": form.cleaned_data["email"]})
        response = render_page(request, FORGOT_TEMPLATE, {"form": form}, status=429)
        for name, value in headers.items():
            response[name] = value
        return response
    status = 400 if form.errors else 200
    return render_page(request, FORGOT_TEMPLATE, {"form": form}, status=status)


@public
@require_http_methods(["GET", "POST"])
def password_reset(request: HttpRequest) -> HttpResponse:
    """The e-mailed link: a new password for the account it names."""
    source = request.POST if request.method == "POST" else request.GET
    uid, token = source.get("uid", "")[:200], source.get("token", "")[:200]
    try:
        user = passwords.password_reset_user(uid=uid, token=token)
    except InvalidInput:
        response = render_page(request, RESET_TEMPLATE, {"invalid": True}, status=400)
        response["Cache-Control"] = "no-store"
        return response
    form = ResetPasswordForm(request.POST or None)
    status, headers = 200, dict[str, str]()
    if request.method == "POST":
        if not form.is_valid():
            status = 400
        elif (wait := _wait(request, form)) is not None:
            status, headers = 429, wait
        else:
            try:
                passwords.password_reset_confirm(
                    uid=uid, token=token, new_password=form.cleaned_data["new_password"]
                )
            except DomainError as exc:
                show_domain_error(form, exc)
                status = exc.status_code
            else:
                messages.success(request, "Your password is changed. Sign in with it.")
                return HttpResponseRedirect(f"{reverse('console:signin')}?{urlencode({'email': user.email})}")
    context = {"form": form, "uid": uid, "token": token, "email": user.email}
    response = render_page(request, RESET_TEMPLATE, context, status=status)
    for name, value in headers.items():
        response[name] = value
    response["Cache-Control"] = "no-store"  # the page carries the link's token
    return response


urlpatterns = [
    path("password/forgot/", password_forgot, name="password_forgot"),
    # The path the reset e-mail carries (accounts.services.passwords.password_reset_link).
    path("password-reset", password_reset, name="password_reset"),
]
