"""Insights test data: an applied intervention, through the service."""

from __future__ import annotations

import uuid
from typing import Any

from accounts.tests.factories import UserFactory
from core.tenancy import tenant_context
from insights import services
from insights.models import Intervention
from tenants.tests.factories import FeatureFlagFactory


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
