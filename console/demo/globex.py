"""Globex Trial: Starter plan, Sydney. A trial that ran three weeks and stopped ten days ago; a
suspension for a declined card, lifted two days later, then suspended for good yesterday: the
platform's suspended tenant, its threshold crossed."""

from __future__ import annotations

from console.demo import usage
from console.demo.scenario import GLOBEX, DemoScenario, Step
from core.tenancy import tenant_context
from tenants import services as tenants

MORGAN = "morgan.doe@globex.example"

USAGE = usage.UsageProfile(
    events_per_day=8,
    token_scale=1.83,
    keys=(("trial-runtime", 1),),
    agents=("lead-scorer",),
    last_day=10,  # the trial's usage stopped ten days ago
    seed=404,
)
CREATED = (33, 10)  # days ago, hour: its first month ended two or more days ago


def steps(s: DemoScenario) -> list[Step]:
    return [
        ("Globex Trial: tenant", lambda: tenant(s)),
        *s.usage_steps(
            GLOBEX,
            USAGE,
            [
                *s.renewal(GLOBEX, s.moment(GLOBEX, *CREATED)),
                (s.moment(GLOBEX, 9, 10), "suspension", s.within(GLOBEX, suspension)),
                (s.moment(GLOBEX, 7, 15), "reactivation", s.within(GLOBEX, reactivation)),
                (s.moment(GLOBEX, 1, 9), "suspension", s.within(GLOBEX, final_suspension)),
            ],
        ),
    ]


def tenant(s: DemoScenario) -> None:
    with s.at(GLOBEX, *CREATED):
        morgan = s.owner(GLOBEX, MORGAN, "Morgan Doe", "Globex Trial (suspended)")
        t = s.tenant(
            GLOBEX,
            owner=morgan,
            name="Globex Trial",
            plan="starter",
            admin_email=MORGAN,
            timezone="Australia/Sydney",
        )
    with tenant_context(t):
        s.key(GLOBEX, "trial-runtime", ["credits:write"], day=30)
        with s.at(GLOBEX, 30, 11):
            s.thresholds(GLOBEX, "15")


def suspension(s: DemoScenario) -> None:
    s.tenants[GLOBEX] = tenants.tenant_suspend(
        tenant=s.tenants[GLOBEX], actor=s.admin, reason="Card declined at the end of the trial."
    )


def reactivation(s: DemoScenario) -> None:
    s.tenants[GLOBEX] = tenants.tenant_reactivate(
        tenant=s.tenants[GLOBEX], actor=s.admin, reason="Card updated; one more week of trial."
    )


def final_suspension(s: DemoScenario) -> None:
    s.tenants[GLOBEX] = tenants.tenant_suspend(
        tenant=s.tenants[GLOBEX],
        actor=s.admin,
        reason="Trial ended without a payment method; usage stopped ten days ago.",
    )
