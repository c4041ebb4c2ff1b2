"""What the people pages share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast
from uuid import UUID

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from accounts.models import Role, User
from console.access import refusal_page, render_page
from core.access import TenantAccess
from tenants import selectors as tenant_selectors
from tenants import services as tenant_services
from tenants.models import Membership

# --- Shared -----------------------------------------------------------------------------------


def _actor(request: HttpRequest) -> User:
    return cast(User, request.user)


def _is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _may(access: TenantAccess, permission: str) -> bool:
    """Whether the caller may press a button needing `permission`: the gate's answer, and no
    write at all in a suspended tenant (the gate refuses those)."""
    return access.allows(permission) and not access.tenant.is_suspended


def actor_rank(access: TenantAccess) -> int:
    """The caller's rank here, as tenants.services.actor_rank reckons it, from the gate's answer
    (no query): platform admins above all, else their role's rank, else nothing."""
    if access.user.is_platform_admin:
        return tenant_services.PLATFORM_ADMIN_RANK
    return int(access.membership.role.rank) if access.membership is not None else 0


def grantable_roles(roles: list[Role], access: TenantAccess) -> list[Role]:
    """The roles the caller may hand out: ranked no higher, holding nothing the caller lacks
    (the services check it again; this only spares people a refused choice)."""
    rank = actor_rank(access)
    return [role for role in roles if role.rank <= rank and set(role.permissions) <= access.permissions]


@dataclass(frozen=True)
class Page:
    """Where an action answers: the page's template, how to build its context, its URL name
    (and arguments beyond the tenant) and the partial htmx swaps."""

    template: str
    build: Callable[[], dict[str, Any]]
    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    partial: str | None = None


def _answer(
    request: HttpRequest,
    access: TenantAccess,
    page: Page,
    *,
    status: int = 200,
    notice: str = "",
    error: str = "",
) -> HttpResponse:
    """An action's answer. htmx: the page's partial alone, with the notice or error in it.
    Otherwise: a success redirects to the page (the notice as a message); a refusal renders the
    page with the error, with its status."""
    if _is_htmx(request) and page.partial:
        context = {**page.build(), "notice": notice, "error": error}
        return render_page(request, f"{page.template}#{page.partial}", context, access=access, status=status)
    if status < 400:
        if notice:
            messages.success(request, notice)
        return redirect(f"console:{page.name}", tenant_id=access.tenant.pk, **page.kwargs)
    return render_page(request, page.template, {**page.build(), "error": error}, access=access, status=status)


def _posted(form: forms.Form, name: str) -> list[str]:
    """The values a bound form received for a multiple-choice field (kept on a refused form)."""
    return [str(value) for value in form.data.getlist(name)] if form.is_bound else []  # type: ignore[attr-defined]  # a QueryDict


def _not_found(request: HttpRequest, what: str) -> HttpResponse:
    return refusal_page(request, status=404, detail=f"There is no such {what} in this tenant.")


def _membership(access: TenantAccess, membership_id: UUID) -> Membership | None:
    return tenant_selectors.member_list(tenant=access.tenant).filter(pk=membership_id).first()
