"""What tenants' views share: the environment and reason query parameters, the no-store header
of reveals, and resolving ids from a request body within the URL's tenant."""

from __future__ import annotations

import uuid

from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request

from accounts.models import Role
from core.errors import InvalidInput
from tenants import selectors
from tenants.models import Environment, Team, Tenant

NO_STORE = {"Cache-Control": "no-store"}
ENVIRONMENT_PARAM = OpenApiParameter(
    "environment",
    str,
    OpenApiParameter.QUERY,
    enum=Environment.values,
    description="The environment (default: this deployment's, QM_ENVIRONMENT).",
)
# Lists of flags: one environment, or (without it) every one.
ENVIRONMENT_FILTER_PARAM = OpenApiParameter(
    "environment",
    str,
    OpenApiParameter.QUERY,
    enum=Environment.values,
    description="Only this one.",
)
REASON_PARAM = OpenApiParameter(
    "reason", str, OpenApiParameter.QUERY, description="Why; kept in the history."
)


def environment_of(request: Request) -> str:
    """The `environment` query parameter, validated; this deployment's when absent."""
    return selectors.current_environment(request.query_params.get("environment") or None)


def environment_filter_of(request: Request) -> str | None:
    """The `environment` query parameter of a list, validated; None (every one) when absent."""
    environment = request.query_params.get("environment")
    return selectors.current_environment(environment) if environment else None


def body_role(tenant: Tenant, role_id: uuid.UUID) -> Role:
    """A role id from a request body, resolved within `tenant` only: another tenant's is unknown."""
    role = selectors.role_get(tenant=tenant, role_id=role_id)
    if role is None:
        raise InvalidInput(
            "Some fields are invalid.", code="validation_error", errors={"role_id": ["No such role."]}
        )
    return role


def body_team(tenant: Tenant, team_id: uuid.UUID) -> Team:
    """A team id from a request body, resolved within `tenant` only: another tenant's is unknown."""
    team = selectors.team_get(tenant=tenant, team_id=team_id)
    if team is None:
        raise InvalidInput(
            "Some fields are invalid.", code="validation_error", errors={"team_id": ["No such team."]}
        )
    return team
