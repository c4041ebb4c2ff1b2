"""The demo's telemetry (issue 13): the agents' activity feeds, the hourly metrics rolled up from
the demo sessions, and A/B results of a recipe.

- Activity: messages, actions and errors of every demo agent of Northwind and Hoshi over the last
  three days, through `activity_record` at the moments they happened (the session trees of the
  agents step add their own items as their sessions end).
- Metrics: the roll-up over the last three days, as the hourly task would have done, from the
  session trees the agents step ran through the services (charged through billing).
- A/B: the catalogue's weekly-status recipe, variants "control" and "shorter-prompt", two weekly
  periods of a success rate and of the mean duration, recorded by the demo platform admin.
"""

from __future__ import annotations

from datetime import timedelta

from agents import services as agents
from agents.models import Agent, Recipe
from console.demo.scenario import HOSHI, NORTHWIND, DemoScenario, Step

DAYS = 2

FEED: dict[str, tuple[tuple[str, str], ...]] = {
    NORTHWIND: (
        ("message", "Posted the release notes draft in #releases."),
        ("action", "Opened PR #482: bump the SDK to 3.2."),
        ("action", "Tagged v3.2.0-rc1 and started the canary."),
        ("message", "Asked @dana to review the migration guide."),
        ("error", "GitHub answered 502 while fetching checks; retried."),
        ("action", "Merged PR #479 after 2 approvals."),
    ),
    HOSHI: (
        ("message", "Shared tomorrow's Osaka route plan with dispatch."),
        ("action", "Re-routed 3 trucks around the Meishin closure."),
        ("error", "The traffic API timed out; used the cached map."),
        ("action", "Queried last week's on-time rate (94.1 %)."),
        ("message", "Flagged a customs hold for shipment HX-2291."),
    ),
}


def steps(s: DemoScenario) -> list[Step]:
    return [
        *[(f"Telemetry: {slug}", s.within(slug, history, slug)) for slug in FEED],
        ("Telemetry: metrics roll-up", lambda: rollup(s)),
        ("Telemetry: A/B results", lambda: ab_results(s)),
    ]


def history(s: DemoScenario, slug: str) -> None:
    """Each demo agent's feed over the last days, at the moments it happened."""
    lines = FEED[slug]
    for n, agent in enumerate(Agent.objects.filter(tenant=s.tenants[slug]).order_by("name")):
        for k in range(8):
            kind, summary = lines[(n + k) % len(lines)]
            moment = s.moment(slug, k % (DAYS + 1), 9 + (k * 1.37 + n) % 9)
            agents.activity_record(agent=agent, type=kind, summary=summary, created_at=moment)


def rollup(s: DemoScenario) -> None:
    """The hourly metrics of the last three days, from every demo session."""
    agents.metrics_rollup_range(start=s.now - timedelta(days=DAYS + 1), end=s.now + timedelta(hours=1))


# The weekly-status recipe's A/B figures: (runs, successes, mean duration ms, its variance) per
# variant and period (the console's A/B tests check their pages against these).
AB_FIGURES = {
    "control": [(410, 352, 41_800.0, 9.2e7), (395, 338, 42_300.0, 9.6e7)],
    "shorter-prompt": [(402, 369, 35_100.0, 7.9e7), (417, 384, 34_600.0, 8.1e7)],
}


def ab_results(s: DemoScenario) -> None:
    """Two weekly periods of two variants of the weekly-status recipe, on two metrics."""
    recipe = Recipe.objects.filter(name="weekly-status").order_by("-version").first()
    if recipe is None:
        return
    periods = [(s.moment(None, 14), s.moment(None, 7)), (s.moment(None, 7), s.moment(None, 0, 0))]
    for variant, rows in AB_FIGURES.items():
        for (start, end), (runs, successes, mean, variance) in zip(periods, rows, strict=True):
            agents.ab_result_record(
                recipe=recipe,
                variant=variant,
                metric="success_rate",
                sample_size=runs,
                successes=successes,
                period_start=start,
                period_end=end,
                actor=s.admin,
            )
            agents.ab_result_record(
                recipe=recipe,
                variant=variant,
                metric="duration_ms",
                sample_size=runs,
                mean=mean,
                variance=variance,
                period_start=start,
                period_end=end,
                actor=s.admin,
            )
