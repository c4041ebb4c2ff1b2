"""Every write of insights: interventions (and their reversal), recommendations, the analytics
roll-up. Import from here: `from insights import services`."""

from insights.services.analytics import analytics_rollup, analytics_rollup_range, analytics_rollup_recent
from insights.services.interventions import KINDS, Operator, intervention_create, intervention_reverse

__all__ = [
    "KINDS",
    "Operator",
    "analytics_rollup",
    "analytics_rollup_range",
    "analytics_rollup_recent",
    "intervention_create",
    "intervention_reverse",
]
