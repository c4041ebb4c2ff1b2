"""Agent shares (django-guardian object permissions) that must not outlive what they name.

Guardian keys its rows by content type and the object's id as text, with no foreign key: neither a
removed membership nor a deleted agent takes them along by itself. A removed member's shares on
the tenant's agents would come back if they were added again (with another role or team); a
deleted agent's would stay as garbage. Each cleanup is one DELETE, inside the caller's transaction.
"""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import connection
from guardian.models import GroupObjectPermission, UserObjectPermission

from accounts.models import User
from agents.models import Agent
from audit.services import audit_record
from core.tenancy import tenant_pk


def _agent_content_type_id() -> int:
    return ContentType.objects.get_for_model(Agent).pk  # cached by Django after the first read


def agent_shares_remove_for_member(
    *, tenant_id: Any, user_id: Any, actor: User | None = None, **_: Any
) -> int:
    """tenants.hooks.member_removed: unshare the tenant's agents from a user who left it (whatever
    their role was: owners and admins may hold shares from their time as members). One
    `agent.shares_removed` entry when something was removed; returns the rows removed."""
    # The table names are the models' own; every value is a parameter.
    sql = (
        f"DELETE FROM {UserObjectPermission._meta.db_table}"  # noqa: S608
        " WHERE content_type_id = %s AND user_id = %s AND object_pk IN"
        f" (SELECT id::text FROM {Agent._meta.db_table} WHERE tenant_id = %s)"
        " RETURNING object_pk"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [_agent_content_type_id(), user_id, tenant_pk(tenant_id)])
        removed = [row[0] for row in cursor.fetchall()]  # an agent id per permission row
    if removed:
        audit_record(
            action="agent.shares_removed",
            tenant=tenant_id,
            target_type=User._meta.label_lower,
            target_id=user_id,
            details={
                "user_id": str(user_id),
                "reason": "member_removed",
                "permissions_removed": len(removed),
                "agent_ids": sorted(set(removed)),
            },
            actor=actor,
        )
    return len(removed)


def agent_shares_remove_for_agent(*, agent_id: Any) -> int:
    """Remove every object permission on one agent (users' and groups'): agent_delete calls it in
    its transaction. Returns the rows removed."""
    content_type_id = _agent_content_type_id()
    removed = 0
    for model in (UserObjectPermission, GroupObjectPermission):
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {model._meta.db_table} WHERE content_type_id = %s AND object_pk = %s",  # noqa: S608
                [content_type_id, str(agent_id)],  # guardian's object_pk: the id as text
            )
            removed += cursor.rowcount
    return removed
