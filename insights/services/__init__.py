"""Every write of insights: interventions (and their reversal), recommendations, the analytics
roll-up; the sensitive reads' audit entries (reads.py). Import from here: `from insights import services`."""

from insights.services.analytics import analytics_rollup, analytics_rollup_range, analytics_rollup_recent
from insights.services.interventions import KINDS, Operator, intervention_create, intervention_reverse
from insights.services.reads import recommendations_view_record, segment_view_record
from insights.services.recommendations import (
    RULES,
    recommendation_accept,
    recommendation_candidates,
    recommendation_dismiss,
    recommendations_refresh,
    recommendations_refresh_all,
)

__all__ = [
    "KINDS",
    "RULES",
    "Operator",
    "analytics_rollup",
    "analytics_rollup_range",
    "analytics_rollup_recent",
    "intervention_create",
    "intervention_reverse",
    "recommendation_accept",
    "recommendation_candidates",
    "recommendation_dismiss",
    "recommendations_refresh",
    "recommendations_refresh_all",
    "recommendations_view_record",
    "segment_view_record",
]
