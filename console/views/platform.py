"""Platform staff's pages: the dashboard (`/platform/`), every tenant (suspend, reactivate), every
user (unlock), and credit postings for a tenant (grant, top up, refund, adjust).

Who may open them is the API's rule for `/api/v1/platform/` (core.api.PlatformApi): a signed-in
user whose platform role is staff (`core.access.PLATFORM_STAFF`: admins and operators) or admin
(`PLATFORM_ADMIN`); everyone else gets the 403 page. Reads across tenants run inside
`platform_bypass`, logged with the reason; a write to one tenant goes through the tenant gate
(`tenants.gate.tenant_access`) with the permission the API's view of that action names
(`PLATFORM_STAFF` for suspend, reactivate and credit postings), in that tenant's context, and
calls the same service the API calls; unlocking a user calls accounts' lockout service as
`POST /api/v1/platform/users/<id>/unlock` does. Every write takes a reason, kept in the audit log.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from functools import wraps
from typing import Any, TypeVar, cast
from uuid import UUID

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods
from django_scopes import scope

from accounts import selectors as account_selectors
from accounts.models import PlatformRole, User
from accounts.services import auth as auth_services
from billing import selectors as billing_selectors
from billing import services as billing_services
from billing.errors import IdempotencyKeyReused
from billing.models import TransactionKind
from console import charts
from console.access import refusal_page, render_page, user_page
from console.formatting import amount
from console.forms import show_domain_error
from console.forms_money import CreditPostForm, ReasonForm, TenantFilterForm, TenantStatusForm, UserFilterForm
from core.access import PLATFORM_ADMIN, PLATFORM_STAFF, TenantAccess
from core.errors import DomainError, NotFound, PermissionDeniedError
from core.tenancy import platform_bypass
from tenants import services as tenant_services
from tenants.gate import tenant_access
from tenants.models import PlanCode, TenantStatus

View = TypeVar("View", bound=Callable[..., HttpResponse])

DAYS = 30
TOP = 5
LOW_BALANCES = 10
PAGE_SIZE = 50
RECENT_ENTRIES = 10
STAFF_ONLY = "This is for platform staff."


def platform_allows(user: User, permission: str) -> bool:
    """The API's rule for platform routes (core.api.PlatformApi.check_permissions)."""
    if permission == PLATFORM_ADMIN:
        return bool(user.is_platform_admin)
    return bool(user.is_platform_staff)


def platform_page(permission: str = PLATFORM_STAFF) -> Callable[[View], View]:
    """A page of platform staff: a signed-in user (`user_page`) whose platform role allows
    `permission`; anyone else gets the 403 page."""

    def decorator(view: View) -> View:
        @wraps(view)
        def staff_only(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not platform_allows(cast(User, request.user), permission):
                detail = "Only platform admins do this." if permission == PLATFORM_ADMIN else STAFF_ONLY
                return refusal_page(request, status=403, detail=detail)
            return view(request, *args, **kwargs)

        return user_page(cast(View, staff_only))

    return decorator


SECTIONS = {
    "dashboard": "console:platform",
    "tenants": "console:platform_tenants",
    "users": "console:platform_users",
    "credits": "console:platform_credits",
}


def _context(request: HttpRequest, section: str, **extra: Any) -> dict[str, Any]:
    """What every platform page has: its section, marked current in the layout's platform nav
    (console.nav) also on a section's sub-pages."""
    return {"section": section, "nav_current": SECTIONS[section], **extra}


def _bypass(request: HttpRequest, what: str) -> Any:
    return platform_bypass(reason=f"console: platform {what}", actor=request.user)


# --- Dashboard ----------------------------------------------------------------------------------


def _tenant_matrix(counts: list[dict[str, Any]]) -> dict[str, Any]:
    """Tenants by status (rows) and plan (columns), with totals."""
    plans = [code for code, _ in PlanCode.choices]
    cells = {(row["status"], row["plan"]): row["count"] for row in counts}
    rows = []
    for status, label in TenantStatus.choices:
        values = [cells.get((status, plan), 0) for plan in plans]
        rows.append({"status": status, "label": label, "values": values, "total": sum(values)})
    totals = [sum(row["values"][i] for row in rows) for i in range(len(plans))]
    return {
        "plans": [label for _, label in PlanCode.choices],
        "rows": rows,
        "totals": totals,
        "total": sum(totals),
    }


@platform_page()
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """Tenants by status and plan; credits charged, provider cost and margin by day; the top
    tenants and the low balances. Five queries, whatever the numbers."""
    with transaction.atomic(), _bypass(request, "dashboard"):
        counts = billing_selectors.platform_tenant_counts()
        days = billing_selectors.platform_spend_by_day(days=DAYS)
        start, end = billing_selectors.platform_period(days=DAYS)
        top = billing_selectors.platform_top_tenants(start=start, end=end, limit=TOP)
        low = billing_selectors.platform_low_balances(limit=LOW_BALANCES)
    charged = sum((day.credits for day in days), Decimal(0))
    cost = sum((day.provider_cost_usd for day in days), Decimal(0))
    context = _context(
        request,
        "dashboard",
        days=DAYS,
        matrix=_tenant_matrix(counts),
        series=days,
        charged=charged,
        cost=cost,
        margin=charged - cost,
        margin_share=((charged - cost) / charged * 100) if charged else None,
        charged_chart=charts.daily_bars([(day.day, day.credits) for day in days]),
        cost_chart=charts.daily_bars([(day.day, day.provider_cost_usd) for day in days], unit="US dollars"),
        top=top,
        low=low,
    )
    return render_page(request, "console/platform/dashboard.html", context)


# --- Tenants -------------------------------------------------------------------------------------


@platform_page()
@require_GET
def tenants(request: HttpRequest) -> HttpResponse:
    """Every tenant with plan, status and balance; filters; 50 a page."""
    form = TenantFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    query = urlencode({k: v for k, v in data.items() if v})
    with transaction.atomic(), _bypass(request, "tenant list"):
        rows = billing_selectors.platform_tenant_list(
            query=data.get("q", "").strip(), status=data.get("status", "")
        )
        page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
        listed = list(page.object_list)
    context = _context(request, "tenants", form=form, page=page, tenants=listed, query=query)
    return render_page(request, "console/platform/tenants.html", context, status=400 if form.errors else 200)


def _gated(user: User, tenant_id: UUID, *, write: bool) -> TenantAccess:
    """The tenant gate for a platform action on one tenant (the API's permission for it):
    sets this transaction's context to that tenant. Call inside a transaction and its scope."""
    return tenant_access(user=user, api_key=None, tenant_id=tenant_id, permission=PLATFORM_STAFF, write=write)


@platform_page()
@require_http_methods(["GET", "POST"])
def tenant_status(request: HttpRequest, tenant_id: UUID) -> HttpResponse:
    """Suspend an active tenant or reactivate a suspended one, with a reason (tenants'
    services, as `POST /api/v1/tenants/<id>/suspend` and `/reactivate`). The form names the
    action it was shown for: if someone changed the status meanwhile, the service's conflict
    is shown, nothing is undone."""
    user = cast(User, request.user)
    form = TenantStatusForm(request.POST or None)
    status = 200
    try:
        with transaction.atomic(), scope(tenant=tenant_id):
            tenant = _gated(user, tenant_id, write=request.method == "POST").tenant
            if request.method == "POST":
                if form.is_valid():
                    suspend = form.cleaned_data["action"] == TenantStatusForm.SUSPEND
                    change = tenant_services.tenant_suspend if suspend else tenant_services.tenant_reactivate
                    change(tenant=tenant, actor=user, reason=form.cleaned_data["reason"])
                    done = "Suspended" if suspend else "Reactivated"
                    messages.success(request, f"{done} {tenant.name}.")
                    return redirect(f"{reverse('console:platform_tenants')}?{urlencode({'q': tenant.slug})}")
                status = 400
    except (NotFound, PermissionDeniedError):
        return refusal_page(request, status=404, detail="There is no such tenant.")
    except DomainError as exc:
        show_domain_error(form, exc, field=None)
        status = exc.status_code
        with transaction.atomic(), scope(tenant=tenant_id):
            tenant = _gated(user, tenant_id, write=False).tenant
    suspend = not tenant.is_suspended
    action = TenantStatusForm.SUSPEND if suspend else TenantStatusForm.REACTIVATE
    context = _context(request, "tenants", form=form, subject=tenant, suspend=suspend, action=action)
    return render_page(request, "console/platform/tenant_status.html", context, status=status)


# --- Users ---------------------------------------------------------------------------------------


@platform_page()
@require_GET
def users(request: HttpRequest) -> HttpResponse:
    """Every user with platform role, two-factor and lockout state; filters; 50 a page."""
    form = UserFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    query = urlencode({k: ("on" if v is True else v) for k, v in data.items() if v})
    with transaction.atomic():
        rows = account_selectors.platform_user_list(
            query=data.get("q", "").strip(),
            platform_role=data.get("role", ""),
            locked_only=bool(data.get("locked")),
        )
        page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
        listed = list(page.object_list)
    context = _context(
        request, "users", form=form, page=page, users=listed, query=query, no_role=PlatformRole.NONE
    )
    return render_page(request, "console/platform/users.html", context, status=400 if form.errors else 200)


@platform_page()
@require_http_methods(["GET", "POST"])
def user_unlock(request: HttpRequest, user_id: UUID) -> HttpResponse:
    """Lift a user's login lockout now, with a reason (accounts' lockout service, as
    `POST /api/v1/platform/users/<id>/unlock`)."""
    with transaction.atomic():
        subject = account_selectors.platform_user_list().filter(pk=user_id).first()
    if subject is None:
        return refusal_page(request, status=404, detail="There is no such user.")
    form = ReasonForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            cleared = auth_services.account_unlock(
                user=subject, actor=cast(User, request.user), reason=form.cleaned_data["reason"]
            )
            messages.success(
                request,
                f"Unlocked {subject.email}: {cleared} locked address{'' if cleared == 1 else 'es'} cleared.",
            )
            return redirect(f"{reverse('console:platform_users')}?{urlencode({'q': subject.email})}")
        return render_page(
            request,
            "console/platform/user_unlock.html",
            _context(request, "users", form=form, subject=subject),
            status=400,
        )
    return render_page(
        request, "console/platform/user_unlock.html", _context(request, "users", form=form, subject=subject)
    )


# --- Credits -------------------------------------------------------------------------------------


def _tenant_credits(user: User, tenant_id: UUID) -> dict[str, Any]:
    """The chosen tenant, its balance and its latest ledger entries, read through the gate."""
    with transaction.atomic(), scope(tenant=tenant_id):
        access = _gated(user, tenant_id, write=False)
        summary = billing_selectors.credit_summary(tenant=access.tenant)
        entries = list(billing_selectors.transaction_list_filtered(tenant=access.tenant)[:RECENT_ENTRIES])
    return {"subject": access.tenant, "summary": summary, "entries": entries}


def _tenant_id(value: str) -> UUID | None:
    try:
        return uuid.UUID(value[:64])
    except ValueError:
        return None


@platform_page()
@require_http_methods(["GET", "POST"])
def credits(request: HttpRequest) -> HttpResponse:
    """Find a tenant, then grant, top up, refund or adjust its credits with a reason (billing's
    `credits_post`, as `POST /api/v1/tenants/<id>/credits/transactions`), and see the ledger
    move. A repeated posting (a reload, a double click) answers the first: the form carries an
    idempotency key."""
    user = cast(User, request.user)
    params = request.POST if request.method == "POST" else request.GET
    tenant_id = _tenant_id(params.get("tenant", ""))
    query = request.GET.get("q", "").strip()[:100]
    context = _context(request, "credits", q=query)
    if tenant_id is None:
        if params.get("tenant"):
            return refusal_page(request, status=404, detail="There is no such tenant.")
        if query:
            with transaction.atomic(), _bypass(request, "credits tenant search"):
                context["matches"] = list(billing_selectors.platform_tenant_list(query=query)[:20])
        return render_page(request, "console/platform/credits.html", context)
    form = CreditPostForm(
        request.POST if request.method == "POST" else None,
        initial={"kind": TransactionKind.GRANT, "idempotency_key": uuid.uuid4().hex},
    )
    status = 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic(), scope(tenant=tenant_id):
                access = _gated(user, tenant_id, write=True)
                result = billing_services.credits_post(
                    tenant=access.tenant,
                    kind=data["kind"],
                    amount=data["amount"].strip(),
                    reason=data["reason"],
                    actor=user,
                    refund_of=data.get("refund_of"),
                    idempotency_key=data.get("idempotency_key") or None,
                )
        except (NotFound, PermissionDeniedError):
            return refusal_page(request, status=404, detail="There is no such tenant.")
        except IdempotencyKeyReused as exc:
            # This form was posted before with other values (a back button): a fresh form.
            fresh = request.POST.copy()
            fresh["idempotency_key"] = uuid.uuid4().hex
            form = CreditPostForm(fresh)
            form.is_valid()
            form.add_error(None, "This form was already posted with other values. Check them and post again.")
            status = exc.status_code
        except DomainError as exc:
            show_domain_error(form, exc, field=None)
            status = exc.status_code
        else:
            entry = result.json()
            label = dict(TransactionKind.choices)[entry["kind"]]
            prefix = "Already posted" if result.replayed else "Posted"
            messages.success(
                request,
                f"{prefix}: {label.lower()} of {amount(entry['amount'])} credits to {access.tenant.name}; "
                f"the balance is now {amount(entry['balance_after'])}.",
            )
            return redirect(f"{reverse('console:platform_credits')}?{urlencode({'tenant': str(tenant_id)})}")
    elif request.method == "POST":
        status = 400
    try:
        context.update(_tenant_credits(user, tenant_id), form=form)
    except (NotFound, PermissionDeniedError):
        return refusal_page(request, status=404, detail="There is no such tenant.")
    return render_page(request, "console/platform/credits.html", context, status=status)


urlpatterns = [
    path("platform/", dashboard, name="platform"),
    path("platform/tenants/", tenants, name="platform_tenants"),
    path("platform/tenants/<uuid:tenant_id>/status/", tenant_status, name="platform_tenant_status"),
    path("platform/users/", users, name="platform_users"),
    path("platform/users/<uuid:user_id>/unlock/", user_unlock, name="platform_user_unlock"),
    path("platform/credits/", credits, name="platform_credits"),
]
