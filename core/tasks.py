"""Celery tasks that work inside one tenant: the tenant travels with the task.

    @shared_task(base=TenantTask)
    def recompute(*, tenant_id: str, agent_id: str) -> None: ...

    enqueue_on_commit(recompute, tenant=tenant, agent_id=str(agent.pk))

The worker runs the task inside `tenant_context(tenant_id)`: django-scopes' scope and the
row-level-security setting are both active, exactly as in a request.
"""

from __future__ import annotations

from typing import Any

from celery import Task
from django.db import transaction

from core.tenancy import tenant_context
from core.types import TenantRef


class TenantTask(Task):
    """Runs the task body inside the tenant named by its `tenant_id` keyword argument."""

    abstract = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        tenant_id = kwargs.get("tenant_id")
        if not tenant_id:
            raise ValueError(f"{self.name} is a tenant task: call it with tenant_id=...")
        with tenant_context(tenant_id):
            return super().__call__(*args, **kwargs)


def enqueue_on_commit(task: Any, *, tenant: TenantRef, **kwargs: Any) -> None:
    """Queue a tenant task once the current transaction commits (never before the data exists)."""
    tenant_id = str(getattr(tenant, "pk", tenant))
    transaction.on_commit(lambda: task.delay(tenant_id=tenant_id, **kwargs))
