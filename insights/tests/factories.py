"""Insights test data: an applied intervention (through the service), an open recommendation
(through the refresh), daily analytics rows, participants and relationships (through the graph
sync)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import factory

from accounts.models import User
from accounts.tests.factories import ApiKeyFactory, UserFactory
from agents.tests.factories import AgentFactory
from core.tenancy import tenant_context
from insights import services
from insights.models import (
    DailyAnalytics,
    Intervention,
    Participant,
    Recommendation,
    Relationship,
    RelationshipType,
)
from insights.services.graph import participants_sync
from tenants.tests.factories import BypassFactory, FeatureFlagFactory, member


def make_intervention(tenant: Any, *, flag_id: Any = None) -> uuid.UUID:
    """A disable_flag intervention on a new flag of the tenant (reversible as it stands)."""
    flag = FeatureFlagFactory.create(tenant=tenant, **({"id": flag_id} if flag_id else {}))
    staff = UserFactory.create(platform_operator=True)
    with tenant_context(tenant):
        intervention: Intervention = services.intervention_create(
            tenant=tenant,
            operator=services.Operator.platform(staff),
            type="disable_flag",
            target_ids=[flag.pk],
            reason="test",
        )
    return intervention.pk


def dormant_key(tenant: Any, *, days: int = 60) -> Any:
    """A live API key created by a member who has not been seen for `days` days."""
    user = member(tenant, "admin", joined_at=datetime.now(UTC) - timedelta(days=days + 10))
    User.objects.filter(pk=user.pk).update(
        last_seen_at=datetime.now(UTC) - timedelta(days=days), last_login=None
    )
    return ApiKeyFactory.create(tenant=tenant, created_by=user)


def make_recommendation(tenant: Any) -> uuid.UUID:
    """An open revoke_api_key recommendation (a dormant admin's key), made by the refresh."""
    key = dormant_key(tenant)
    with tenant_context(tenant):
        services.recommendations_refresh(tenant=tenant)
        pk: uuid.UUID = Recommendation.objects.get(target_id=str(key.pk), status="open").pk
    return pk


def make_participant(tenant: Any) -> uuid.UUID:
    """A new agent's participant, made by the graph sync."""
    agent = AgentFactory.create(tenant=tenant)
    participants_sync(tenant=tenant)
    with tenant_context(tenant):
        pk: uuid.UUID = Participant.objects.get(agent=agent).pk
    return pk


def make_relationship(tenant: Any) -> uuid.UUID:
    """An agent assists a member: the sync draws the `assists` edge between their participants."""
    user = member(tenant, "member")
    agent = AgentFactory.create(tenant=tenant, assisted_user=user)
    participants_sync(tenant=tenant)
    with tenant_context(tenant):
        pk: uuid.UUID = Relationship.objects.get(
            from_participant__agent=agent, to_participant__user=user, type=RelationshipType.ASSISTS
        ).pk
    return pk


class DailyAnalyticsFactory(BypassFactory, factory.django.DjangoModelFactory[DailyAnalytics]):
    """A day's row as the roll-up would leave it (written directly: the API only reads them)."""

    class Meta:
        model = DailyAnalytics

    date = factory.Sequence(lambda n: datetime.now(UTC).date() - timedelta(days=n))
    tenant = None
    active_users = 3
    input_tokens = 1000
    output_tokens = 100
    provider_cost_usd = Decimal("1.5")
    credits_charged = Decimal("2.25")
