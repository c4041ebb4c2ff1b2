"""What the agents app publishes on the live stream (core.stream.publish, delivered on commit):
ids as strings, statuses, nothing secret. Each names its agent (`agent_id`): the consumer
(agents/stream/consumer.py) forwards it only to those who may see that agent."""

from __future__ import annotations

from typing import Any

from core import stream


def _id(value: Any) -> str | None:
    return str(value) if value is not None else None


def agent_status(agent: Any) -> None:
    """`agent.status`: an agent moved along its status machine."""
    stream.publish(
        agent.tenant_id,
        "agent.status",
        {
            "agent_id": str(agent.pk),
            "name": agent.name,
            "status": agent.status,
            "reason": agent.status_reason,
            "changed_at": agent.status_changed_at.isoformat() if agent.status_changed_at else None,
        },
    )


def session_status(session: Any, **extra: Any) -> None:
    """`session.status`: a session finished (completed, failed) or its tree was cancelled."""
    stream.publish(
        session.tenant_id,
        "session.status",
        {
            "session_id": str(session.pk),
            "agent_id": _id(session.agent_id),
            "root_id": _id(session.root_id),
            "status": session.status,
            **extra,
        },
    )


def task_status(task: Any) -> None:
    """`task.status`: a task completed, failed, went back to pending for a retry, or was cancelled."""
    task_statuses(task.tenant_id, [task])


def task_statuses(tenant_id: Any, tasks: list[Any]) -> None:
    """`task.status` of each of a tenant's `tasks`, published together (a batch completed)."""
    stream.publish_many(
        tenant_id,
        [
            (
                "task.status",
                {
                    "task_id": str(task.pk),
                    "agent_id": _id(task.agent_id),
                    "status": task.status,
                    "attempts": task.attempts,
                },
            )
            for task in tasks
        ],
    )
