"""Every write of the agents app, split by subject: the catalogue, agents, skills, sessions, the
task queue. Import from here: `from agents import services; services.agent_create(...)`."""

from agents.services.ab import ab_compare, ab_result_record
from agents.services.agents import (
    agent_create,
    agent_delete,
    agent_pause,
    agent_report_status,
    agent_resume,
    agent_share,
    agent_transition,
    agent_update,
)
from agents.services.catalogue import (
    cookbook_create,
    cookbook_update,
    recipe_create,
    recipe_set_active,
    skill_create,
    skill_update,
    template_create,
    template_update,
)
from agents.services.sessions import (
    session_cancel,
    session_complete,
    session_fail,
    session_report_usage,
    session_spawn,
    session_start,
)
from agents.services.skills import skill_configure, skill_install, skill_rate, skill_uninstall
from agents.services.tasks import (
    task_cancel,
    task_claim,
    task_complete,
    task_enqueue,
    task_fail,
    task_heartbeat,
    task_retry,
    tasks_expire_leases,
)
from agents.services.telemetry import (
    activity_record,
    metrics_rollup,
    metrics_rollup_range,
    metrics_rollup_recent,
)

__all__ = [
    "ab_compare",
    "ab_result_record",
    "activity_record",
    "agent_create",
    "agent_delete",
    "agent_pause",
    "agent_report_status",
    "agent_resume",
    "agent_share",
    "agent_transition",
    "agent_update",
    "cookbook_create",
    "cookbook_update",
    "metrics_rollup",
    "metrics_rollup_range",
    "metrics_rollup_recent",
    "recipe_create",
    "recipe_set_active",
    "session_cancel",
    "session_complete",
    "session_fail",
    "session_report_usage",
    "session_spawn",
    "session_start",
    "skill_configure",
    "skill_create",
    "skill_install",
    "skill_rate",
    "skill_uninstall",
    "skill_update",
    "task_cancel",
    "task_claim",
    "task_complete",
    "task_enqueue",
    "task_fail",
    "task_heartbeat",
    "task_retry",
    "tasks_expire_leases",
    "template_create",
    "template_update",
]
