"""The agents app's records (DOMAIN.md, agents): the platform's catalogue (templates, cookbooks,
recipes, skills) and each tenant's workforce (agents, their channels and skills, sessions, tasks).

The catalogue is platform-wide (no tenant, no row-level security). Everything a tenant owns is a
`TenantScopedModel`: a django-scopes manager, a row-level-security policy (migration 0001), and
foreign keys between tenant-scoped rows that are tenant-consistent in the database: a composite
FOREIGN KEY (tenant_id, x_id) → (tenant_id, id) beside Django's own, so no write, raw or not, can
hang tenant A's session on tenant B's agent.
"""

from agents.models.catalogue import (
    AgentTemplate,
    Cookbook,
    Recipe,
    Skill,
    SkillRating,
)
from agents.models.common import (
    AGENT_TRANSITIONS,
    OPEN_SESSION_STATUSES,
    RUNNING_AGENT_STATUSES,
    SEMVER,
    SEMVER_VALIDATOR,
    SLUG_VALIDATOR,
    TOOL_NAME,
    AgentRole,
    AgentStatus,
    ChannelType,
    SessionStatus,
    SkillCategory,
    SkillStatus,
    TaskStatus,
    ThinkingMode,
    default_tool_policy,
    semver_key,
    validate_string_list,
    validate_tool_policy,
)
from agents.models.health import (
    CONTAINER_ID,
    HEALTH_RANK,
    ContainerHealth,
    ContainerHealthHourly,
    HealthStatus,
)
from agents.models.sessions import (
    AgentSession,
    AgentTask,
)
from agents.models.stream import (
    StreamTicket,
    WebsocketConnection,
)
from agents.models.telemetry import (
    AbTestResult,
    ActivityType,
    AgentActivity,
    AgentMetricsHourly,
)
from agents.models.workforce import (
    Agent,
    AgentChannel,
    SkillInstallation,
)

__all__ = [
    "AGENT_TRANSITIONS",
    "CONTAINER_ID",
    "HEALTH_RANK",
    "OPEN_SESSION_STATUSES",
    "RUNNING_AGENT_STATUSES",
    "SEMVER",
    "SEMVER_VALIDATOR",
    "SLUG_VALIDATOR",
    "TOOL_NAME",
    "AbTestResult",
    "ActivityType",
    "Agent",
    "AgentActivity",
    "AgentChannel",
    "AgentMetricsHourly",
    "AgentRole",
    "AgentSession",
    "AgentStatus",
    "AgentTask",
    "AgentTemplate",
    "ChannelType",
    "ContainerHealth",
    "ContainerHealthHourly",
    "Cookbook",
    "HealthStatus",
    "Recipe",
    "SessionStatus",
    "Skill",
    "SkillCategory",
    "SkillInstallation",
    "SkillRating",
    "SkillStatus",
    "StreamTicket",
    "TaskStatus",
    "ThinkingMode",
    "WebsocketConnection",
    "default_tool_policy",
    "semver_key",
    "validate_string_list",
    "validate_tool_policy",
]
