"""Run the Django admin under the platform bypass of row-level security.

The admin is platform-wide work: its changelists span every tenant, so each admin request of
an active platform-staff user runs in one transaction inside `core.tenancy.platform_bypass`
(django-scopes disabled, `app.bypass_rls` on). Everyone else passes through untouched: the
admin's own login redirect and permission checks answer them, and no bypass is ever opened for
them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from unfold.admin import ModelAdmin

from core.tenancy import platform_bypass

_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def _admin_prefix() -> str | None:
    # Every request asks; reversing costs more than the rest of this middleware, so the answer
    # is kept per URL map and script prefix.
    return _admin_prefix_for(get_urlconf() or settings.ROOT_URLCONF, get_script_prefix())


@lru_cache(maxsize=16)
def _admin_prefix_for(urlconf: Any, script_prefix: str) -> str | None:
    try:
        return reverse("admin:index", urlconf=urlconf)
    except NoReverseMatch:
        return None


def is_admin_platform_staff(user: Any) -> bool:
    """An authenticated, active platform admin or operator who may open the Django admin."""
    return bool(
        user is not None
        and user.is_authenticated
        and getattr(user, "is_staff", False)
        and getattr(user, "is_platform_staff", False)
    )


class AdminPlatformBypassMiddleware:
    """Wrap each /admin/ request of platform staff in a transaction and the platform bypass.

    Goes right after AuthenticationMiddleware (it needs `request.user`).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        prefix = _admin_prefix()
        user = getattr(request, "user", None)
        if prefix is None or not request.path.startswith(prefix) or not is_admin_platform_staff(user):
            return self.get_response(request)
        # Reads are too frequent to log one line each; every write is logged (and the services
        # it calls write the audit entries).
        log = request.method not in _SAFE_METHODS
        with transaction.atomic():
            with platform_bypass(reason="admin", actor=user, log=log):
                response = self.get_response(request)
                # Changelists evaluate their querysets while rendering: that must happen here,
                # inside the bypass, not after this middleware has returned.
                render = getattr(response, "render", None)
                if callable(render) and not getattr(response, "is_rendered", True):
                    render()
            # An exception in the view reaches us as a 500 response (Django converts it one
            # layer down), so roll back by hand: nothing half-written may commit.
            if response.status_code >= 500:
                transaction.set_rollback(True)
        return response


def is_admin_platform_admin(user: Any) -> bool:
    """Platform staff who may change things in the admin (operators only look)."""
    return is_admin_platform_staff(user) and bool(getattr(user, "is_platform_admin", False))


class PlatformStaffAdminMixin:
    """ModelAdmin permissions by platform role, not Django's model permissions.

    Platform staff (the users the middleware opens the bypass for) may look; only platform
    admins may add, change or delete. Admins refine per object by overriding and calling super.
    """

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_admin_platform_staff(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_admin_platform_staff(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_admin_platform_admin(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_admin_platform_admin(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_admin_platform_admin(request.user)


class ReadOnlyAdmin(PlatformStaffAdminMixin, ModelAdmin):
    """Platform staff look; nobody adds, changes or deletes here (ledgers, logs, secrets' rows)."""

    actions: Any = None  # subclasses that call services through actions name them

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
