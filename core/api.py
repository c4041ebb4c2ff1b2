"""The API base classes. Every Quartermaster API view derives from one of them.

`BaseApi`: one database transaction per request (rolled back when the response is an error),
the actor recorded for the audit log, the database session settings of row-level security
restored when the request ends, and the body parsed before the handler runs.

`TenantScopedApi`: everything under `/api/v1/tenants/{tenant_id}/`. It calls the tenant gate
(`core.access.tenant_gate`, provided by `tenants.gate`) once, with the permission its
declarative map of HTTP method → permission names, and keeps the typed answer as `self.access`.
`PlatformApi`: everything under `/api/v1/platform/`: platform staff only, by the same kind of
map (`PLATFORM_STAFF`, `PLATFORM_ADMIN`). Subclasses cannot override the hooks that enforce
either (`__init_subclass__` refuses), so a view cannot forget or skip the check. That every
name in a map is a registered permission is a system check (accounts.checks).

Escape hatches are named `dangerously_*`: `dangerously_commit_errors` (a refused login must
still count), `dangerously_allow_api_keys` (a route outside tenants that keys may call).
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any, ClassVar, cast

from django.db import connection, transaction
from django.db.models import Model, QuerySet
from django_scopes import scope
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from core.access import (
    PLATFORM_ADMIN,
    PLATFORM_PERMISSIONS,
    PLATFORM_STAFF,
    TenantAccess,
    note_tenant_route,
    standing_of,
    tenant_gate,
)
from core.context import update_context
from core.errors import NotFound, PermissionDeniedError
from core.hooks import Hook
from core.tenancy import BYPASS_SETTING, TENANT_SETTING, USER_SETTING, set_settings
from core.types import Principal

__all__ = [
    "PLATFORM_ADMIN",
    "PLATFORM_STAFF",
    "BaseApi",
    "PlatformApi",
    "TenantScopedApi",
    "filter_parameters",
    "record_refusal",
]

_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
_HANDLERS = ("get", "post", "put", "patch", "delete")

# Records a refused (403) request after its own transaction rolled back, so the entry stays:
# record_refusal(*, tenant_id, method, path, code). Provided by the audit app.
record_refusal: Hook[..., object] = Hook("record_refusal", provider="audit")


def request_settings(*, tenant_id: Any = "", user_id: Any = "") -> dict[str, str]:
    """The row-level-security settings of a request: its tenant and user, never the bypass."""
    return {TENANT_SETTING: str(tenant_id or ""), USER_SETTING: str(user_id or ""), BYPASS_SETTING: ""}


def set_request_settings(*, tenant_id: Any = "", user_id: Any = "") -> None:
    """Set the row-level-security settings for the rest of this request's transaction."""
    set_settings(request_settings(tenant_id=tenant_id, user_id=user_id))


class BaseApi(APIView):
    """One transaction per request; the actor recorded; RLS settings scoped to the request.

    `dangerously_commit_errors = True` is for the few views that must commit although they
    answer an error (a failed login is recorded and counts towards the lockout; a reused
    refresh token revokes its session): they run their services' own transactions instead.
    """

    dangerously_commit_errors: ClassVar[bool] = False
    dangerously_allow_api_keys: ClassVar[bool] = False
    pagination_class: ClassVar[Any] = None  # lists answer bare arrays unless a view paginates

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        self._stack = ExitStack()
        if self.dangerously_commit_errors:
            with self._stack:
                return super().dispatch(request, *args, **kwargs)
        response = self._dispatch_atomic(request, *args, **kwargs)
        if response.status_code == 403 and request.user.is_authenticated:
            code = response.data.get("code", "") if isinstance(response.data, dict) else ""
            record_refusal(
                tenant_id=self.kwargs.get("tenant_id"), method=request.method, path=request.path, code=code
            )
        return response

    def _dispatch_atomic(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        # As the outermost transaction (production), the commit discards the settings anyway;
        # nested in another one (tests, internal calls) they are put back as they were.
        nested = connection.in_atomic_block
        with transaction.atomic(), self._stack:
            previous = set_settings(request_settings(), read_previous=True) if nested else None
            response = super().dispatch(request, *args, **kwargs)
            if response.status_code >= 400:
                transaction.set_rollback(True)  # an error response, raised or returned, writes nothing
            if previous is not None and not connection.needs_rollback:
                set_settings(previous)
            return response

    @property
    def user(self) -> Any:
        """The authenticated caller, an accounts.models.User (views run after IsAuthenticated,
        or say otherwise)."""
        return self.request.user

    def perform_authentication(self, request: Request) -> None:
        super().perform_authentication(request)
        user = request.user if request.user and request.user.is_authenticated else None
        api_key = request.auth if getattr(request.auth, "is_api_key", False) else None
        update_context(user=user, api_key=api_key)
        if user is not None and not isinstance(self, TenantScopedApi):  # the gate sets both at once
            # The user's own rows (their memberships) become visible; no tenant yet.
            set_request_settings(user_id=user.pk)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        # A body is parsed (and refused when bad) before the handler runs, whether it reads the
        # body or not: bad input is a 400 on every route, not only on those that look at it.
        if request.stream is not None:
            request.data  # noqa: B018  # parsing is the point

    # Helpers for subclasses -----------------------------------------------------------------

    def get_or_404(self, queryset: QuerySet[Any], **lookup: Any) -> Any:
        """Fetch one object of this tenant's; another tenant's id answers exactly like a missing one."""
        obj: Model | None = queryset.filter(**lookup).first()
        if obj is None:
            raise NotFound()
        return obj

    def paginated(
        self, queryset: QuerySet[Any] | list[Any], serializer_class: Any, **context: Any
    ) -> Response:
        """A page of `queryset` (or a list), rendered by `serializer_class`; the whole of it when
        the view has no pagination."""
        paginator = self.pagination_class() if self.pagination_class else None
        if paginator is None:
            return Response(serializer_class(queryset, many=True, context=context).data)
        page = paginator.paginate_queryset(queryset, self.request, view=self)
        return paginator.get_paginated_response(serializer_class(page, many=True, context=context).data)


class _SealedApi(BaseApi):
    """What TenantScopedApi and PlatformApi share: a sealed method → permission map, paged lists."""

    permission_map: ClassVar[dict[str, str]] = {}
    pagination_class: ClassVar[Any] = api_settings.DEFAULT_PAGINATION_CLASS
    _sealed = (
        "dispatch",
        "initial",
        "perform_authentication",
        "check_permissions",
        "permission_classes",
        "authentication_classes",
        "handle_exception",
        "dangerously_commit_errors",
        "required_permission",
        "authenticated_caller",
    )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if _SealedApi in cls.__bases__:
            return  # TenantScopedApi and PlatformApi themselves: they implement the check
        for name in cls._sealed:
            if name in cls.__dict__:
                raise TypeError(f"{cls.__name__} may not override {name}: it enforces access control.")
        for handler in _HANDLERS:
            if hasattr(cls, handler) and handler.upper() not in cls.permission_map:
                raise TypeError(f"{cls.__name__}.{handler} has no entry in permission_map.")

    def required_permission(self, request: Request) -> str | None:
        """The permission-map entry of this request's method (HEAD and OPTIONS ask what GET
        does); None for a method the view does not implement, answered 405 after the access
        check, so that outsiders learn nothing from it."""
        method = "GET" if request.method in ("HEAD", "OPTIONS") else (request.method or "")
        return self.permission_map.get(method) or (
            next(iter(self.permission_map.values()), None) if request.method == "OPTIONS" else None
        )

    def authenticated_caller(self, request: Request) -> Principal:
        super().check_permissions(request)  # IsAuthenticated: anonymous callers get 401 first
        if not (request.user and request.user.is_authenticated):
            self.permission_denied(request)  # belt and braces: 401 whatever permission_classes say
        return cast(Principal, request.user)


class TenantScopedApi(_SealedApi):
    """A view under /api/v1/tenants/{tenant_id}/ with a method → permission map."""

    access: TenantAccess

    def perform_authentication(self, request: Request) -> None:
        # The authenticators read the caller's standing in this tenant with the credentials, in
        # the same statement (core.access.Standing); the gate below decides on it.
        note_tenant_route(request, self.kwargs.get("tenant_id"))
        super().perform_authentication(request)

    def check_permissions(self, request: Request) -> None:
        user = self.authenticated_caller(request)
        required = self.required_permission(request)
        tenant_id = self.kwargs["tenant_id"]
        # The scope first: the gate reads the membership, a tenant-scoped row.
        self._stack.enter_context(scope(tenant=tenant_id))
        self.access = tenant_gate(
            user=user,
            api_key=request.auth if getattr(request.auth, "is_api_key", False) else None,
            tenant_id=tenant_id,
            permission=required,
            write=request.method not in _SAFE_METHODS,
            # Read by the authenticator with the credentials, when it could (core.access.Standing).
            standing=standing_of(request),
        )
        if required is None:
            self.http_method_not_allowed(request)
        update_context(extra={"tenant_id": str(tenant_id)})

    @property
    def tenant(self) -> Any:
        """The tenant of the URL (tenants.models.Tenant), as the gate resolved it."""
        return self.access.tenant


class PlatformApi(_SealedApi):
    """A view under /api/v1/platform/: platform staff only, per method (`PLATFORM_STAFF` or
    `PLATFORM_ADMIN`). Never an API key: a key belongs to a tenant, whoever created it."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not set(cls.permission_map.values()) <= PLATFORM_PERMISSIONS:
            raise TypeError(f"{cls.__name__}: a platform view needs PLATFORM_STAFF or PLATFORM_ADMIN.")

    def check_permissions(self, request: Request) -> None:
        user = self.authenticated_caller(request)
        required = self.required_permission(request)
        if getattr(request.auth, "is_api_key", False) or not user.is_platform_staff:
            raise PermissionDeniedError("This is for platform staff.", code="platform_staff_only")
        if required is None:
            self.http_method_not_allowed(request)
        if required == PLATFORM_ADMIN and not user.is_platform_admin:
            raise PermissionDeniedError("Only platform admins do this.", code="platform_admin_only")


def filter_parameters(filterset_class: Any) -> list[OpenApiParameter]:
    """OpenAPI query parameters for a django-filter FilterSet used by a plain APIView."""
    return [
        OpenApiParameter(name, str, OpenApiParameter.QUERY, description=str(f.extra.get("help_text", "")))
        for name, f in filterset_class.base_filters.items()
    ]
