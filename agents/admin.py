"""The agents app in the back office: the catalogue and every tenant's agents, skills, sessions
and tasks, readable by platform staff; changes only through the services, as actions (pause and
resume agents, cancel and retry tasks, cancel session trees), each audited by its service.

Requests run under the platform bypass (core.admin_bypass); platform operators only look.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from unfold.contrib.filters.admin import AutocompleteSelectFilter
from unfold.decorators import action, display

from agents import services
from agents.models import (
    AbTestResult,
    Agent,
    AgentActivity,
    AgentChannel,
    AgentMetricsHourly,
    AgentSession,
    AgentTask,
    AgentTemplate,
    ContainerHealth,
    ContainerHealthHourly,
    Cookbook,
    Recipe,
    Skill,
    SkillInstallation,
    SkillRating,
    StreamTicket,
    WebsocketConnection,
)
from core.errors import DomainError
from tenants.admin.common import ServiceAdmin, actor_of, error_text


class ReadOnlyAdmin(ServiceAdmin):
    """Rows are made and changed by the services (API, console): here they are read, and acted on."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _each(request: HttpRequest, queryset: QuerySet[Any], act: Any, done: str) -> None:
    """Run `act` on each selected row; report how many it did and each refusal."""
    count = 0
    for obj in queryset.order_by("pk"):
        try:
            act(obj)
            count += 1
        except DomainError as exc:
            messages.error(request, f"{obj}: {error_text(exc)}")
    if count:
        messages.success(request, f"{count} {done}.")


def _reason(request: HttpRequest) -> str:
    return f"From the back office by {actor_of(request).email}."


# --- The catalogue ------------------------------------------------------------------------------


@admin.register(AgentTemplate)
class AgentTemplateAdmin(ReadOnlyAdmin):
    list_display = ["name", "slug", "role", "default_model_tier", "is_published", "created_at"]
    list_filter = ["role", "is_published", "default_model_tier"]
    search_fields = ["name", "slug", "description"]
    ordering = ["name", "id"]


@admin.register(Cookbook)
class CookbookAdmin(ReadOnlyAdmin):
    list_display = ["name", "template", "created_at"]
    list_select_related = ["template"]
    list_filter = ["template"]
    search_fields = ["name", "template__name"]
    ordering = ["template__name", "name", "id"]


@admin.register(Recipe)
class RecipeAdmin(ReadOnlyAdmin):
    list_display = ["name", "version", "cookbook", "is_active", "created_at"]
    list_select_related = ["cookbook"]
    list_filter = ["is_active"]
    search_fields = ["name", "cookbook__name"]
    ordering = ["cookbook__name", "name", "-created_at", "id"]


@admin.register(Skill)
class SkillAdmin(ReadOnlyAdmin):
    list_display = ["name", "slug", "version", "category", "status", "install_count", "rating"]
    list_filter = ["status", "category"]
    search_fields = ["name", "slug", "description"]
    ordering = ["name", "id"]


@admin.register(SkillRating)
class SkillRatingAdmin(ReadOnlyAdmin):
    """Who rated which skill how (one rating a person; rating again replaces it)."""

    list_display = ["skill", "stars", "user", "updated_at"]
    list_select_related = ["skill", "user"]
    list_filter = ["stars", ("skill", AutocompleteSelectFilter)]
    search_fields = ["skill__name", "skill__slug", "user__email"]
    ordering = ["-updated_at", "id"]


# --- Tenants' workforce -------------------------------------------------------------------------


@admin.register(Agent)
class AgentAdmin(ReadOnlyAdmin):
    list_display = ["name", "tenant", "role", "status", "model_tier", "last_active_at", "created_at"]
    list_select_related = ["tenant"]
    list_filter = ["status", "role", "model_tier"]
    search_fields = ["name", "tenant__name", "tenant__slug"]
    ordering = ["tenant__name", "name", "id"]
    actions = ["pause", "resume"]

    @action(description="Pause the selected agents")
    def pause(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        reason = _reason(request)
        _each(
            request,
            queryset,
            lambda a: services.agent_pause(agent=a, actor=actor_of(request), reason=reason),
            "agents paused",
        )

    @action(description="Resume the selected agents")
    def resume(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        reason = _reason(request)
        _each(
            request,
            queryset,
            lambda a: services.agent_resume(agent=a, actor=actor_of(request), reason=reason),
            "agents resumed",
        )


@admin.register(AgentChannel)
class AgentChannelAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "agent", "tenant", "is_active", "secret"]
    list_select_related = ["agent", "tenant", "secret"]
    list_filter = ["type", "is_active"]
    search_fields = ["agent__name", "tenant__name"]
    ordering = ["tenant__name", "agent__name", "type"]


@admin.register(SkillInstallation)
class SkillInstallationAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "agent", "tenant", "installed_at"]
    list_select_related = ["skill", "agent", "tenant"]
    list_filter = ["skill"]
    search_fields = ["skill__name", "agent__name", "tenant__name"]
    ordering = ["-installed_at", "id"]


@admin.register(AgentSession)
class AgentSessionAdmin(ReadOnlyAdmin):
    list_display = [
        "__str__",
        "agent",
        "tenant",
        "status",
        "credits_charged",
        "tree_credits_charged",
        "duration_ms",
        "started_at",
    ]
    list_select_related = ["agent", "tenant"]
    list_filter = ["status", "depth"]
    search_fields = ["id", "agent__name", "tenant__name"]
    ordering = ["-started_at", "id"]
    actions = ["cancel"]

    @action(description="Cancel the selected sessions and their subtrees")
    def cancel(self, request: HttpRequest, queryset: QuerySet[AgentSession]) -> None:
        reason = _reason(request)
        _each(
            request,
            queryset,
            lambda s: services.session_cancel(session=s, actor=actor_of(request), reason=reason),
            "session trees cancelled",
        )


@admin.register(AgentTask)
class AgentTaskAdmin(ReadOnlyAdmin):
    list_display = [
        "__str__",
        "agent",
        "tenant",
        "status",
        "priority",
        "attempts",
        "claimed_by",
        "created_at",
    ]
    list_select_related = ["agent", "tenant"]
    list_filter = ["status", "platform_priority"]
    search_fields = ["id", "claimed_by", "agent__name", "tenant__name"]
    ordering = ["-created_at", "id"]
    actions = ["cancel", "retry"]

    @action(description="Cancel the selected tasks")
    def cancel(self, request: HttpRequest, queryset: QuerySet[AgentTask]) -> None:
        reason = _reason(request)
        _each(
            request,
            queryset,
            lambda t: services.task_cancel(task=t, actor=actor_of(request), reason=reason),
            "tasks cancelled",
        )

    @action(description="Retry the selected tasks")
    def retry(self, request: HttpRequest, queryset: QuerySet[AgentTask]) -> None:
        _each(
            request,
            queryset,
            lambda t: services.task_retry(task=t, actor=actor_of(request)),
            "tasks requeued",
        )


# --- Telemetry (read-only: runtimes post activity, the roll-up writes metrics, staff record A/B
# results through the API) ------------------------------------------------------------------------


@admin.register(AgentActivity)
class AgentActivityAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "type", "summary", "agent", "tenant", "session"]
    list_select_related = ["agent", "tenant"]
    list_filter = ["type"]
    search_fields = ["summary", "agent__name", "tenant__name"]
    ordering = ["-created_at", "-id"]
    show_full_result_count = False  # a big table: no COUNT(*) of it on every page


@admin.register(AgentMetricsHourly)
class AgentMetricsHourlyAdmin(ReadOnlyAdmin):
    list_display = [
        "hour",
        "agent",
        "tenant",
        "sessions",
        "successes",
        "failures",
        "avg_duration_ms",
        "input_tokens",
        "output_tokens",
        "credits_charged",
    ]
    list_select_related = ["agent", "tenant"]
    search_fields = ["agent__name", "tenant__name"]
    date_hierarchy = "hour"
    ordering = ["-hour", "agent__name"]
    show_full_result_count = False


@admin.register(AbTestResult)
class AbTestResultAdmin(ReadOnlyAdmin):
    list_display = [
        "recipe",
        "metric",
        "variant",
        "sample_size",
        "successes",
        "mean",
        "variance",
        "period_start",
        "period_end",
        "recorded_by",
    ]
    list_select_related = ["recipe", "recorded_by"]
    list_filter = ["metric"]
    search_fields = ["recipe__name", "variant", "metric"]
    ordering = ["recipe__name", "metric", "variant", "period_start"]


# --- Container health (read-only: runtimes report, the housekeeping task aggregates and prunes;
# an unhealthy report's alert is acted on in the alerts admin) ------------------------------------

HEALTH_LABELS = {"healthy": "success", "degraded": "warning", "unhealthy": "danger"}


@admin.register(ContainerHealth)
class ContainerHealthAdmin(ReadOnlyAdmin):
    """The last 24 hours' reports, as the runtimes sent them."""

    list_display = [
        "reported_at",
        "container_id",
        "status_label",
        "agent",
        "tenant",
        "cpu_percent",
        "memory_mb",
        "restarts",
    ]
    list_select_related = ["agent", "tenant"]
    list_filter = ["status", ("tenant", AutocompleteSelectFilter)]
    search_fields = ["container_id", "agent__name", "tenant__name"]
    date_hierarchy = "reported_at"
    ordering = ["-reported_at", "-id"]
    show_full_result_count = False  # a big table: no COUNT(*) of it on every page

    @display(description="Status", ordering="status", label=HEALTH_LABELS)
    def status_label(self, obj: ContainerHealth) -> tuple[str, str]:
        return obj.status, obj.get_status_display()


@admin.register(ContainerHealthHourly)
class ContainerHealthHourlyAdmin(ReadOnlyAdmin):
    """Each container's hours of the last 30 days: reports, the worst status, cpu and memory."""

    list_display = [
        "hour",
        "container_id",
        "worst_status_label",
        "agent",
        "tenant",
        "reports",
        "avg_cpu_percent",
        "max_cpu_percent",
        "avg_memory_mb",
        "max_memory_mb",
        "restarts_max",
    ]
    list_select_related = ["agent", "tenant"]
    list_filter = ["worst_status", ("tenant", AutocompleteSelectFilter)]
    search_fields = ["container_id", "agent__name", "tenant__name"]
    date_hierarchy = "hour"
    ordering = ["-hour", "container_id"]
    show_full_result_count = False

    @display(description="Worst status", ordering="worst_status", label=HEALTH_LABELS)
    def worst_status_label(self, obj: ContainerHealthHourly) -> tuple[str, str]:
        return obj.worst_status, obj.get_worst_status_display()


# --- The live stream -----------------------------------------------------------------------------


@admin.register(WebsocketConnection)
class WebsocketConnectionAdmin(ReadOnlyAdmin):
    """Who connected to the live stream, when, from where; open ones have no disconnected_at
    (the console's platform page, Live connections, shows only those)."""

    list_display = [
        "connected_at",
        "tenant",
        "user",
        "stream",
        "client_ip",
        "last_seen_at",
        "disconnected_at",
    ]
    list_select_related = ["tenant", "user"]
    list_filter = ["stream", ("disconnected_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__email", "tenant__name", "client_ip", "channel_name"]
    ordering = ["-connected_at", "-id"]
    show_full_result_count = False  # a big table: no COUNT(*) of it on every page


@admin.register(StreamTicket)
class StreamTicketAdmin(ReadOnlyAdmin):
    """Tickets handed out for the live stream, until redeemed (deleted) or expired: who, from
    where, until when. The digest of the ticket is never shown."""

    list_display = ["created_at", "tenant", "user", "api_key", "client_ip", "origin", "expires_at"]
    list_select_related = ["tenant", "user", "api_key"]
    list_filter = [("expires_at", admin.DateFieldListFilter)]
    search_fields = ["user__email", "tenant__name", "client_ip", "origin"]
    ordering = ["-created_at", "-id"]
    exclude = ["digest"]
