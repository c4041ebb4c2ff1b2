"""Accepting an invite from the e-mailed link, through tenants' `invite_accept` (the API's
`invites/accept`): its path is the one the e-mail carries (`tenants.services.invites
.invite_accept_url`: `<QM_PUBLIC_URL>/invites/accept?token=...`); the token is the credential.

Who opens the link decides what the page offers:

- someone new (no account with the invited address): their name and a password, which create
  the account and the membership in one step, then signs them in (on to the second factor's
  enrolment when the tenant demands one);
- someone with an account, not signed in: sign in first (the sign-in page comes back here);
- the invited account, signed in: one button;
- another account, signed in: told to sign out (the service would refuse them anyway).

Each POST is held to the per-address `auth` rate of the API's login.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods

from accounts import selectors as account_selectors
from accounts.models import User
from accounts.services import auth as auth_services
from console import auth
from console.access import public, render_page
from console.forms import InviteSignUpForm, show_domain_error
from console.views.signin import continue_sign_in, retry_message, throttled
from core.errors import DomainError, RetryLater
from tenants import services as tenant_services
from tenants.models import Invite, InviteStatus
from tenants.selectors.invites import invite_by_token, invite_effective_status

TEMPLATE = "console/invite/accept.html"

# Why a link no longer works, for people (the services' texts are written for API clients).
ENDED: dict[str, str] = {
    InviteStatus.ACCEPTED: "This invite has already been used.",
    InviteStatus.REVOKED: "This invite was withdrawn.",
    InviteStatus.EXPIRED: "This invite has expired.",
}


def _mode(invite: Invite, user: User | None) -> str:
    """What the page offers: `accept`, `other_account`, `sign_in` or `sign_up`."""
    if user is not None:
        return "accept" if user.email == invite.email else "other_account"
    if account_selectors.user_get_active_by_email(email=invite.email) is not None:
        return "sign_in"
    return "sign_up"


def _joined(request: HttpRequest, invite: Invite) -> str:
    messages.success(request, f"Welcome to {invite.tenant.name}.")
    return reverse("console:overview", kwargs={"tenant_id": invite.tenant_id})


def _sign_in_new(request: HttpRequest, invite: Invite, password: str) -> HttpResponse:
    """The account was just created: sign in with its new password, on to the tenant."""
    target = _joined(request, invite)
    try:
        outcome = auth_services.login(
            request=request,
            email=invite.email,
            password=password,
            device_token=auth.device_token(request),
            device_name=auth.DEVICE_NAME,
        )
    except DomainError:  # whatever holds the sign-in back, the sign-in page says it
        query = urlencode({"email": invite.email, "next": target})
        return HttpResponseRedirect(f"{reverse('console:signin')}?{query}")
    return continue_sign_in(request, outcome, target)


@public
@require_http_methods(["GET", "POST"])
def invite_accept(request: HttpRequest) -> HttpResponse:
    """The invite the link names: who invited whom to which tenant as what, and the way in."""
    source = request.POST if request.method == "POST" else request.GET
    token = source.get("token", "").strip()[:200]
    invite = invite_by_token(token=token) if token else None
    if invite is None:
        return render_page(request, TEMPLATE, {"problem": "This invite link is not valid."}, status=404)
    state = invite_effective_status(invite)
    if state != InviteStatus.PENDING:
        return render_page(request, TEMPLATE, {"invite": invite, "problem": ENDED.get(state, "")}, status=409)
    session = auth.console_session(request)
    user = session.user if session is not None else None
    mode = _mode(invite, user)
    here = f"{reverse('console:invite_accept')}?{urlencode({'token': token})}"
    form = InviteSignUpForm(request.POST or None) if mode == "sign_up" else None
    context: dict[str, Any] = {
        "invite": invite,
        "mode": mode,
        "token": token,
        "signed_in_as": user,
        "form": form,
    }
    context["signin_url"] = f"{reverse('console:signin')}?{urlencode({'email': invite.email, 'next': here})}"
    status, headers = 200, dict[str, str]()
    if request.method == "POST" and mode in ("accept", "sign_up"):
        if seconds := throttled(request):
            context["error"] = retry_message(RetryLater(retry_after=seconds, detail="Too many attempts"))
            status, headers = 429, {"Retry-After": str(seconds)}
        elif mode == "accept":
            try:
                tenant_services.invite_accept(token=token, user=user)
            except DomainError as exc:
                context["error"], status = exc.detail, exc.status_code
            else:
                return HttpResponseRedirect(_joined(request, invite))
        elif form is not None and form.is_valid():
            password = form.cleaned_data["password"]
            try:
                tenant_services.invite_accept(
                    token=token, password=password, full_name=form.cleaned_data["full_name"]
                )
            except DomainError as exc:
                show_domain_error(form, exc)
                status = exc.status_code
            else:
                return _sign_in_new(request, invite, password)
        else:
            status = 400
    response = render_page(request, TEMPLATE, context, status=status)
    for name, value in headers.items():
        response[name] = value
    response["Cache-Control"] = "no-store"  # the page carries the invite's token
    return response


urlpatterns = [
    # The path the invite e-mail carries (tenants.services.invites.invite_accept_url).
    path("invites/accept", invite_accept, name="invite_accept"),
]
