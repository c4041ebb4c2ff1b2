"""A tenant's agent sessions (issue 13): the list (filters: agent, status, root sessions only), each
root with its tree's cost; one session with its subtree as a nested tree (each node: agent, status,
own cost, total cost, depth), computed by PostgreSQL in one statement (agents.selectors.session_tree)
so a tree of any size renders with the same queries; the subtree's ledger entries; cancelling the
subtree after a confirmation.

Guards are the API's: sessions:read to see (sessions of the agents the caller may see, the API's
visibility), sessions:write to cancel, which also needs run_agent on the session's agent
(agents.selectors.session_get), so a session the caller may not run answers 404 as in the API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast
from uuid import UUID

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path

from accounts.models import User
from agents import selectors, services
from agents.models import OPEN_SESSION_STATUSES, AgentSession, SessionStatus
from agents.selectors import TreeNode
from billing import selectors as billing_selectors
from console.access import refusal_page, render_page, tenant_page
from console.forms_agents_work import CancelForm, SessionFilterForm
from core.access import TenantAccess
from core.errors import DomainError

SESSIONS = "console/sessions/sessions.html"
SESSION = "console/sessions/session.html"
CANCEL = "console/sessions/cancel.html"
PAGE_SIZE = 100
LEDGER_ENTRIES = 50


@dataclass
class Node:
    """A node of the rendered tree: the selector's row, its agent's name, its children."""

    row: TreeNode
    agent_name: str
    children: list[Node] = field(default_factory=list)

    @property
    def status_label(self) -> str:
        return SessionStatus(self.row.status).label


def _actor(request: HttpRequest) -> User:
    return cast(User, request.user)


def _not_found(request: HttpRequest) -> HttpResponse:
    return refusal_page(request, status=404, detail="There is no such session in this tenant.")


def _may_cancel(access: TenantAccess) -> bool:
    return access.allows("sessions:write") and not access.tenant.is_suspended


@tenant_page("sessions:read")
def sessions(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    """Sessions of the agents the caller may see, newest first; roots with their tree's cost."""
    agents = list(selectors.agent_list(access=access))
    filters = SessionFilterForm(request.GET or None, agents=agents)
    rows = list(
        selectors.session_list(access=access, filters=filters.filters()).select_related("agent")[
            : PAGE_SIZE + 1
        ]
    )
    context = {
        "sessions": rows[:PAGE_SIZE],
        "more": len(rows) > PAGE_SIZE,
        "filters": filters,
        "filtered": bool(filters.filters()) and any(filters.filters().values()),
    }
    status = 400 if filters.is_bound and not filters.is_valid() else 200
    return render_page(request, SESSIONS, context, access=access, status=status)


def _tree(access: TenantAccess, session: AgentSession) -> tuple[Node, int]:
    """The subtree under `session` as nested nodes (one query for the tree, one for the names of
    the agents in it the caller may see); and its size."""
    rows = selectors.session_tree(session=session)
    agent_ids = {row.agent_id for row in rows}
    names = dict(selectors.agent_list(access=access).filter(pk__in=agent_ids).values_list("pk", "name"))
    nodes: dict[UUID, Node] = {}
    for row in rows:  # depth-first: a parent always comes before its children
        node = Node(row=row, agent_name=names.get(row.agent_id, "An agent you do not see"))
        nodes[row.id] = node
        parent = nodes.get(row.parent_id) if row.parent_id else None
        if parent is not None and row.id != session.pk:
            parent.children.append(node)
    return nodes[session.pk], len(rows)


def session_context(access: TenantAccess, session: AgentSession, **extra: Any) -> dict[str, Any]:
    tree, size = _tree(access, session)
    ids = _subtree_ids(tree)
    ledger = billing_selectors.transaction_list(tenant=access.tenant).filter(agent_session_id__in=ids)
    open_nodes = sum(1 for node in _walk(tree) if node.row.status in OPEN_SESSION_STATUSES)
    return {
        "session": session,
        "tree": tree,
        "size": size,
        "open_nodes": open_nodes,
        "ledger": list(ledger[:LEDGER_ENTRIES]),
        "may_cancel": _may_cancel(access) and open_nodes > 0,
        "nav_current": "console:sessions",
        **extra,
    }


def _walk(node: Node) -> list[Node]:
    found = [node]
    for child in node.children:
        found.extend(_walk(child))
    return found


def _subtree_ids(tree: Node) -> list[UUID]:
    return [node.row.id for node in _walk(tree)]


def _session(access: TenantAccess, session_id: UUID, codename: str = "view_agent") -> AgentSession | None:
    found = selectors.session_get(access=access, session_id=session_id, codename=codename)
    if found is not None:
        # The agent for the page's heading (session_get keeps to one table).
        found = AgentSession.objects.select_related("agent").get(pk=found.pk)
    return found


@tenant_page("sessions:read")
def session(request: HttpRequest, access: TenantAccess, session_id: UUID) -> HttpResponse:
    """One session and its subtree, with each node's own and total cost and the ledger entries."""
    found = _session(access, session_id)
    if found is None:
        return _not_found(request)
    return render_page(request, SESSION, session_context(access, found), access=access)


@tenant_page("sessions:write", methods=("GET", "POST"))
def session_cancel(request: HttpRequest, access: TenantAccess, session_id: UUID) -> HttpResponse:
    """Confirm (GET), then cancel (POST) the session and every open session below it."""
    found = _session(access, session_id, "run_agent")
    if found is None:
        return _not_found(request)
    form = CancelForm(request.POST if request.method == "POST" else None)
    if request.method == "GET" or not form.is_valid():
        context = session_context(access, found, form=form)
        return render_page(request, CANCEL, context, access=access, status=200 if not form.is_bound else 400)
    try:
        cancelled, tasks = services.session_cancel(
            session=found, actor=_actor(request), reason=form.cleaned_data["reason"]
        )
    except DomainError as exc:  # nothing open any more (409): said in place
        context = session_context(access, found, form=form, error=exc.detail)
        return render_page(request, CANCEL, context, access=access, status=exc.status_code)
    messages.success(
        request,
        f"Cancelled {cancelled} session{'s' if cancelled != 1 else ''}"
        f" and {tasks} task{'s' if tasks != 1 else ''}.",
    )
    return redirect("console:session", tenant_id=access.tenant.pk, session_id=found.pk)


TENANT = "t/<uuid:tenant_id>/"
urlpatterns = [
    path(f"{TENANT}sessions/", sessions, name="sessions"),
    path(f"{TENANT}sessions/<uuid:session_id>/", session, name="session"),
    path(f"{TENANT}sessions/<uuid:session_id>/cancel/", session_cancel, name="session_cancel"),
]
