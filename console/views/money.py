"""A tenant's credits (`/t/<id>/credits/`: balance, the ledger with the API's filters, a month's
CSV statement, the low-balance alerts) and audit log (`/t/<id>/audit/`: filtered, each entry
opening onto its old and new values). Both are append-only and large, so both page by cursor as
the API does (no COUNT, stable under inserts): `?before=` the next older page, `?after=` the
next newer one. Each page is a fixed number of queries, whatever the rows.
"""

from __future__ import annotations

import json
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, cast
from uuid import UUID

from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.http import urlencode

from audit import chain as audit_chain_check
from audit import export as audit_export_lines
from audit import selectors as audit_selectors
from audit import services as audit_services
from billing import selectors as billing_selectors
from billing.statements import statement_csv_lines
from console.access import render_page, tenant_page
from console.formatting import DASH
from console.forms_money import AuditFilterForm, LedgerFilterForm, PeriodForm, StatementForm
from console.views.overview import alerts_context
from core.access import TenantAccess

PAGE_SIZE = 50
MAX_SEQ_DIGITS = 18  # a bigint; longer cursors are not ours


# --- Cursor pages --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CursorPage:
    rows: list[Any]
    older: str | None  # the cursor of the next older page (`?before=`), None at the oldest
    newer: str | None  # the cursor of the next newer page (`?after=`), None at the newest
    query: str  # the filters, to carry over into the page links

    def _link(self, direction: str, cursor: str | None) -> str:
        if cursor is None:
            return ""
        params = urlencode({direction: cursor})
        return f"?{self.query}&{params}" if self.query else f"?{params}"

    @property
    def older_url(self) -> str:
        return self._link("before", self.older)

    @property
    def newer_url(self) -> str:
        return self._link("after", self.newer)

    @property
    def newest_url(self) -> str:
        return f"?{self.query}" if self.query else "?"


def cursor_page(
    qs: QuerySet[Any],
    request: HttpRequest,
    *,
    after_filter: Callable[[str], Q | None],
    before_filter: Callable[[str], Q | None],
    oldest_first: Iterable[str],
    cursor_of: Callable[[Any], str],
    query: str,
) -> CursorPage | None:
    """One page of `qs` (newest first) around the request's cursor; None when the cursor is not
    one of ours. One query."""
    before, after = request.GET.get("before", ""), request.GET.get("after", "")
    if after:
        condition = after_filter(after)
        if condition is None:
            return None
        found = list(qs.filter(condition).order_by(*oldest_first)[: PAGE_SIZE + 1])
        rows = list(reversed(found[:PAGE_SIZE]))
        more_newer = len(found) > PAGE_SIZE
        return CursorPage(
            rows=rows,
            older=cursor_of(rows[-1]) if rows else None,
            newer=cursor_of(rows[0]) if rows and more_newer else None,
            query=query,
        )
    if before:
        condition = before_filter(before)
        if condition is None:
            return None
        qs = qs.filter(condition)
    found = list(qs[: PAGE_SIZE + 1])
    rows = found[:PAGE_SIZE]
    return CursorPage(
        rows=rows,
        older=cursor_of(rows[-1]) if len(found) > PAGE_SIZE else None,
        newer=cursor_of(rows[0]) if before and rows else None,
        query=query,
    )


def _seq(value: str) -> int | None:
    return int(value) if value.isascii() and value.isdigit() and len(value) <= MAX_SEQ_DIGITS else None


def _seq_filter(lookup: str) -> Callable[[str], Q | None]:
    def condition(value: str) -> Q | None:
        seq = _seq(value)
        return None if seq is None else Q(**{f"seq__{lookup}": seq})

    return condition


def _ledger_cursor(entry: Any) -> str:
    return f"{entry.occurred_at.isoformat()}~{entry.seq}"


def _ledger_filter(lookup: str) -> Callable[[str], Q | None]:
    """Entries strictly after (`gt`) or before (`lt`) the cursor in (occurred_at, seq) order."""

    def condition(value: str) -> Q | None:
        stamp, _, seq_text = value[:100].partition("~")
        seq = _seq(seq_text)
        try:
            moment = datetime.fromisoformat(stamp)
        except ValueError:
            return None
        if moment.tzinfo is None or seq is None:
            return None
        return Q(**{f"occurred_at__{lookup}": moment}) | Q(occurred_at=moment, **{f"seq__{lookup}": seq})

    return condition


def _audit_cursor(entry: Any) -> str:
    return f"{entry.created_at.isoformat()}~{entry.pk}"


def _audit_filter(lookup: str) -> Callable[[str], Q | None]:
    """Entries strictly after (`gt`) or before (`lt`) the cursor in (created_at, id) order."""

    def condition(value: str) -> Q | None:
        stamp, _, entry_id = value[:100].partition("~")
        try:
            moment = datetime.fromisoformat(stamp)
            pk = UUID(entry_id)
        except ValueError:
            return None
        if moment.tzinfo is None:
            return None
        return Q(**{f"created_at__{lookup}": moment}) | Q(created_at=moment, **{f"id__{lookup}": pk})

    return condition


# --- Filters ------------------------------------------------------------------------------------


def _filters_of(request: HttpRequest, form_class: type[PeriodForm]) -> tuple[PeriodForm, str]:
    """The filter form bound to the query string (bound only when a filter is given, so that
    an unfiltered page shows no errors), and the filters as a query string for page links."""
    names = list(form_class.base_fields)
    given = {name: request.GET.get(name, "") for name in names if request.GET.get(name, "")}
    form = form_class(given) if given else form_class()
    return form, urlencode(given)


def period_bounds(form: PeriodForm, tz_name: str) -> tuple[datetime | None, datetime | None]:
    """[start, end) of a valid period form's days (the end day included), in the time zone."""
    tz = zoneinfo.ZoneInfo(tz_name)
    start_day: date | None = form.cleaned_data.get("start")
    end_day: date | None = form.cleaned_data.get("end")
    start = datetime.combine(start_day, time.min, tzinfo=tz) if start_day else None
    end = datetime.combine(end_day + timedelta(days=1), time.min, tzinfo=tz) if end_day else None
    return start, end


BAD_CURSOR = "That page link is not one of ours: here is the newest page."


# --- Credits -------------------------------------------------------------------------------------


# An entry posted this long after (or before) what it records happened shows its posting time too.
POSTED_APART = timedelta(minutes=5)


def _ledger_page(access: TenantAccess, request: HttpRequest) -> dict[str, Any]:
    """The ledger by when things happened (`occurred_at`: usage at the hour it was used, as
    the spend charts place it, however late its runtime reported it), newest first; each row
    says when it was posted where that differs (`posted_apart`)."""
    form, query = _filters_of(request, LedgerFilterForm)
    context: dict[str, Any] = {"filters": form, "filtered": bool(query)}
    if form.is_bound and not form.is_valid():
        context["page"] = CursorPage(rows=[], older=None, newer=None, query=query)
        return context
    data = form.cleaned_data if form.is_bound else {}
    start, end = period_bounds(form, access.tenant.timezone) if form.is_bound else (None, None)
    qs = billing_selectors.transaction_list_filtered(
        tenant=access.tenant,
        kind=data.get("kind", ""),
        model=data.get("model", ""),
        start=start,
        end=end,
        by_occurrence=True,
    )
    page_kwargs: dict[str, Any] = {
        "after_filter": _ledger_filter("gt"),
        "before_filter": _ledger_filter("lt"),
        "oldest_first": ("occurred_at", "seq"),
        "cursor_of": _ledger_cursor,
        "query": query,
    }
    page = cursor_page(qs, request, **page_kwargs)
    if page is None:
        context["cursor_error"] = BAD_CURSOR
        page = cursor_page(qs, _without_cursor(request), **page_kwargs)
    assert page is not None  # without a cursor there is always a page
    for row in page.rows:
        row.posted_apart = abs(row.created_at - row.occurred_at) >= POSTED_APART
    context["page"] = page
    return context


def _without_cursor(request: HttpRequest) -> HttpRequest:
    params = request.GET.copy()
    params.pop("before", None)
    params.pop("after", None)
    request.GET = QueryDict(params.urlencode())
    return request


@tenant_page("credits:read")
def credits(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    """Balance, the ledger, statements, low-balance alerts. htmx (the ledger's filters and
    pages): the ledger panel alone."""
    tenant = access.tenant
    if wants_fragment(request):
        ledger = _ledger_page(access, request)
        status = 400 if ledger["filters"].errors else 200
        return render_page(request, "console/money/credits.html#ledger", ledger, access=access, status=status)
    summary = billing_selectors.credit_summary(tenant=tenant)
    context = {
        "summary": summary,
        "statement_form": StatementForm(initial={"month": _this_month(tenant.timezone)}),
        **_ledger_page(access, request),
        **alerts_context(access, thresholds=summary.thresholds),
    }
    status = 400 if context["filters"].errors else 200
    return render_page(request, "console/money/credits.html", context, access=access, status=status)


def wants_fragment(request: HttpRequest) -> bool:
    """An htmx request for a panel (not htmx restoring a page from its history: that one needs
    the whole page)."""
    details = getattr(request, "htmx", None)
    return bool(details) and not details.history_restore_request  # type: ignore[union-attr]


def _this_month(tz_name: str) -> str:
    return datetime.now(zoneinfo.ZoneInfo(tz_name)).strftime("%Y-%m")


@tenant_page("credits:read")
def credits_statement(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    """A month's ledger as CSV (the API's statement: opening balance, entries, closing balance),
    streamed; a bad month shows the credits page with the error in place."""
    tenant = access.tenant
    form = StatementForm(request.GET)
    if not form.is_valid():
        summary = billing_selectors.credit_summary(tenant=tenant)
        context = {
            "summary": summary,
            "statement_form": form,
            **_ledger_page(access, _without_cursor(request)),
            **alerts_context(access, thresholds=summary.thresholds),
        }
        return render_page(request, "console/money/credits.html", context, access=access, status=400)
    first: date = form.cleaned_data["month"]
    following = (first + timedelta(days=32)).replace(day=1)
    tz = zoneinfo.ZoneInfo(tenant.timezone)
    start = datetime.combine(first, time.min, tzinfo=tz)
    end = datetime.combine(following, time.min, tzinfo=tz)
    response = StreamingHttpResponse(
        statement_csv_lines(tenant.pk, start, end), content_type="text/csv; charset=utf-8"
    )
    last_day = following - timedelta(days=1)
    response["Content-Disposition"] = f'attachment; filename="statement-{tenant.slug}-{first}-{last_day}.csv"'
    return cast(HttpResponse, response)  # the guard passes any response on; this one streams


# --- Audit log -----------------------------------------------------------------------------------


def _value(value: Any) -> str:
    if value is None or value == "":
        return DASH
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def entry_changes(details: dict[str, Any]) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """An entry's details for reading: its changes as (field, old, new) and the rest as
    (name, value); values of lists and objects as compact JSON."""
    details = details if isinstance(details, dict) else {"details": details}
    changed = details.get("changes")
    rows: list[tuple[str, str, str]] = []
    if isinstance(changed, dict):
        for name, change in changed.items():
            if isinstance(change, dict) and set(change) <= {"old", "new"}:
                rows.append((str(name), _value(change.get("old")), _value(change.get("new"))))
    rest = [(str(name), _value(value)) for name, value in details.items() if not (name == "changes" and rows)]
    return rows, rest


def _audit_queryset(access: TenantAccess, form: PeriodForm) -> QuerySet[Any]:
    """The entries a valid (or unbound) filter form asks for."""
    data = form.cleaned_data if form.is_bound else {}
    start, end = period_bounds(form, access.tenant.timezone) if form.is_bound else (None, None)
    return audit_selectors.audit_log_filtered(
        tenant=access.tenant,
        actor=data.get("actor", "").strip(),
        action=data.get("action", "").strip(),
        target_type=data.get("target_type", "").strip(),
        start=start,
        end=end,
    )


@tenant_page("audit:read")
def audit_export(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    """The entries the page's filters select, as JSON Lines in chain order with their hashes
    (what the API's export sends), streamed; the export is itself recorded. Bad filters: the
    page with the error in place."""
    form, query = _filters_of(request, AuditFilterForm)
    if form.is_bound and not form.is_valid():
        return redirect(f"{reverse('console:audit', kwargs={'tenant_id': access.tenant.pk})}?{query}")
    audit_services.audit_log_exported(tenant=access.tenant, filters=dict(form.data.items()))
    lines = audit_export_lines.jsonl_stream(tenant=access.tenant, queryset=_audit_queryset(access, form))
    response = StreamingHttpResponse(lines, content_type="application/x-ndjson; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-{access.tenant.slug}.jsonl"'
    return cast(HttpResponse, response)  # the guard passes any response on; this one streams


@tenant_page("audit:read")
def audit_chain(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    """Verify the tenant's hash chain now (every entry is re-hashed in the database: on demand,
    not on every view of the log) and show its state; htmx: the panel alone."""
    results = audit_chain_check.verify_chains(tenant=access.tenant, only=True)
    context = {
        # No entries yet: nothing to break (an empty chain is whole).
        "chain": results[0] if results else audit_chain_check.ChainResult(chain=str(access.tenant.pk)),
        "archive": audit_selectors.audit_archive_latest(tenant=access.tenant),
    }
    template = (
        "console/money/audit.html#chain" if wants_fragment(request) else "console/money/audit_chain.html"
    )
    return render_page(request, template, context, access=access)


@tenant_page("audit:read")
def audit(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    """The tenant's audit log, newest first, with filters; each entry opens onto its details.
    htmx (the filters and pages): the entries panel alone."""
    form, query = _filters_of(request, AuditFilterForm)
    context: dict[str, Any] = {"filters": form, "filtered": bool(query)}
    status = 200
    if form.is_bound and not form.is_valid():
        page = CursorPage(rows=[], older=None, newer=None, query=query)
        status = 400
    else:
        qs = _audit_queryset(access, form)
        page_kwargs: dict[str, Any] = {
            "after_filter": _audit_filter("gt"),
            "before_filter": _audit_filter("lt"),
            "oldest_first": ("created_at", "id"),
            "cursor_of": _audit_cursor,
            "query": query,
        }
        found = cursor_page(qs, request, **page_kwargs)
        if found is None:
            context["cursor_error"] = BAD_CURSOR
            found = cursor_page(qs, _without_cursor(request), **page_kwargs)
        assert found is not None  # no cursor: always a page
        page = found
    context["page"] = page
    context["entries"] = [(entry, *entry_changes(entry.details)) for entry in page.rows]
    template = "console/money/audit.html#entries" if wants_fragment(request) else "console/money/audit.html"
    return render_page(request, template, context, access=access, status=status)


urlpatterns = [
    path("t/<uuid:tenant_id>/credits/", credits, name="credits"),
    path("t/<uuid:tenant_id>/credits/statement.csv", credits_statement, name="credits_statement"),
    path("t/<uuid:tenant_id>/audit/", audit, name="audit"),
    path("t/<uuid:tenant_id>/audit/export.jsonl", audit_export, name="audit_export"),
    path("t/<uuid:tenant_id>/audit/chain/", audit_chain, name="audit_chain"),
]
