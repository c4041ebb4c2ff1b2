"""The catalogue, for any signed-in caller (API keys included): plans and model prices."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from billing import selectors
from billing.api.outputs import PlanOutput, PriceOutput
from core.api import BaseApi


class PlanListApi(BaseApi):
    """The plans on offer."""

    dangerously_allow_api_keys = True  # a public price list: nothing a key could misuse

    @extend_schema(responses=PlanOutput(many=True), operation_id="billing_plans_list")
    def get(self, request: Request) -> Response:
        return Response(PlanOutput(selectors.plan_list(), many=True).data)


class PriceListApi(BaseApi):
    """Model prices with their effective dates (every row: the history matters)."""

    dangerously_allow_api_keys = True  # agent runtimes estimate holds from these

    @extend_schema(
        responses=PriceOutput(many=True),
        parameters=[OpenApiParameter("model", str, OpenApiParameter.QUERY)],
        operation_id="billing_prices_list",
    )
    def get(self, request: Request) -> Response:
        return Response(
            PriceOutput(selectors.price_list(model=request.query_params.get("model")), many=True).data
        )
