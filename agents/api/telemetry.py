"""Telemetry over HTTP: the activity feed (runtimes post, members read the agents they may see),
an agent's hourly metrics, and A/B test results of recipes (platform staff record and compare).

Visibility is the agents API's: an agent the caller may not see (or run, to post) answers 404,
and the tenant feed holds only the items of agents the caller may see.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from agents import selectors, services
from agents.api.common import Input, filters_of
from agents.errors import invalid
from agents.models import AbTestResult, ActivityType, Agent, AgentActivity, AgentMetricsHourly
from agents.services.ab import METRIC_NAME, Comparison, default_baseline
from agents.services.telemetry import hour_floor
from core.api import PLATFORM_STAFF, PlatformApi, TenantScopedApi
from core.errors import NotFound
from core.hygiene import DecimalField
from core.pagination import CursorPagination

MAX_METRICS_RANGE = timedelta(days=31)
DEFAULT_METRICS_RANGE = timedelta(hours=48)


class ActivityPagination(CursorPagination):
    """The feed by (created_at, id), newest first: stable while runtimes keep posting."""

    page_size = 50
    max_page_size = 500


class ActivityOutput(serializers.ModelSerializer[AgentActivity]):
    class Meta:
        model = AgentActivity
        fields = ["id", "agent", "session", "type", "summary", "details", "created_at"]


class ActivityInput(Input):
    type = serializers.ChoiceField(choices=ActivityType.choices)
    summary = serializers.CharField(max_length=500)
    details = serializers.DictField(required=False)
    session_id = serializers.UUIDField(required=False, allow_null=True)
    created_at = serializers.DateTimeField(required=False)


def _uuid(value: str, name: str) -> Any:
    try:
        return serializers.UUIDField().to_internal_value(value)
    except serializers.ValidationError as exc:
        raise invalid(name, "Not an id.") from exc


def _moment(value: str, name: str) -> datetime:
    try:
        moment = serializers.DateTimeField().to_internal_value(value)
    except serializers.ValidationError as exc:
        raise invalid(name, "Not a date and time (ISO 8601).") from exc
    if not 1970 <= moment.year <= 9000:  # room for ranges around it without overflowing
        raise invalid(name, "Between 1970 and 9000.")
    return moment


def _activity_filters(request: Request) -> dict[str, Any]:
    filters: dict[str, Any] = filters_of(request, ("agent", "session", "type", "since"))
    for name in ("agent", "session"):
        if name in filters:
            filters[name] = _uuid(filters[name], name)
    if filters.get("type") and filters["type"] not in ActivityType.values:
        raise invalid("type", "One of message, action, error.")
    if "since" in filters:
        filters["since"] = _moment(filters["since"], "since")
    return filters


ACTIVITY_PARAMETERS = [
    OpenApiParameter("session", str, OpenApiParameter.QUERY),
    OpenApiParameter("type", str, OpenApiParameter.QUERY, enum=ActivityType.values),
    OpenApiParameter("since", datetime, OpenApiParameter.QUERY),
]


class _AgentMixin:
    access: Any

    def _agent(self, agent_id: Any, codename: str = "view_agent") -> Agent:
        agent = selectors.agent_get(access=self.access, agent_id=agent_id, codename=codename)
        if agent is None:
            raise NotFound()
        return agent


class ActivityListApi(TenantScopedApi):
    """The tenant's feed: items of the agents the caller may see, newest first, by cursor."""

    permission_map = {"GET": "agents:read"}
    pagination_class = ActivityPagination

    @extend_schema(
        responses=ActivityOutput(many=True),
        parameters=[OpenApiParameter("agent", str, OpenApiParameter.QUERY), *ACTIVITY_PARAMETERS],
        operation_id="activity_list",
    )
    def get(self, request: Request, tenant_id: Any) -> Response:
        qs = selectors.activity_list(access=self.access, filters=_activity_filters(request))
        return self.paginated(qs, ActivityOutput)


class AgentActivityApi(_AgentMixin, TenantScopedApi):
    """One agent's feed (GET); a runtime adds an item to it (POST, which the tenant's stream
    receives as an `activity` event once committed)."""

    permission_map = {"GET": "agents:read", "POST": "agents:write"}
    pagination_class = ActivityPagination

    @extend_schema(
        responses=ActivityOutput(many=True),
        parameters=ACTIVITY_PARAMETERS,
        operation_id="agent_activity_list",
    )
    def get(self, request: Request, tenant_id: Any, agent_id: Any) -> Response:
        agent = self._agent(agent_id)
        filters = {**_activity_filters(request), "agent": agent.pk}
        return self.paginated(selectors.activity_list(access=self.access, filters=filters), ActivityOutput)

    @extend_schema(
        request=ActivityInput, responses={201: ActivityOutput}, operation_id="agent_activity_record"
    )
    def post(self, request: Request, tenant_id: Any, agent_id: Any) -> Response:
        data = ActivityInput(data=request.data)
        data.is_valid(raise_exception=True)
        agent = self._agent(agent_id, "run_agent")
        values = dict(data.validated_data)
        session = None
        if values.get("session_id"):
            session = selectors.session_get(access=self.access, session_id=values["session_id"])
            if session is None:
                raise invalid("session_id", "No such session.")
        activity = services.activity_record(
            agent=agent,
            session=session,
            type=values["type"],
            summary=values["summary"],
            details=values.get("details"),
            created_at=values.get("created_at"),
        )
        return Response(ActivityOutput(activity).data, status=status.HTTP_201_CREATED)


class MetricsOutput(serializers.ModelSerializer[AgentMetricsHourly]):
    provider_cost_usd = DecimalField(max_digits=20, decimal_places=8)
    credits_charged = DecimalField(max_digits=20, decimal_places=6)

    class Meta:
        model = AgentMetricsHourly
        fields = [
            "hour",
            "sessions",
            "successes",
            "failures",
            "cancelled",
            "avg_duration_ms",
            "input_tokens",
            "output_tokens",
            "provider_cost_usd",
            "credits_charged",
        ]


class MetricsWindowOutput(serializers.Serializer[Any]):
    """The window asked for and its hours (only those with sessions)."""

    # "from" is a Python keyword: declared under another name, published as "from".
    from_ = serializers.DateTimeField()
    to = serializers.DateTimeField()
    hours = MetricsOutput(many=True)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


class AgentMetricsApi(_AgentMixin, TenantScopedApi):
    """An agent's hourly metrics in [from, to) (UTC hours; default the last 48 hours, at most 31
    days), oldest first; hours without sessions have no row."""

    permission_map = {"GET": "agents:read"}
    pagination_class = None

    @extend_schema(
        responses=MetricsWindowOutput,
        parameters=[
            OpenApiParameter("from", datetime, OpenApiParameter.QUERY),
            OpenApiParameter("to", datetime, OpenApiParameter.QUERY),
        ],
        operation_id="agent_metrics",
    )
    def get(self, request: Request, tenant_id: Any, agent_id: Any) -> Response:
        agent = self._agent(agent_id)
        params = filters_of(request, ("from", "to"))
        end = (
            _moment(params["to"], "to") if "to" in params else hour_floor(timezone.now()) + timedelta(hours=1)
        )
        start = _moment(params["from"], "from") if "from" in params else end - DEFAULT_METRICS_RANGE
        if end <= start:
            raise invalid("to", "The range ends before it starts.")
        if end - start > MAX_METRICS_RANGE:
            raise invalid("from", "At most 31 days at a time.")
        rows = selectors.metrics_list(agent=agent, start=start, end=end)
        return Response(
            {"from": start, "to": end, "hours": MetricsOutput(rows, many=True).data},
        )


# --- A/B test results (platform-wide, platform staff) -------------------------------------------


class AbResultOutput(serializers.ModelSerializer[AbTestResult]):
    kind = serializers.CharField(read_only=True)

    class Meta:
        model = AbTestResult
        fields = [
            "id",
            "recipe",
            "variant",
            "metric",
            "kind",
            "sample_size",
            "successes",
            "mean",
            "variance",
            "period_start",
            "period_end",
            "recorded_by",
            "created_at",
        ]


class AbResultInput(Input):
    recipe_id = serializers.UUIDField()
    variant = serializers.RegexField(METRIC_NAME, max_length=64)
    metric = serializers.RegexField(METRIC_NAME, max_length=64)
    sample_size = serializers.IntegerField(min_value=1, max_value=10**15)
    successes = serializers.IntegerField(min_value=0, max_value=10**15, required=False, allow_null=True)
    mean = serializers.FloatField(required=False, allow_null=True)
    variance = serializers.FloatField(min_value=0, required=False, allow_null=True)
    period_start = serializers.DateTimeField()
    period_end = serializers.DateTimeField()


class AbResultListCreateApi(PlatformApi):
    """Record a variant's result for a period (platform staff); list a recipe's results."""

    permission_map = {"GET": PLATFORM_STAFF, "POST": PLATFORM_STAFF}

    def _recipe(self, recipe_id: Any) -> Any:
        recipe = selectors.recipe_list(published_only=False).filter(pk=recipe_id).first()
        if recipe is None:
            raise invalid("recipe_id", "No such recipe.")
        return recipe

    @extend_schema(
        responses=AbResultOutput(many=True),
        parameters=[
            OpenApiParameter("recipe", str, OpenApiParameter.QUERY),
            OpenApiParameter("metric", str, OpenApiParameter.QUERY),
        ],
        operation_id="ab_results_list",
    )
    def get(self, request: Request) -> Response:
        params = filters_of(request, ("recipe", "metric"))
        recipe = self._recipe(_uuid(params["recipe"], "recipe")) if "recipe" in params else None
        return self.paginated(
            selectors.ab_result_list(recipe=recipe, metric=params.get("metric", "")), AbResultOutput
        )

    @extend_schema(request=AbResultInput, responses={201: AbResultOutput}, operation_id="ab_result_record")
    def post(self, request: Request) -> Response:
        data = AbResultInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        recipe = self._recipe(values.pop("recipe_id"))
        result = services.ab_result_record(recipe=recipe, actor=self.request.user, **values)  # type: ignore[arg-type]  # authenticated: a User
        return Response(AbResultOutput(result).data, status=status.HTTP_201_CREATED)


class ComparisonOutput(serializers.Serializer[Comparison]):
    variant = serializers.CharField()
    is_baseline = serializers.BooleanField()
    sample_size = serializers.IntegerField()
    value = serializers.FloatField()
    difference = serializers.FloatField(allow_null=True)
    lift = serializers.FloatField(allow_null=True)
    ci_low = serializers.FloatField(allow_null=True)
    ci_high = serializers.FloatField(allow_null=True)
    statistic = serializers.FloatField(allow_null=True)
    df = serializers.FloatField(allow_null=True)
    p_value = serializers.FloatField(allow_null=True)
    significant = serializers.BooleanField()


def _only_metric(recipe: Any) -> str:
    metrics = selectors.ab_metric_names(recipe=recipe)
    if len(metrics) != 1:
        raise invalid("metric", f"Name the metric: one of {', '.join(metrics) or 'none recorded'}.")
    return metrics[0]


class AbCompareApi(PlatformApi):
    """Compare a recipe's variants on one metric against a baseline variant: per variant its rate
    or mean, the difference and lift, the 95 % confidence interval of the difference, the test
    statistic (z for rates, Welch's t for means), the p-value and whether p < 0.05 (formulas:
    agents.services.ab)."""

    permission_map = {"GET": PLATFORM_STAFF}

    @extend_schema(
        responses=dict,
        parameters=[
            OpenApiParameter(
                "metric", str, OpenApiParameter.QUERY, description="Optional when the recipe has one metric."
            ),
            OpenApiParameter(
                "baseline",
                str,
                OpenApiParameter.QUERY,
                description='Default: the variant "control", else the first by name.',
            ),
        ],
        operation_id="ab_compare",
    )
    def get(self, request: Request, recipe_id: Any) -> Response:
        recipe = selectors.recipe_list(published_only=False).filter(pk=recipe_id).first()
        if recipe is None:
            raise NotFound()
        params = filters_of(request, ("metric", "baseline"))
        metric = params.get("metric") or _only_metric(recipe)
        results = list(selectors.ab_result_list(recipe=recipe, metric=metric))
        baseline = params.get("baseline") or default_baseline(row.variant for row in results)
        answer = services.ab_compare(results=results, baseline=baseline)
        return Response(
            {
                "recipe": str(recipe.pk),
                "metric": metric,
                "baseline": baseline,
                "kind": answer["kind"],
                "confidence": 0.95,
                "variants": ComparisonOutput(answer["comparisons"], many=True).data,
            }
        )
