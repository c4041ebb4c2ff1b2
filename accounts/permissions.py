"""The permission registry: every `resource:action` a role can hold, each documented.

This list is the only source of permissions. A role (system or custom) can hold only what is
registered here; API views name the permission each HTTP method needs (`core.api`).
Actions: `read` (see), `write` (create and change), `delete` (remove), `admin` (the sensitive
operations of the resource: ownership, reveals, revocations of others' things).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # accounts.models validates roles against this registry: no import cycle
    from accounts.models import Role, User

ACTIONS = ("read", "write", "delete", "admin")


@dataclass(frozen=True)
class Permission:
    key: str
    description: str

    @property
    def resource(self) -> str:
        return self.key.split(":", 1)[0]

    @property
    def action(self) -> str:
        return self.key.split(":", 1)[1]


REGISTRY: tuple[Permission, ...] = (
    Permission("tenant:read", "See the tenant's profile, plan, limits and status."),
    Permission("tenant:write", "Change the tenant's name, contact, timezone, model defaults and limits."),
    Permission("tenant:admin", "Owner-level control: transfer ownership, require 2FA, close the tenant."),
    Permission("teams:read", "List teams and their members."),
    Permission("teams:write", "Create and rename teams."),
    Permission("teams:delete", "Delete teams."),
    Permission("members:read", "List members, their roles and teams."),
    Permission("members:write", "Change a member's role or team (never above one's own rank)."),
    Permission("members:delete", "Remove members from the tenant."),
    Permission("roles:read", "List system and custom roles with their permissions."),
    Permission("roles:write", "Create and change custom roles (only with permissions one holds)."),
    Permission("roles:delete", "Delete custom roles that no member holds."),
    Permission("invites:read", "List pending and past invites."),
    Permission("invites:write", "Invite people and revoke invites."),
    Permission("api_keys:read", "List API keys (never their secret part)."),
    Permission("api_keys:write", "Create API keys with scopes within one's own permissions."),
    Permission("api_keys:admin", "Revoke any API key of the tenant."),
    Permission("audit:read", "Read the tenant's audit log."),
    Permission("settings:read", "Read settings (secret values masked)."),
    Permission("settings:write", "Change, reset and roll back settings."),
    Permission("settings:admin", "Reveal secret setting values."),
    Permission("flags:read", "See feature flags and evaluate them."),
    Permission("flags:write", "Create and change feature flags."),
    Permission("secrets:read", "List secrets of the locker (names, providers, last four characters)."),
    Permission("secrets:write", "Store, rotate and delete secrets."),
    Permission("secrets:admin", "Reveal a secret's value; audited every time."),
    Permission("credits:read", "See the balance, the ledger, statements and spend."),
    Permission("credits:write", "Report usage and hold reservations (agent runtimes)."),
    Permission("credits:admin", "Grant, top up, refund and adjust credits."),
    Permission("agents:read", "See agents, their sessions, activity and metrics."),
    Permission("agents:write", "Create, configure, run, pause and resume agents."),
    Permission("agents:delete", "Delete agents."),
    Permission("agents:admin", "See and run every agent of the tenant, whatever its team."),
    Permission("sessions:read", "See agent sessions, their trees and costs."),
    Permission(
        "sessions:write",
        "Start, spawn, complete, fail and cancel sessions, and report their usage (runtimes).",
    ),
    Permission("tasks:read", "See the task queue."),
    Permission("tasks:write", "Enqueue, claim, heartbeat and complete tasks (agent runtimes)."),
    Permission("skills:read", "See the skill marketplace and installations."),
    Permission("skills:write", "Install and configure skills on agents."),
    Permission("alerts:read", "See the tenant's alerts (low balance, unhealthy containers) and their state."),
    Permission("alerts:write", "Acknowledge and resolve alerts."),
    # insights (issue 14): interventions and recommendations act on the tenant; segments name people.
    Permission("analytics:read", "See the tenant's daily analytics."),
    Permission(
        "interventions:admin",
        "See segments; run and reverse interventions; see, accept and dismiss recommendations.",
    ),
)

ALL: frozenset[str] = frozenset(p.key for p in REGISTRY)
BY_KEY: dict[str, Permission] = {p.key: p for p in REGISTRY}


def _having(*actions: str, exclude: tuple[str, ...] = ()) -> list[str]:
    return sorted(p.key for p in REGISTRY if p.action in actions and p.key not in exclude)


# The system roles, seeded by a migration (tenant = null). Rank orders them: nobody assigns a
# role ranked above their own, or changes a member ranked above them.
SYSTEM_ROLES: dict[str, dict] = {
    "owner": {"rank": 40, "description": "Everything, including ownership.", "permissions": sorted(ALL)},
    "admin": {
        "rank": 30,
        "description": "Runs the tenant: members, agents, settings, keys; not ownership.",
        "permissions": _having("read", "write", "delete", "admin", exclude=("tenant:admin",)),
    },
    "member": {
        "rank": 20,
        "description": "Works with the agents of their team.",
        "permissions": sorted(
            {
                *_having("read", exclude=("audit:read",)),
                "agents:write",
                "sessions:write",
                "tasks:write",
                "skills:write",
                "credits:write",
            }
        ),
    },
    "viewer": {
        "rank": 10,
        "description": "Reads, changes nothing.",
        "permissions": _having("read", exclude=("audit:read", "secrets:read", "api_keys:read")),
    },
}

# What platform operators may do in any tenant: read everything, and run interventions (insights'
# endpoints, which decide per type what an operator may do).
PLATFORM_OPERATOR_PERMISSIONS: frozenset[str] = frozenset([*_having("read"), "interventions:admin"])


def unknown(permissions: list[str] | set[str] | tuple[str, ...]) -> list[str]:
    """The entries of `permissions` that are not registered."""
    return sorted(set(permissions) - ALL)


def effective_permissions(*, user: User | None, role: Role | None) -> frozenset[str]:
    """What `user` may do in a tenant where they hold `role` (None: not a member).

    Inactive users get nothing. Platform admins get everything; platform operators get every
    read permission on top of their membership, if any.
    """
    if user is None or not user.is_active:
        return frozenset()
    if user.is_platform_admin:
        return ALL
    perms = set(role.permissions) if role is not None else set()
    if user.is_platform_staff:
        perms |= PLATFORM_OPERATOR_PERMISSIONS
    return frozenset(perms & ALL)
