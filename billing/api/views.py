"""Billing over HTTP: credits, the ledger, statements, spend, usage charges and reservations.

Views parse, call a service or selector, render. The idempotent writes (usage, batch,
reservations, staff transactions) answer with the exact bytes the service stored (or replays),
so they return a plain HttpResponse; the serializers below describe those bodies for the
OpenAPI schema and render the reads.
"""

from __future__ import annotations

import csv
import zoneinfo
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import django_filters
from django.db import transaction
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from billing import selectors, services
from billing.errors import invalid
from billing.models import (
    CreditTransaction,
    LowBalanceThreshold,
    ModelPrice,
    Plan,
    Reservation,
    ReservationStatus,
    Subscription,
    SubscriptionStatus,
    TransactionKind,
)
from billing.services.common import ApiResult, fmt
from core.api import PLATFORM_ADMIN, PLATFORM_STAFF, BaseApi, TenantScopedApi, filter_parameters
from core.errors import InvalidInput
from core.hygiene import DecimalField, PartwiseJSONParser
from core.pagination import CursorPagination
from core.tenancy import tenant_context


def credit_field(**kwargs: Any) -> serializers.DecimalField:
    """A credit amount in the API: 6 decimals, a string in JSON."""
    return DecimalField(max_digits=20, decimal_places=6, **kwargs)


IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description=(
        "A unique value per request (a UUID will do). A retry with the same key and the same "
        "request gets the first answer again, byte for byte, and is never charged twice; the same "
        "key with a different request is refused (409 idempotency_key_reused). Keys are scoped to "
        "the tenant. May also be sent as `idempotency_key` in the body."
    ),
)
REPLAYED_HEADER = "Idempotent-Replayed"
ERRORS = {
    400: OpenApiResponse(
        description="Invalid fields, a missing Idempotency-Key, or a model without a price."
    ),
    402: OpenApiResponse(description="insufficient_credits: nothing was written."),
    409: OpenApiResponse(description="idempotency_key_reused, or the reservation is closed."),
}


def _respond(result: ApiResult) -> HttpResponse:
    """The stored bytes, as they are: a replay is identical to the first answer."""
    response = HttpResponse(result.body, status=result.status_code, content_type="application/json")
    if result.replayed:
        response[REPLAYED_HEADER] = "true"
    return response


def _body(request: Request) -> dict[str, Any]:
    data = request.data
    if not isinstance(data, dict):
        raise invalid("non_field_errors", "A JSON object is required.")
    return data


def _idempotency_key(request: Request, data: dict[str, Any]) -> str | None:
    header = request.headers.get("Idempotency-Key")
    body = data.get("idempotency_key")
    if header and body and header != body:
        raise invalid(
            "idempotency_key", "The body's idempotency_key differs from the Idempotency-Key header."
        )
    if body is not None and not isinstance(body, str):
        raise invalid("idempotency_key", "A string is required.")
    return header or body


# --- Outputs (reads, and the schema of the idempotent writes' bodies) --------------------------


class CreditTransactionOutput(serializers.ModelSerializer[CreditTransaction]):
    amount = credit_field()
    balance_after = credit_field()
    session_id = serializers.UUIDField(source="agent_session_id", allow_null=True)
    refund_of = serializers.UUIDField(source="refund_of_id", allow_null=True)
    reservation_id = serializers.UUIDField(allow_null=True)

    class Meta:
        model = CreditTransaction
        fields = [
            "id",
            "kind",
            "amount",
            "provider_cost_usd",
            "markup_multiplier",
            "model",
            "input_tokens",
            "output_tokens",
            "agent_id",
            "session_id",
            "reservation_id",
            "refund_of",
            "idempotency_key",
            "description",
            "metadata",
            "occurred_at",
            "created_at",
            "balance_after",
        ]


class ReservationOutput(serializers.ModelSerializer[Reservation]):
    session_id = serializers.UUIDField(source="agent_session_id", allow_null=True)

    class Meta:
        model = Reservation
        fields = [
            "id",
            "status",
            "amount",
            "settled_amount",
            "expires_at",
            "model",
            "agent_id",
            "session_id",
            "description",
            "idempotency_key",
            "created_at",
            "closed_at",
        ]


class ReservationSettledOutput(serializers.Serializer):
    reservation = ReservationOutput()
    transaction = CreditTransactionOutput()


class PlanOutput(serializers.ModelSerializer[Plan]):
    code = serializers.CharField(help_text="starter, growth or enterprise (the tenant's plan).")

    class Meta:
        model = Plan
        fields = [
            "code",
            "name",
            "description",
            "monthly_price",
            "included_monthly_credits",
            "max_agents",
            "max_members",
            "markup_multiplier",
            "features",
        ]


class SubscriptionOutput(serializers.ModelSerializer[Subscription]):
    plan = PlanOutput()
    agent_slots = serializers.IntegerField()
    markup_multiplier = serializers.SerializerMethodField()

    class Meta:
        model = Subscription
        fields = [
            "id",
            "plan",
            "status",
            "current_period_start",
            "current_period_end",
            "purchased_agent_slots",
            "agent_slots",
            "markup_multiplier_override",
            "markup_multiplier",
            "canceled_at",
        ]

    def get_markup_multiplier(self, obj: Subscription) -> str:
        return fmt(obj.markup_multiplier_override or obj.plan.markup_multiplier) or ""


class ThresholdOutput(serializers.ModelSerializer[LowBalanceThreshold]):
    class Meta:
        model = LowBalanceThreshold
        fields = ["id", "threshold", "below", "last_crossed_at", "alerts_sent", "created_at"]


class CreditSummaryOutput(serializers.Serializer):
    balance = credit_field()
    held = credit_field(help_text="Credits held by open reservations.")
    overdraft_limit = credit_field()
    available = credit_field(help_text="What new charges and holds may use: balance - held + overdraft.")
    unlimited = serializers.BooleanField()
    burn_rate_per_day = credit_field(help_text="Usage per day over the last 7 days.")
    runway_days = DecimalField(
        max_digits=20, decimal_places=1, allow_null=True, help_text="Days left at that rate; null: never."
    )
    markup_multiplier = DecimalField(max_digits=8, decimal_places=4)
    subscription = SubscriptionOutput(allow_null=True)
    thresholds = ThresholdOutput(many=True)


class PriceOutput(serializers.ModelSerializer[ModelPrice]):
    class Meta:
        model = ModelPrice
        fields = ["provider", "model", "tier", "input_usd_per_mtok", "output_usd_per_mtok", "effective_from"]


# --- Credits ------------------------------------------------------------------------------------


class CreditSummaryApi(TenantScopedApi):
    """The tenant's credits: balance, holds, available, burn rate and runway, plan, thresholds."""

    permission_map = {"GET": "credits:read", "PATCH": PLATFORM_ADMIN}

    class CreditAccountUpdateInput(serializers.Serializer):
        unlimited = serializers.BooleanField(required=False)
        overdraft_limit = credit_field(required=False, min_value=0)

    def _render(self) -> Response:
        summary = selectors.credit_summary(tenant=self.tenant)
        return Response(
            CreditSummaryOutput(
                {
                    "balance": summary.balance,
                    "held": summary.held,
                    "overdraft_limit": summary.overdraft_limit,
                    "available": summary.available,
                    "unlimited": summary.unlimited,
                    "burn_rate_per_day": summary.burn_rate_per_day,
                    "runway_days": summary.runway_days,
                    "markup_multiplier": summary.markup_multiplier,
                    "subscription": summary.subscription,
                    "thresholds": summary.thresholds,
                }
            ).data
        )

    @extend_schema(responses=CreditSummaryOutput, operation_id="credits_get")
    def get(self, request: Request, tenant_id: Any) -> Response:
        return self._render()

    @extend_schema(
        request=CreditAccountUpdateInput, responses=CreditSummaryOutput, operation_id="credits_account_update"
    )
    def patch(self, request: Request, tenant_id: Any) -> Response:
        data = self.CreditAccountUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.credit_account_update(tenant=self.tenant, actor=request.user, **data.validated_data)
        return self._render()


class CreditTransactionFilter(django_filters.FilterSet):
    kind = django_filters.MultipleChoiceFilter(choices=TransactionKind.choices)
    model = django_filters.CharFilter()
    agent_id = django_filters.UUIDFilter()
    session_id = django_filters.UUIDFilter(field_name="agent_session_id")
    reservation_id = django_filters.UUIDFilter()
    idempotency_key = django_filters.CharFilter()
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = CreditTransaction
        fields: list[str] = []


class LedgerPagination(CursorPagination):
    """The ledger by seq, newest first: the order the balance moved in, stable under inserts."""

    ordering = ("-seq",)  # type: ignore[assignment]  # one field: seq is unique


def _filtered(filterset_class: Any, request: Request, queryset: Any) -> Any:
    filterset = filterset_class(request.query_params, queryset=queryset)
    if not filterset.is_valid():
        raise InvalidInput(
            "Some filters are invalid.",
            code="validation_error",
            errors={k: [str(m) for m in v] for k, v in filterset.errors.items()},
        )
    return filterset.qs


class CreditTransactionListCreateApi(TenantScopedApi):
    """The ledger (cursor-paginated, filtered); platform staff grant, top up, refund, adjust."""

    permission_map = {"GET": "credits:read", "POST": PLATFORM_STAFF}
    pagination_class = LedgerPagination

    class CreditTransactionCreateInput(serializers.Serializer):
        kind = serializers.ChoiceField(
            choices=[
                TransactionKind.GRANT,
                TransactionKind.TOPUP,
                TransactionKind.REFUND,
                TransactionKind.ADJUSTMENT,
            ]
        )
        amount = credit_field(help_text="Credits; positive, except an adjustment, which may be negative.")
        reason = serializers.CharField(
            max_length=1000, help_text="Required; kept in the ledger and audit log."
        )
        refund_of = serializers.UUIDField(required=False, help_text="The usage entry a refund refunds.")
        idempotency_key = serializers.CharField(required=False, max_length=255)

    @extend_schema(
        responses=CreditTransactionOutput(many=True),
        parameters=filter_parameters(CreditTransactionFilter),
        operation_id="credit_transactions_list",
    )
    def get(self, request: Request, tenant_id: Any) -> Response:
        qs = _filtered(CreditTransactionFilter, request, selectors.transaction_list(tenant=self.tenant))
        return self.paginated(qs, CreditTransactionOutput)

    @extend_schema(
        request=CreditTransactionCreateInput,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: CreditTransactionOutput, **ERRORS},
        operation_id="credit_transactions_create",
    )
    def post(self, request: Request, tenant_id: Any) -> HttpResponse:
        data = self.CreditTransactionCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        fields.pop("idempotency_key", None)
        result = services.credits_post(
            tenant=self.tenant,
            actor=request.user,
            idempotency_key=_idempotency_key(request, _body(request)),
            **fields,
        )
        return _respond(result)


class CreditTransactionDetailApi(TenantScopedApi):
    permission_map = {"GET": "credits:read"}

    @extend_schema(responses=CreditTransactionOutput, operation_id="credit_transaction_get")
    def get(self, request: Request, tenant_id: Any, transaction_id: Any) -> Response:
        entry = self.get_or_404(selectors.transaction_list(tenant=self.tenant), pk=transaction_id)
        return Response(CreditTransactionOutput(entry).data)


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
    request: Request, tenant: Any, *, default_days: int | None
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


class _Echo:
    """csv.writer's file: hand each written line back instead of keeping it."""

    def write(self, value: str) -> str:
        return value


def _statement_lines(tenant_id: Any, start: datetime, end: datetime) -> Iterator[str]:
    # Runs after the view has returned, while the response streams: the request's transaction
    # and tenant context are gone, so the generator opens its own (a server-side cursor needs a
    # transaction, and row-level security needs the tenant's context).
    writer = csv.writer(_Echo())
    yield writer.writerow(["row", *selectors.STATEMENT_COLUMNS])
    with transaction.atomic(), tenant_context(tenant_id):
        balance = selectors.statement_opening_balance(tenant=tenant_id, start=start)
        yield writer.writerow(["opening_balance", "", start.isoformat(), "", "", "", fmt(balance)])
        for row in selectors.statement_rows(tenant=tenant_id, start=start, end=end):
            values = ["" if v is None else (fmt(v) if hasattr(v, "as_tuple") else v) for v in row]
            values[1], values[2] = row[1].isoformat(), row[2].isoformat()
            balance = row[5]
            yield writer.writerow(["entry", *values])
        yield writer.writerow(["closing_balance", "", end.isoformat(), "", "", "", fmt(balance)])


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
            _statement_lines(self.tenant.pk, start, end), content_type="text/csv; charset=utf-8"
        )
        last_day = end_day - timedelta(days=1)
        response["Content-Disposition"] = (
            f'attachment; filename="statement-{self.tenant.slug}-{start_day}-{last_day}.csv"'
        )
        return response


class CreditSpendApi(TenantScopedApi):
    """Usage by model, agent, session or day, over a period (default: the last 30 days)."""

    permission_map = {"GET": "credits:read"}

    class SpendRowOutput(serializers.Serializer):
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


class ThresholdListCreateApi(TenantScopedApi):
    """Low-balance thresholds: each alerts (audit entry billing.low_balance) once per crossing."""

    permission_map = {"GET": "credits:read", "POST": "credits:admin"}
    # A bare array, not a page: an account has at most ten (billing.services.credits.MAX_THRESHOLDS).
    pagination_class = None

    class ThresholdCreateInput(serializers.Serializer):
        threshold = credit_field(min_value=0)

    @extend_schema(responses=ThresholdOutput(many=True), operation_id="credit_thresholds_list")
    def get(self, request: Request, tenant_id: Any) -> Response:
        return Response(ThresholdOutput(selectors.threshold_list(tenant=self.tenant), many=True).data)

    @extend_schema(
        request=ThresholdCreateInput,
        responses={201: ThresholdOutput},
        operation_id="credit_thresholds_create",
    )
    def post(self, request: Request, tenant_id: Any) -> Response:
        data = self.ThresholdCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        row = services.threshold_create(tenant=self.tenant, actor=request.user, **data.validated_data)
        return Response(ThresholdOutput(row).data, status=status.HTTP_201_CREATED)


class ThresholdDetailApi(TenantScopedApi):
    permission_map = {"DELETE": "credits:admin"}

    @extend_schema(responses={204: None}, operation_id="credit_threshold_delete")
    def delete(self, request: Request, tenant_id: Any, threshold_id: Any) -> Response:
        row = self.get_or_404(selectors.threshold_list(tenant=self.tenant), pk=threshold_id)
        services.threshold_delete(threshold=row, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SubscriptionApi(TenantScopedApi):
    """The tenant's plan and period; platform staff change plan, status, slots and markup."""

    permission_map = {"GET": "credits:read", "PATCH": PLATFORM_STAFF}

    class SubscriptionUpdateInput(serializers.Serializer):
        plan = serializers.SlugField(required=False)
        status = serializers.ChoiceField(choices=SubscriptionStatus.choices, required=False)
        purchased_agent_slots = serializers.IntegerField(required=False, min_value=0, max_value=100_000)
        markup_multiplier_override = DecimalField(
            max_digits=8,
            decimal_places=4,
            required=False,
            allow_null=True,
            min_value=Decimal("0.1"),
            max_value=Decimal(100),
        )

    def _get(self) -> Subscription:
        found = selectors.subscription_get(tenant=self.tenant)
        if found is None:
            from core.errors import NotFound

            raise NotFound("This tenant has no subscription.")
        return found

    @extend_schema(responses=SubscriptionOutput, operation_id="subscription_get")
    def get(self, request: Request, tenant_id: Any) -> Response:
        return Response(SubscriptionOutput(self._get()).data)

    @extend_schema(
        request=SubscriptionUpdateInput, responses=SubscriptionOutput, operation_id="subscription_update"
    )
    def patch(self, request: Request, tenant_id: Any) -> Response:
        data = self.SubscriptionUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.subscription_update(tenant=self.tenant, actor=request.user, data=dict(data.validated_data))
        return Response(SubscriptionOutput(self._get()).data)


# --- Usage ----------------------------------------------------------------------------------------


class UsageInput(serializers.Serializer):
    """A usage report (for the schema; parsed by billing.services.usage_event, as batch events)."""

    model = serializers.CharField(
        max_length=100, help_text="A model with a price in force, e.g. claude-sonnet-4-5."
    )
    input_tokens = serializers.IntegerField(min_value=0)
    output_tokens = serializers.IntegerField(min_value=0)
    agent_id = serializers.UUIDField(required=False, allow_null=True)
    session_id = serializers.UUIDField(required=False, allow_null=True)
    occurred_at = serializers.DateTimeField(
        required=False, help_text="When the usage happened (default now); the price in force then applies."
    )
    description = serializers.CharField(required=False, allow_blank=True, max_length=1000)
    metadata = serializers.JSONField(required=False)


class UsageChargeApi(TenantScopedApi):
    """Charge one usage event (agent runtimes, with an API key). Needs an Idempotency-Key."""

    permission_map = {"POST": "credits:write"}

    class UsageChargeInput(UsageInput):
        idempotency_key = serializers.CharField(required=False, max_length=255)

    @extend_schema(
        request=UsageChargeInput,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: CreditTransactionOutput, **ERRORS},
        operation_id="usage_charge",
    )
    def post(self, request: Request, tenant_id: Any) -> HttpResponse:
        # Parsed by the service's own checks, not a DRF serializer: the same checks answer batch
        # events, and this is the hottest endpoint there is.
        data = _body(request)
        key = _idempotency_key(request, data)
        event = services.usage_event(**{k: data.get(k) for k in _USAGE_FIELDS if k in data})
        return _respond(services.credits_charge(tenant=self.tenant, event=event, idempotency_key=key))


_USAGE_FIELDS = (
    "model",
    "input_tokens",
    "output_tokens",
    "agent_id",
    "session_id",
    "occurred_at",
    "description",
    "metadata",
)


class UsageBatchApi(TenantScopedApi):
    """Charge up to 1,000 usage events in one request; each gets its own result."""

    permission_map = {"POST": "credits:write"}
    # Each event's text is checked on its own (billing.services.usage_event), so that one bad
    # event gets its own 400 while the others are charged.
    parser_classes = [PartwiseJSONParser]

    class UsageEventInput(UsageInput):
        idempotency_key = serializers.CharField(max_length=255)

    class UsageBatchInput(serializers.Serializer):
        events = serializers.ListField(child=serializers.DictField(), max_length=services.MAX_BATCH_EVENTS)

    @extend_schema(
        request=inline_serializer(
            "UsageBatchRequest", {"events": serializers.ListField(child=UsageEventInput(), max_length=1000)}
        ),
        responses={
            200: inline_serializer(
                "UsageBatchOutput",
                {
                    "results": inline_serializer(
                        "UsageBatchResultOutput",
                        {
                            "index": serializers.IntegerField(),
                            "idempotency_key": serializers.CharField(),
                            "status": serializers.IntegerField(
                                help_text="201, 400, 402 or 409, as a single charge."
                            ),
                            "replayed": serializers.BooleanField(),
                            "body": serializers.JSONField(
                                help_text="The entry, or the error, as a single charge."
                            ),
                        },
                        many=True,
                    ),
                    "summary": inline_serializer(
                        "UsageBatchSummaryOutput",
                        {
                            "charged": serializers.IntegerField(),
                            "replayed": serializers.IntegerField(),
                            "refused": serializers.IntegerField(),
                        },
                    ),
                },
            ),
            400: OpenApiResponse(description="Not a list of at most 1,000 events, or a key twice."),
        },
        operation_id="usage_charge_batch",
    )
    def post(self, request: Request, tenant_id: Any) -> HttpResponse:
        events = _body(request).get("events")
        if not isinstance(events, list) or not events:
            raise invalid("events", "A non-empty list of events is required.")
        if len(events) > services.MAX_BATCH_EVENTS:
            raise invalid("events", f"At most {services.MAX_BATCH_EVENTS} events per batch.")
        now = timezone.now()
        items = [services.batch_item(raw, now=now) for raw in events]
        outcome = services.credits_charge_batch(tenant=self.tenant, items=items)
        return HttpResponse(outcome.body([item.key for item in items]), content_type="application/json")


class ReservationListCreateApi(TenantScopedApi):
    """Holds on credits for runs that must not overshoot; a hold needs an Idempotency-Key."""

    permission_map = {"GET": "credits:read", "POST": "credits:write"}
    pagination_class = CursorPagination

    class ReservationCreateInput(serializers.Serializer):
        amount = credit_field(required=False, help_text="Credits to hold; or:")
        model = serializers.CharField(required=False, help_text="...a model, priced for the maximum tokens.")
        input_tokens = serializers.IntegerField(required=False, min_value=0)
        output_tokens = serializers.IntegerField(required=False, min_value=0)
        ttl_seconds = serializers.IntegerField(
            required=False, min_value=1, help_text="Default from settings."
        )
        agent_id = serializers.UUIDField(required=False, allow_null=True)
        session_id = serializers.UUIDField(required=False, allow_null=True)
        description = serializers.CharField(required=False, allow_blank=True, max_length=1000)
        idempotency_key = serializers.CharField(required=False, max_length=255)

    @extend_schema(
        responses=ReservationOutput(many=True),
        parameters=[OpenApiParameter("status", str, OpenApiParameter.QUERY, enum=ReservationStatus.values)],
        operation_id="reservations_list",
    )
    def get(self, request: Request, tenant_id: Any) -> Response:
        qs = selectors.reservation_list(tenant=self.tenant)
        wanted = request.query_params.get("status")
        if wanted:
            if wanted not in ReservationStatus.values:
                raise invalid("status", f"One of {', '.join(ReservationStatus.values)}.")
            qs = qs.filter(status=wanted)
        return self.paginated(qs, ReservationOutput)

    @extend_schema(
        request=ReservationCreateInput,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: ReservationOutput, **ERRORS},
        operation_id="reservations_create",
    )
    def post(self, request: Request, tenant_id: Any) -> HttpResponse:
        data = self.ReservationCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        fields.pop("idempotency_key", None)
        result = services.reservation_hold(
            tenant=self.tenant, idempotency_key=_idempotency_key(request, _body(request)), **fields
        )
        return _respond(result)


class ReservationDetailApi(TenantScopedApi):
    permission_map = {"GET": "credits:read"}

    @extend_schema(responses=ReservationOutput, operation_id="reservation_get")
    def get(self, request: Request, tenant_id: Any, reservation_id: Any) -> Response:
        hold = self.get_or_404(selectors.reservation_list(tenant=self.tenant), pk=reservation_id)
        return Response(ReservationOutput(hold).data)


class ReservationSettleApi(TenantScopedApi):
    """Charge a hold's actual usage and free the rest."""

    permission_map = {"POST": "credits:write"}

    class ReservationSettleInput(serializers.Serializer):
        model = serializers.CharField(
            required=False, allow_blank=True, help_text="Default: the hold's model."
        )
        input_tokens = serializers.IntegerField(min_value=0)
        output_tokens = serializers.IntegerField(min_value=0)
        description = serializers.CharField(required=False, allow_blank=True, max_length=1000)
        metadata = serializers.JSONField(required=False)
        idempotency_key = serializers.CharField(required=False, max_length=255)

    @extend_schema(
        request=ReservationSettleInput,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            200: ReservationSettledOutput,
            404: OpenApiResponse(description="No such reservation."),
            **ERRORS,
        },
        operation_id="reservation_settle",
    )
    def post(self, request: Request, tenant_id: Any, reservation_id: Any) -> HttpResponse:
        data = self.ReservationSettleInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        fields.pop("idempotency_key", None)
        result = services.reservation_settle(
            tenant=self.tenant,
            reservation_id=reservation_id,
            idempotency_key=_idempotency_key(request, _body(request)),
            **fields,
        )
        return _respond(result)


class ReservationReleaseApi(TenantScopedApi):
    """Free a hold without charging."""

    permission_map = {"POST": "credits:write"}

    @extend_schema(
        request=None,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            200: ReservationOutput,
            404: OpenApiResponse(description="No such reservation."),
            **ERRORS,
        },
        operation_id="reservation_release",
    )
    def post(self, request: Request, tenant_id: Any, reservation_id: Any) -> HttpResponse:
        data = request.data if isinstance(request.data, dict) else {}
        result = services.reservation_release(
            tenant=self.tenant, reservation_id=reservation_id, idempotency_key=_idempotency_key(request, data)
        )
        return _respond(result)


# --- The catalogue (any signed-in caller) -------------------------------------------------------


class PlanListApi(BaseApi):
    """The plans on offer."""

    allow_api_keys = True  # a public price list: nothing a key could misuse

    @extend_schema(responses=PlanOutput(many=True), operation_id="billing_plans_list")
    def get(self, request: Request) -> Response:
        return Response(PlanOutput(selectors.plan_list(), many=True).data)


class PriceListApi(BaseApi):
    """Model prices with their effective dates (every row: the history matters)."""

    allow_api_keys = True  # agent runtimes estimate holds from these

    @extend_schema(
        responses=PriceOutput(many=True),
        parameters=[OpenApiParameter("model", str, OpenApiParameter.QUERY)],
        operation_id="billing_prices_list",
    )
    def get(self, request: Request) -> Response:
        return Response(
            PriceOutput(selectors.price_list(model=request.query_params.get("model")), many=True).data
        )
