"""API keys (the secret shown once) and the signed-in user's own sessions (devices)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts.models import ApiKey
from accounts.services import api_keys as api_key_services
from console.access import render_page, tenant_page, user_page
from console.forms import show_domain_error
from console.forms_people import (
    ApiKeyForm,
    permission_groups,
)
from console.views.people.common import (
    _actor,
    _may,
    _not_found,
    _posted,
)
from core import crypto
from core.access import TenantAccess
from core.errors import DomainError

NEW_KEYS_SESSION_KEY = "qm_console_new_api_keys"  # api key id -> its secret, encrypted, until shown


# --- API keys ---------------------------------------------------------------------------------

API_KEYS = "console/people/api_keys.html"
API_KEY_FORM = "console/people/api_key_form.html"
API_KEY_CREATED = "console/people/api_key_created.html"


def _key_status(key: ApiKey, now: Any) -> str:
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= now:
        return "expired"
    return "active"


@tenant_page("api_keys:read")
def api_keys(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    """The tenant's API keys: prefix, scopes, last use, expiry, status; revoke one."""
    now = timezone.now()
    may_write = _may(access, "api_keys:write")
    may_admin = access.allows("api_keys:admin")
    keys = [
        {
            "key": key,
            "status": _key_status(key, now),
            "revocable": key.revoked_at is None
            and may_write
            and (may_admin or key.created_by_id == access.user.pk),
        }
        for key in account_selectors.api_key_list(tenant=access.tenant)
    ]
    context = {"keys": keys, "may_create": may_write}
    return render_page(request, API_KEYS, context, access=access)


def _key_context(key_id: Any, tenant_id: Any) -> crypto.Context:
    # Bound to this tenant and key: a token moved to another key or tenant does not decrypt.
    return crypto.Context(tenant_id=tenant_id, table="console_session", field="new_api_key", row_id=key_id)


def _api_key_form_page(
    request: HttpRequest, access: TenantAccess, form: ApiKeyForm, *, status: int = 200
) -> HttpResponse:
    selected = _posted(form, "scopes")
    context = {
        "form": form,
        "groups": permission_groups(selected=selected, held=access.permissions),
    }
    return render_page(request, API_KEY_FORM, context, access=access, status=status)


@tenant_page("api_keys:write", methods=("GET", "POST"))
def api_key_create(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    """A new key: name, scopes (among one's own permissions), expiry, IP allow-list."""
    if request.method != "POST":
        return _api_key_form_page(request, access, ApiKeyForm(held=access.permissions))
    form = ApiKeyForm(request.POST, held=access.permissions)
    if not form.is_valid():
        return _api_key_form_page(request, access, form, status=400)
    data = form.cleaned_data
    try:
        api_key, raw_key = api_key_services.api_key_create(
            tenant=access.tenant,
            actor=_actor(request),
            name=data["name"],
            scopes=data["scopes"],
            allowed_ips=data["allowed_ips"],
            rate_limit_per_minute=data["rate_limit_per_minute"],
            expires_at=data["expires_at"],
            actor_permissions=access.permissions,
        )
    except DomainError as exc:
        show_domain_error(form, exc, field="name")
        return _api_key_form_page(request, access, form, status=exc.status_code)
    waiting = dict(request.session.get(NEW_KEYS_SESSION_KEY, {}))
    waiting[str(api_key.pk)] = crypto.encrypt_text(
        raw_key, context=_key_context(api_key.pk, access.tenant.pk)
    )
    request.session[NEW_KEYS_SESSION_KEY] = waiting
    return redirect("console:api_key_created", tenant_id=access.tenant.pk, api_key_id=api_key.pk)


@tenant_page("api_keys:write")
def api_key_created(request: HttpRequest, access: TenantAccess, api_key_id: UUID) -> HttpResponse:
    """The new key's secret, this once: taken out of the session as it is shown."""
    api_key = account_selectors.api_key_get(tenant=access.tenant, api_key_id=api_key_id)
    if api_key is None:
        return _not_found(request, "API key")
    waiting = dict(request.session.get(NEW_KEYS_SESSION_KEY, {}))
    token = waiting.pop(str(api_key.pk), None)
    raw_key = ""
    if token is not None:
        request.session[NEW_KEYS_SESSION_KEY] = waiting
        try:
            raw_key = crypto.decrypt_text(token, context=_key_context(api_key.pk, access.tenant.pk))
        except crypto.CryptoError:
            raw_key = ""
    context = {"api_key": api_key, "raw_key": raw_key}
    response = render_page(request, API_KEY_CREATED, context, access=access)
    response["Cache-Control"] = "no-store"  # the key is in this page: no copy anywhere
    return response


@tenant_page("api_keys:write", methods=("POST",))
def api_key_revoke(request: HttpRequest, access: TenantAccess, api_key_id: UUID) -> HttpResponse:
    """Revoke a key: one's own with api_keys:write, anyone's with api_keys:admin (the service's rule)."""
    api_key = account_selectors.api_key_get(tenant=access.tenant, api_key_id=api_key_id)
    if api_key is None:
        return _not_found(request, "API key")
    try:
        api_key_services.api_key_revoke(
            api_key=api_key, actor=_actor(request), actor_permissions=access.permissions
        )
    except DomainError as exc:
        messages.error(request, f"{api_key.name} was not revoked: {exc.detail}")
        return redirect("console:api_keys", tenant_id=access.tenant.pk)
    messages.success(request, f"Revoked {api_key.name} ({api_key.prefix}…): its next request is refused.")
    return redirect("console:api_keys", tenant_id=access.tenant.pk)


# --- The user's own sessions ------------------------------------------------------------------

DEVICES = "console/people/devices.html"


@user_page
@require_http_methods(["GET", "POST"])
def devices(request: HttpRequest) -> HttpResponse:
    """The signed-in user's live sessions (this console, other browsers, API logins), this one
    marked; end another one, or every other one."""
    user = _actor(request)
    current = request.console_session  # type: ignore[attr-defined]  # set by user_page
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "revoke_others":
            count = account_services.sessions_revoke_all(
                user=user, reason="revoked_by_user", actor=user, keep=current
            )
            messages.success(request, f"Signed out {count} other session{'' if count == 1 else 's'}.")
            return redirect("console:devices")
        if action == "revoke":
            session_id = request.POST.get("session", "")
            try:
                session = account_selectors.session_get_own(user=user, session_id=UUID(session_id))
            except ValueError:
                session = None
            if session is None or session.pk == current.pk:
                # Another user's session answers like an unknown one; this one ends by signing out.
                messages.error(request, "There is no such session to end here.")
                return redirect("console:devices")
            account_services.session_revoke(session=session, actor=user, reason="revoked_by_user")
            messages.success(request, f"Ended the session on {session.device_name or 'an unnamed device'}.")
            return redirect("console:devices")
        messages.error(request, "Unknown action.")
        return redirect("console:devices")
    sessions = sorted(
        account_selectors.session_list_live(user=user),
        key=lambda s: (s.pk != current.pk, -s.last_used_at.timestamp()),
    )
    return render_page(request, DEVICES, {"sessions": sessions, "current": current})
