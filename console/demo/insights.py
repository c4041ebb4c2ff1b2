"""The demo's insights (issue 14), the last steps of the seed, once everything else has happened:

- interventions in Northwind Robotics through insights' service, as the console runs them: its
  owner disables two feature flags (the second reversed the next day, with a reason);
- recommendations refreshed for every demo tenant (the rules over the segments: dormant members'
  live API keys, low credit runway), then one dismissed with a reason and one accepted (the
  platform admin revokes a dormant member's key: a third intervention); the others stay open;
- the daily analytics rolled up for every day of the demo's month (insights' roll-up: the
  ledger, the sessions and the members of each UTC day), so the analytics pages have a month.
"""

from __future__ import annotations

from datetime import UTC, timedelta

from accounts import permissions
from console.demo.scenario import DEMO_SLUGS, NORTHWIND, DemoScenario, Step
from core.tenancy import tenant_context
from insights import services
from insights.models import Recommendation, RecommendationStatus
from tenants.models import FeatureFlag

ROLLUP_DAYS = 40  # the demo's story starts five weeks before the seed


def steps(s: DemoScenario) -> list[Step]:
    return [
        ("Interventions (one reversed)", lambda: interventions(s)),
        ("Recommendations (one accepted, one dismissed)", lambda: recommendations(s)),
        ("Daily analytics for the month", lambda: rollup(s)),
    ]


def _owner(s: DemoScenario, slug: str) -> services.Operator:
    owner = s.owners[slug]
    granted = frozenset(permissions.SYSTEM_ROLES["owner"]["permissions"])
    return services.Operator(user=owner, role="owner", permissions=granted, staff=False)


# Northwind's flags the interventions act on (console/demo/northwind.py makes them).
BROKEN_FLAG = "billing.usage-forecast"
SUSPECTED_FLAG = "console.new-dashboard"


def interventions(s: DemoScenario) -> None:
    tenant = s.tenants[NORTHWIND]
    with tenant_context(tenant):
        flags = {
            f.key: f
            for f in FeatureFlag.objects.filter(
                tenant=tenant, key__in=[BROKEN_FLAG, SUSPECTED_FLAG], enabled=True
            )
        }
        owner = _owner(s, NORTHWIND)
        if BROKEN_FLAG in flags:
            with s.at(NORTHWIND, 3, 9.5):
                services.intervention_create(
                    tenant=tenant,
                    operator=owner,
                    type="disable_flag",
                    target_ids=[flags[BROKEN_FLAG].pk],
                    reason="The forecast shows last month's numbers; off until the fix ships.",
                )
        if SUSPECTED_FLAG in flags:
            with s.at(NORTHWIND, 2, 16):
                mistaken = services.intervention_create(
                    tenant=tenant,
                    operator=owner,
                    type="disable_flag",
                    target_ids=[flags[SUSPECTED_FLAG].pk],
                    reason="Suspected of slowing the overview for admins.",
                )
            with s.at(NORTHWIND, 1, 11):
                services.intervention_reverse(
                    intervention=mistaken,
                    operator=owner,
                    reason="The slowness was the database's maintenance window, not this flag.",
                )


def recommendations(s: DemoScenario) -> None:
    """Refresh every demo tenant's; dismiss the first open one and accept the first open
    revocation of a dormant member's key (a grant would lift a tenant out of its low balance)."""
    staff = services.Operator.platform(s.admin)
    dismissed = accepted = False
    for slug in DEMO_SLUGS:
        tenant = s.tenants.get(slug)
        if tenant is None:
            continue
        with tenant_context(tenant):
            services.recommendations_refresh(tenant=tenant)
            found = Recommendation.objects.filter(tenant=tenant, status=RecommendationStatus.OPEN).order_by(
                "-confidence", "target_label", "id"
            )
            for rec in list(found):
                if not dismissed:
                    services.recommendation_dismiss(
                        recommendation=rec,
                        operator=staff,
                        reason="Its creator is on leave, not gone; the key feeds the nightly export.",
                    )
                    dismissed = True
                elif not accepted and rec.suggested_action == "revoke_api_key":
                    services.recommendation_accept(recommendation=rec, operator=staff)
                    accepted = True


def rollup(s: DemoScenario) -> None:
    today = s.now.astimezone(UTC).date()
    services.analytics_rollup_range(start=today - timedelta(days=ROLLUP_DAYS), end=today)
