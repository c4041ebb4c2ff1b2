"""Statements (a period's ledger as streamed CSV) and spend (usage grouped by model, agent,
session or day), over periods in the tenant's time zone."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, time, timedelta
from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from billing import selectors
from billing.api.common import credit_field
from billing.errors import invalid
from billing.statements import statement_csv_lines
from core.api import TenantScopedApi
from core.hygiene import DecimalField
from core.serializers import StrictSerializer
from tenants.models import Tenant

# Periods asked for by a client lie in this range: far enough for any statement, near enough
# that every computed bound (the month after, a day's end in any time zone) is a valid date.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2999, 12, 31)
RANGE_MESSAGE = f"Between {FIRST_DAY} and {LAST_DAY}."


def _day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise invalid(name, "A date (YYYY-MM-DD) is required.") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise invalid(name, RANGE_MESSAGE)
    return day


def _period(
    request: Request, tenant: Tenant, *, default_days: int | None
) -> tuple[datetime, datetime, date, date]:
    """[start, end) from `start`/`end` dates or `month` (YYYY-MM), in the tenant's time zone.

    Default: the current month (default_days None) or the last `default_days` days.
    """
    tz = zoneinfo.ZoneInfo(tenant.timezone)
    today = timezone.localtime(timezone.now(), tz).date()
    month = request.query_params.get("month")
    if month:
        try:
            first = date.fromisoformat(f"{month}-01")
        except ValueError:
            raise invalid("month", "A month (YYYY-MM) is required.") from None
        if not FIRST_DAY <= first <= LAST_DAY:
            raise invalid("month", RANGE_MESSAGE)
        start_day = first
        end_day = (first + timedelta(days=32)).replace(day=1)
    else:
        start_day = _day(request.query_params.get("start"), "start") or (
            today.replace(day=1) if default_days is None else today - timedelta(days=default_days - 1)
        )
        end_day = _day(request.query_params.get("end"), "end") or max(
            today + timedelta(days=1), start_day + timedelta(days=1)
        )
    if end_day <= start_day:
        raise invalid("end", "The end (exclusive) must come after the start.")
    start = datetime.combine(start_day, time.min, tzinfo=tz)
    end = datetime.combine(end_day, time.min, tzinfo=tz)
    return start, end, start_day, end_day


PERIOD_PARAMETERS = [
    OpenApiParameter(
        "start", OpenApiTypes.DATE, OpenApiParameter.QUERY, description="First day (tenant's time zone)."
    ),
    OpenApiParameter(
        "end", OpenApiTypes.DATE, OpenApiParameter.QUERY, description="Day after the last (exclusive)."
    ),
    OpenApiParameter(
        "month", str, OpenApiParameter.QUERY, description="YYYY-MM: that calendar month instead."
    ),
]


class CreditStatementApi(TenantScopedApi):
    """A period's ledger as CSV: opening balance, every entry, closing balance; streamed."""

    permission_map = {"GET": "credits:read"}

    @extend_schema(
        parameters=PERIOD_PARAMETERS,
        responses={(200, "text/csv"): OpenApiTypes.STR},
        operation_id="credits_statement_csv",
    )
    def get(self, request: Request, tenant_id: Any) -> StreamingHttpResponse:
        start, end, start_day, end_day = _period(request, self.tenant, default_days=None)
        response = StreamingHttpResponse(
            statement_csv_lines(self.tenant.pk, start, end), content_type="text/csv; charset=utf-8"
        )
        last_day = end_day - timedelta(days=1)
        response["Content-Disposition"] = (
            f'attachment; filename="statement-{self.tenant.slug}-{start_day}-{last_day}.csv"'
        )
        return response


class CreditSpendApi(TenantScopedApi):
    """Usage by model, agent, session or day, over a period (default: the last 30 days)."""

    permission_map = {"GET": "credits:read"}

    class SpendRowOutput(StrictSerializer):
        key = serializers.CharField(allow_null=True, help_text="The model, agent id, session id or day.")
        credits = credit_field()
        shadow_credits = credit_field(help_text="Unlimited accounts' would-be charges.")
        provider_cost_usd = DecimalField(max_digits=24, decimal_places=12)
        input_tokens = serializers.IntegerField()
        output_tokens = serializers.IntegerField()
        events = serializers.IntegerField()

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "group_by",
                str,
                OpenApiParameter.QUERY,
                enum=list(selectors.SPEND_GROUPS),
                description="Default: model.",
            ),
            *PERIOD_PARAMETERS,
        ],
        responses=inline_serializer(
            "CreditSpendOutput",
            {
                "group_by": serializers.CharField(),
                "start": serializers.DateField(),
                "end": serializers.DateField(),
                "results": SpendRowOutput(many=True),
            },
        ),
        operation_id="credits_spend",
    )
    def get(self, request: Request, tenant_id: Any) -> Response:
        group_by = request.query_params.get("group_by", "model")
        if group_by not in selectors.SPEND_GROUPS:
            raise invalid("group_by", f"One of {', '.join(selectors.SPEND_GROUPS)}.")
        start, end, start_day, end_day = _period(request, self.tenant, default_days=30)
        rows = selectors.spend(
            tenant=self.tenant, group_by=group_by, start=start, end=end, tz=self.tenant.timezone
        )
        for row in rows:
            row["key"] = None if row["key"] is None else str(row["key"])
        return Response(
            {
                "group_by": group_by,
                "start": start_day.isoformat(),
                "end": end_day.isoformat(),
                "results": self.SpendRowOutput(rows, many=True).data,
            }
        )
