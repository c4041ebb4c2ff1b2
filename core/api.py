"""The API base classes. Every Quartermaster API view derives from one of them.

`BaseApi`: one database transaction per request (rolled back when the response is an error),
the actor recorded for the audit log, and the database session settings of row-level security
restored when the request ends.

`TenantScopedApi`: everything under `/api/v1/tenants/{tenant_id}/`. It resolves the tenant from
the URL once, checks membership (or platform role) once, activates the tenant's scope for
django-scopes and for row-level security, and checks a declarative map of HTTP method →
required permission. Subclasses declare `permission_map`; they cannot override the hooks that
enforce it (`__init_subclass__` refuses), so a view cannot forget or skip the check.
"""

from __future__ import annotations

import uuid
from contextlib import ExitStack
from typing import Any, ClassVar, cast

from django.db import connection, transaction
from django.db.models import Model, QuerySet
from django_scopes import scope, scopes_disabled
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from accounts import permissions as registry
from accounts.models import User
from core.context import update_context
from core.errors import NotFound, PermissionDeniedError
from core.tenancy import BYPASS_SETTING, TENANT_SETTING, USER_SETTING, set_settings, tenant_context

# Special entries of a permission map, beyond the role registry.
PLATFORM_STAFF = "platform:staff"  # platform admins and operators
PLATFORM_ADMIN = "platform:admin"  # platform admins only
_SPECIAL = {PLATFORM_STAFF, PLATFORM_ADMIN}
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
_HANDLERS = ("get", "post", "put", "patch", "delete")


def _request_settings(*, tenant_id: Any = "", user_id: Any = "") -> dict[str, str]:
    return {TENANT_SETTING: str(tenant_id or ""), USER_SETTING: str(user_id or ""), BYPASS_SETTING: ""}


def set_request_settings(*, tenant_id: Any = "", user_id: Any = "") -> None:
    """Set the row-level-security settings for the rest of this request's transaction."""
    set_settings(_request_settings(tenant_id=tenant_id, user_id=user_id))


class BaseApi(APIView):
    """One transaction per request; the actor recorded; RLS settings scoped to the request.

    `qm_atomic = False` is for the few views that must commit on a refusal (a failed login is
    recorded, and counts towards the lockout); they run their services' own transactions.
    """

    qm_atomic: ClassVar[bool] = True

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        self._stack = ExitStack()
        if not self.qm_atomic:
            with self._stack:
                return super().dispatch(request, *args, **kwargs)
        response = self._dispatch_atomic(request, *args, **kwargs)
        if response.status_code == 403 and request.user.is_authenticated:
            _audit_denied(request, response, self.kwargs.get("tenant_id"))
        return response

    def _dispatch_atomic(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        # As the outermost transaction (production), the commit discards the settings anyway;
        # nested in another one (tests, internal calls) they are put back as they were.
        nested = connection.in_atomic_block
        with transaction.atomic(), self._stack:
            previous = set_settings(_request_settings(), read_previous=True) if nested else None
            response = super().dispatch(request, *args, **kwargs)
            if response.status_code >= 400:
                transaction.set_rollback(True)  # an error response, raised or returned, writes nothing
            if previous is not None and not connection.needs_rollback:
                set_settings(previous)
            return response

    @property
    def user(self) -> User:
        """The authenticated caller (views run after IsAuthenticated, or say otherwise)."""
        return cast(User, self.request.user)

    def perform_authentication(self, request: Request) -> None:
        super().perform_authentication(request)
        user = request.user if request.user and request.user.is_authenticated else None
        api_key = request.auth if getattr(request.auth, "is_api_key", False) else None
        update_context(user=user, api_key=api_key)
        if user is not None and not isinstance(self, TenantScopedApi):  # that one sets both at once
            # The user's own rows (their memberships) become visible; no tenant yet.
            set_request_settings(user_id=user.pk)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        # A body is parsed (and refused when bad) before the handler runs, whether it reads the
        # body or not: bad input is a 400 on every route, not only on those that look at it.
        if request.stream is not None:
            request.data  # noqa: B018  # parsing is the point


def _audit_denied(request: Any, response: Any, tenant_id: Any) -> None:
    """Record a refused request, after its own transaction rolled back (so the entry stays)."""
    from audit.services import audit_record
    from tenants.models import Tenant

    code = response.data.get("code", "") if isinstance(response.data, dict) else ""
    tenant = Tenant.objects.filter(pk=tenant_id).first() if tenant_id else None
    with transaction.atomic(), ExitStack() as stack:
        if tenant is not None:
            stack.enter_context(tenant_context(tenant))
        audit_record(
            action="access.denied",
            tenant=tenant,
            severity="warning",
            details={"method": request.method, "path": request.path, "code": code},
        )


class TenantScopedApi(BaseApi):
    """A view under /api/v1/tenants/{tenant_id}/ with a method → permission map."""

    permission_map: ClassVar[dict[str, str]] = {}
    pagination_class: ClassVar[Any] = api_settings.DEFAULT_PAGINATION_CLASS
    _sealed = (
        "dispatch",
        "initial",
        "perform_authentication",
        "check_permissions",
        "resolve_tenant",
        "permission_classes",
        "authentication_classes",
        "handle_exception",
    )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in cls._sealed:
            if name in cls.__dict__:
                raise TypeError(f"{cls.__name__} may not override {name}: it enforces tenant isolation.")
        for handler in _HANDLERS:
            if hasattr(cls, handler) and handler.upper() not in cls.permission_map:
                raise TypeError(f"{cls.__name__}.{handler} has no entry in permission_map.")
        for method, permission in cls.permission_map.items():
            if permission not in registry.ALL and permission not in _SPECIAL:
                raise TypeError(f"{cls.__name__}: {method} needs {permission!r}, which is not registered.")

    def check_permissions(self, request: Request) -> None:
        super().check_permissions(request)  # IsAuthenticated: anonymous callers get 401 first
        if not (request.user and request.user.is_authenticated):
            self.permission_denied(request)  # belt and braces: 401 whatever permission_classes say
        user = request.user
        tenant_id = self.kwargs["tenant_id"]
        # The context first (the membership row is under RLS), then the membership with its
        # tenant and role, in one round trip; the tenant alone only when there is no membership.
        self._stack.enter_context(scope(tenant=tenant_id))
        from tenants.selectors import membership_for

        settings = _request_settings(tenant_id=tenant_id, user_id=user.pk)
        membership = membership_for(user=user, tenant=tenant_id, settings=settings)
        tenant = membership.tenant if membership is not None else self.resolve_tenant(user, tenant_id)
        perms = registry.effective_permissions(user=user, role=membership.role if membership else None)
        # An API key acts for its creator, narrowed to its scopes, in its own tenant only; the
        # creator's platform role never widens what a key may do.
        api_key: Any = request.auth if getattr(request.auth, "is_api_key", False) else None
        staff = user.is_platform_staff and api_key is None
        if api_key is not None:
            if api_key.tenant_id != tenant.pk:
                raise PermissionDeniedError(
                    "This API key belongs to another tenant.", code="api_key_wrong_tenant"
                )
            perms = (
                perms & frozenset(api_key.scopes) if (membership or user.is_platform_admin) else frozenset()
            )
        elif membership is None and not staff:
            raise PermissionDeniedError("You are not a member of this tenant.", code="not_a_member")
        # HEAD and OPTIONS ask no more than reading does.
        method = "GET" if request.method in ("HEAD", "OPTIONS") else (request.method or "")
        required = self.permission_map.get(method) or (
            next(iter(self.permission_map.values())) if request.method == "OPTIONS" else None
        )
        if required is None:
            self.http_method_not_allowed(request)
        if not self._allowed(user if staff else None, required, perms):
            raise PermissionDeniedError(f"This needs the {required} permission.", code="missing_permission")
        if tenant.is_suspended and request.method not in _SAFE_METHODS and not staff:
            raise PermissionDeniedError(
                "This tenant is suspended: it can read but not change anything.", code="tenant_suspended"
            )
        request.tenant = tenant  # type: ignore[attr-defined]  # the resolved tenant, set once here
        request.membership = membership  # type: ignore[attr-defined]
        request.permissions = perms  # type: ignore[attr-defined]
        update_context(extra={"tenant_id": str(tenant.pk)})

    @staticmethod
    def _allowed(staff_user: Any, required: str | None, perms: frozenset[str]) -> bool:
        """`staff_user` is the platform-staff caller, or None (members and API keys)."""
        if required == PLATFORM_ADMIN:
            return bool(staff_user and staff_user.is_platform_admin)
        if required == PLATFORM_STAFF:
            return staff_user is not None
        return required in perms

    def resolve_tenant(self, user: User, tenant_id: uuid.UUID) -> Any:
        from tenants.models import Tenant

        with scopes_disabled():
            tenant = Tenant.objects.filter(pk=tenant_id).first()
        if tenant is None:
            # Whether a tenant exists is not for non-members to learn: same answer as "not a member".
            if user.is_platform_staff:
                raise NotFound("No such tenant.")
            raise PermissionDeniedError("You are not a member of this tenant.", code="not_a_member")
        return tenant

    # Helpers for subclasses -----------------------------------------------------------------

    @property
    def tenant(self) -> Any:
        return self.request.tenant  # type: ignore[attr-defined]

    def get_or_404(self, queryset: QuerySet[Any], **lookup: Any) -> Any:
        """Fetch one object of this tenant's; another tenant's id answers exactly like a missing one."""
        obj: Model | None = queryset.filter(**lookup).first()
        if obj is None:
            raise NotFound()
        return obj

    def paginated(self, queryset: QuerySet[Any], serializer_class: Any, **context: Any) -> Response:
        paginator = self.pagination_class() if self.pagination_class else None
        if paginator is None:
            return Response(serializer_class(queryset, many=True, context=context).data)
        page = paginator.paginate_queryset(queryset, self.request, view=self)
        return paginator.get_paginated_response(serializer_class(page, many=True, context=context).data)


def filter_parameters(filterset_class: Any) -> list[OpenApiParameter]:
    """OpenAPI query parameters for a django-filter FilterSet used by a plain APIView."""
    return [
        OpenApiParameter(name, str, OpenApiParameter.QUERY, description=str(f.extra.get("help_text", "")))
        for name, f in filterset_class.base_filters.items()
    ]
