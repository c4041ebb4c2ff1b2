"""How every console view is guarded, and how its page is rendered.

Three guards; every console URL has exactly one (console/tests/test_routes.py walks them):

- `public`: anyone (the sign-in steps).
- `user_page`: a signed-in user (a live console session, `console.auth.console_session`),
  outside any tenant: the tenant list, the account pages. No transaction of its own: the
  services it calls open theirs (and a wrong second-factor code must count although the page
  refuses it); reads of the user's memberships run in the user's row-level-security context
  (`core.tenancy.user_context`).
- `tenant_page(permission, methods=...)`: a signed-in user, then the tenant gate itself
  (`tenants.gate.tenant_access`, the function the API calls: the console never checks a
  membership on its own) for the tenant in the URL (`/t/<uuid:tenant_id>/...`) and the page's
  permission, `write=` for anything but GET and HEAD; inside the tenant's django-scopes scope
  and one transaction (rolled back when the answer is an error), in the tenant's time zone.
  A refusal renders the 403 or 404 page, which shows nothing of that tenant. The view is
  called with the gate's `TenantAccess`, which templates get as `access`, so that they show
  only the buttons its permissions allow (`{% if access|allows:"credits:admin" %}`).

Pages render through `render_page`, which adds what the layout needs (the tenant switcher,
the sections of `console.nav` the caller may open, the user menu), inside the guard's
transaction. A page that belongs to a section without being its URL passes `nav_current`
(e.g. `"console:members"`) to have that section marked current.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from functools import wraps
from typing import Any, TypeVar, cast
from uuid import UUID

from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django_htmx.http import HttpResponseClientRedirect
from django_scopes import scope

from accounts.models import User
from audit.services import access_denied_record
from console import nav
from console.auth import console_session
from core.access import TenantAccess
from core.context import update_context
from core.errors import NotFound, PermissionDeniedError
from core.tenancy import user_context
from tenants import selectors as tenant_selectors
from tenants.gate import tenant_access

View = TypeVar("View", bound=Callable[..., HttpResponse])

SAFE_METHODS = ("GET", "HEAD")
SWITCHER_LIMIT = 12  # tenants listed in the header's switcher; the tenant list has them all
GUARD_ATTRIBUTE = "console_guard"


def public(view: View) -> View:
    """Anyone may open this page (the sign-in steps)."""
    setattr(view, GUARD_ATTRIBUTE, "public")
    return view


def _to_sign_in(request: HttpRequest) -> HttpResponse:
    url = f"{reverse('console:signin')}?{urlencode({'next': request.get_full_path()})}"
    if getattr(request, "htmx", False):
        return HttpResponseClientRedirect(url)  # the whole page goes, not a fragment
    return HttpResponseRedirect(url)


def _authenticate(request: HttpRequest) -> User | None:
    """The signed-in user, put on the request with their console session; None if not signed in."""
    session = console_session(request)
    if session is None:
        return None
    # Replaces AuthenticationMiddleware's lazy user, which is never loaded then: the session
    # query above brought the user along.
    request.user = session.user
    request.console_session = session  # type: ignore[attr-defined]  # read by sign-out and the account pages
    update_context(user=session.user)
    return session.user


def _rendered(response: HttpResponse) -> HttpResponse:
    # A TemplateResponse renders lazily: its queries must run inside the guard's transaction.
    render_now = getattr(response, "render", None)
    if callable(render_now) and not getattr(response, "is_rendered", True):
        render_now()
    return response


def user_page(view: View) -> View:
    """A page of the signed-in user, outside any tenant."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if _authenticate(request) is None:
            return _to_sign_in(request)
        return _rendered(view(request, *args, **kwargs))

    setattr(wrapper, GUARD_ATTRIBUTE, "user")
    return cast(View, wrapper)


def tenant_page(permission: str, *, methods: tuple[str, ...] = SAFE_METHODS) -> Callable[[View], View]:
    """A page of the tenant in the URL, for callers the gate lets do `permission` there.

    `methods`: the HTTP methods the view answers (others: 405, after the gate, so that an
    outsider learns nothing from it). The view is called as `view(request, access, ...)`.
    """

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, tenant_id: UUID, *args: Any, **kwargs: Any) -> HttpResponse:
            user = _authenticate(request)
            if user is None:
                return _to_sign_in(request)
            write = request.method not in SAFE_METHODS
            try:
                with transaction.atomic(), scope(tenant=tenant_id):
                    access = tenant_access(
                        user=user, api_key=None, tenant_id=tenant_id, permission=permission, write=write
                    )
                    if request.method not in methods:
                        response: HttpResponse = HttpResponseNotAllowed(methods)
                    else:
                        update_context(extra={"tenant_id": str(tenant_id)})
                        with timezone.override(access.tenant.timezone):
                            response = _rendered(view(request, access, *args, **kwargs))
                    if response.status_code >= 400:
                        transaction.set_rollback(True)  # an error answer writes nothing
                    return response
            except PermissionDeniedError as exc:
                # Recorded as the API records its refusals, after the rollback, so it stays.
                access_denied_record(
                    tenant_id=tenant_id, method=request.method or "", path=request.path, code=exc.code
                )
                return refusal_page(request, status=403, detail=exc.detail)
            except NotFound:
                return refusal_page(request, status=404, detail="There is no such tenant.")

        setattr(wrapper, GUARD_ATTRIBUTE, f"tenant:{permission}")
        return cast(View, wrapper)

    return decorator


def refusal_page(request: HttpRequest, *, status: int, detail: str) -> HttpResponse:
    """The 403 or 404 page of a refused tenant page: the reason, and the user's own tenants
    to go to; nothing of the tenant that was asked for."""
    return render_page(
        request,
        "console/error.html",
        {"status": status, "detail": detail, "title": "Not found" if status == 404 else "No access"},
        status=status,
    )


def switcher_tenants(user: User, *, in_tenant: bool) -> tuple[list[Any], bool]:
    """The tenants the header's switcher lists (the user's memberships', every tenant for
    platform staff), and whether there are more than it shows. `in_tenant`: the gate has set
    this transaction's row-level-security context (the user's own memberships are visible);
    otherwise the user's own context is set around the query."""
    with nullcontext() if in_tenant else user_context(user):
        tenants = list(tenant_selectors.tenant_list_for_user(user=user)[: SWITCHER_LIMIT + 1])
    return tenants[:SWITCHER_LIMIT], len(tenants) > SWITCHER_LIMIT


def render_page(
    request: HttpRequest,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    access: TenantAccess | None = None,
    status: int = 200,
) -> HttpResponse:
    """Render a console page with what the layout needs; an htmx request for a partial
    (`template#name`) gets the fragment alone."""
    context = dict(context or {})
    if access is not None:
        context.setdefault("access", access)
        context.setdefault("tenant", access.tenant)
    if getattr(request, "console_session", None) is not None and "#" not in template:
        user = cast(User, request.user)
        context["switcher"], context["switcher_more"] = switcher_tenants(user, in_tenant=access is not None)
        current = context.get("nav_current") or nav.current_name(request)
        context["platform_nav"] = nav.platform_links(user, current, path=request.path)
        context["account_nav"] = nav.account_links(current)
        if access is not None:
            context["section_nav"] = nav.tenant_links(access, current, path=request.path)
            context["section_nav_label"] = f"Sections of {access.tenant.name}"
        elif current.startswith("console:platform"):
            context["section_nav"] = context["platform_nav"]
            context["section_nav_label"] = "Platform sections"
    return render(request, template, context, status=status)
