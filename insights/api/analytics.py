"""Daily analytics over HTTP: the platform's (platform staff) and a tenant's (`analytics:read`).

Both take `from` and `to` (YYYY-MM-DD, UTC days, both included; default the last 30 days, at
most 366 days apart), each given once, and answer the days that have a row, oldest first,
paginated. Rows are written by the roll-up (`manage.py rollup_analytics`, the periodic task).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from billing.models import USD_DIGITS, USD_PLACES
from core.api import PLATFORM_STAFF, PlatformApi, TenantScopedApi
from core.errors import InvalidInput
from core.serializers import StrictSerializer
from core.tenancy import platform_bypass
from insights import selectors
from insights.models import DailyAnalytics

DEFAULT_DAYS = 30
MAX_DAYS = 366
_FORMAT = "%Y-%m-%d"


class DailyAnalyticsOutput(serializers.ModelSerializer[DailyAnalytics]):
    margin_usd = serializers.DecimalField(
        max_digits=USD_DIGITS + 1,
        decimal_places=USD_PLACES,
        read_only=True,
        help_text="Credits charged minus what the providers cost (a credit is priced in US dollars).",
    )

    class Meta:
        model = DailyAnalytics
        fields = [
            "date",
            "tenant_id",
            "active_users",
            "new_users",
            "sessions_started",
            "sessions_completed",
            "sessions_failed",
            "input_tokens",
            "output_tokens",
            "provider_cost_usd",
            "credits_charged",
            "credits_granted",
            "margin_usd",
            "errors",
            "avg_session_seconds",
        ]


class _DailyRange(StrictSerializer):
    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        end = attrs.get("to") or datetime.now(UTC).date()
        try:
            start = attrs.get("from") or end - timedelta(days=DEFAULT_DAYS - 1)
        except OverflowError:  # `to` in the first days of year 1: no default range before it
            raise serializers.ValidationError({"to": ["Too early a date."]}, code="invalid_range") from None
        if end < start:
            raise serializers.ValidationError({"to": ["Before `from`."]}, code="invalid_range")
        if (end - start).days + 1 > MAX_DAYS:
            raise serializers.ValidationError(
                {"to": [f"At most {MAX_DAYS} days from `from`, both included."]}, code="range_too_long"
            )
        return {"start": start, "end": end}


# `from` is a Python keyword, so the fields are given to the serializer's metaclass by name.
DailyRangeInput: type[_DailyRange] = type(
    "DailyRangeInput",
    (_DailyRange,),
    {
        "__module__": __name__,
        "from": serializers.DateField(required=False, input_formats=[_FORMAT]),
        "to": serializers.DateField(required=False, input_formats=[_FORMAT]),
    },
)

_PARAMETERS = [
    OpenApiParameter(
        "from", OpenApiTypes.DATE, OpenApiParameter.QUERY, description="First day (UTC), included."
    ),
    OpenApiParameter(
        "to", OpenApiTypes.DATE, OpenApiParameter.QUERY, description="Last day (UTC), included."
    ),
]


def _range(request: Request) -> tuple[date, date]:
    """`from` and `to` from the query string: each at most once, strictly YYYY-MM-DD."""
    raw: dict[str, str] = {}
    for name in ("from", "to"):
        values = request.query_params.getlist(name)
        if len(values) > 1:
            raise InvalidInput(
                "Some parameters are invalid.", code="validation_error", errors={name: ["Give it once."]}
            )
        if values:
            raw[name] = values[0]
    data = DailyRangeInput(data=raw)
    data.is_valid(raise_exception=True)
    return data.validated_data["start"], data.validated_data["end"]


class PlatformDailyAnalyticsApi(PlatformApi):
    """The whole platform's daily figures (every tenant together), oldest first."""

    permission_map = {"GET": PLATFORM_STAFF}

    @extend_schema(
        responses=DailyAnalyticsOutput(many=True),
        parameters=_PARAMETERS,
        operation_id="platform_analytics_daily",
    )
    def get(self, request: Request) -> Response:
        start, end = _range(request)
        with platform_bypass(reason="platform daily analytics", actor=self.user, log=False):
            return self.paginated(
                selectors.daily_analytics_list(tenant=None, start=start, end=end), DailyAnalyticsOutput
            )


class TenantDailyAnalyticsApi(TenantScopedApi):
    """The tenant's daily figures, oldest first."""

    permission_map = {"GET": "analytics:read"}

    @extend_schema(
        responses=DailyAnalyticsOutput(many=True),
        parameters=_PARAMETERS,
        operation_id="tenant_analytics_daily",
    )
    def get(self, request: Request, tenant_id: Any) -> Response:
        start, end = _range(request)
        return self.paginated(
            selectors.daily_analytics_list(tenant=self.tenant, start=start, end=end), DailyAnalyticsOutput
        )
