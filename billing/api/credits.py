"""Credits and the ledger: the summary (balance, holds, runway), account settings, the ledger
(cursor-paginated, filtered), staff postings (grant, top-up, refund, adjustment)."""

from __future__ import annotations

from typing import Any

import django_filters
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from billing import selectors, services
from billing.api.common import ERRORS, IDEMPOTENCY_HEADER, body_of, credit_field, idempotency_key_of, respond
from billing.api.outputs import CreditSummaryOutput, CreditTransactionOutput
from billing.models import CreditTransaction, TransactionKind
from core.api import PLATFORM_ADMIN, PLATFORM_STAFF, TenantScopedApi, filter_parameters
from core.errors import InvalidInput
from core.pagination import CursorPagination
from core.serializers import StrictSerializer


class CreditSummaryApi(TenantScopedApi):
    """The tenant's credits: balance, holds, available, burn rate and runway, plan, thresholds."""

    permission_map = {"GET": "credits:read", "PATCH": PLATFORM_ADMIN}

    class CreditAccountUpdateInput(StrictSerializer):
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
        services.credit_account_update(tenant=self.tenant, actor=self.user, **data.validated_data)
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

    class CreditTransactionCreateInput(StrictSerializer):
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
            actor=self.user,
            idempotency_key=idempotency_key_of(request, body_of(request)),
            **fields,
        )
        return respond(result)


class CreditTransactionDetailApi(TenantScopedApi):
    permission_map = {"GET": "credits:read"}

    @extend_schema(responses=CreditTransactionOutput, operation_id="credit_transaction_get")
    def get(self, request: Request, tenant_id: Any, transaction_id: Any) -> Response:
        entry = self.get_or_404(selectors.transaction_list(tenant=self.tenant), pk=transaction_id)
        return Response(CreditTransactionOutput(entry).data)
