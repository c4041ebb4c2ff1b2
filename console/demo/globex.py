"""Globex Trial: Starter plan, Sydney. A trial that ran three weeks, stopped, and was suspended
(after a first suspension lifted): the platform's suspended tenant, its threshold crossed."""

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


def steps(s: DemoScenario) -> list[Step]:
    return [
        ("Globex Trial: tenant", lambda: tenant(s)),
        *s.usage_steps(GLOBEX, USAGE, "Australia/Sydney", [(-1, "suspension", s.within(GLOBEX, suspension))]),
    ]


def tenant(s: DemoScenario) -> None:
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
        s.key(GLOBEX, "trial-runtime", ["credits:write"])
        s.thresholds(GLOBEX, "15")


def suspension(s: DemoScenario) -> None:
    t = s.tenants[GLOBEX]
    t = tenants.tenant_suspend(tenant=t, actor=s.admin, reason="Card declined at the end of the trial.")
    t = tenants.tenant_reactivate(tenant=t, actor=s.admin, reason="Card updated; one more week of trial.")
    s.tenants[GLOBEX] = tenants.tenant_suspend(
        tenant=t, actor=s.admin, reason="Trial ended without a payment method; usage stopped ten days ago."
    )
