"""Acme Analytics: Starter plan, New York. Signed up by itself (the self-service path), its
limits then set to the plan's by the platform; five seats, the last one a pending invite; a
startup grant at the start of the month, a top-up after two weeks, both thresholds crossed on
the way. Signed up five weeks before the seed."""

from __future__ import annotations

from console.demo import usage
from console.demo.scenario import ACME, PLAN_LIMITS, DemoScenario, Step, secret_value
from core.tenancy import tenant_context, user_context
from tenants import selectors as tenant_selectors
from tenants import services as tenants

SAM = "sam.carter@acme-analytics.example"

USAGE = usage.UsageProfile(
    events_per_day=15,
    token_scale=2.73,
    keys=(("analytics-runtime", 1),),
    agents=("weekly-report", "sql-helper"),
    seed=202,
)
SIGNED_UP = (36, 10)  # days ago, hour


def steps(s: DemoScenario) -> list[Step]:
    return [
        ("Acme Analytics: sign-up, members, invites", lambda: tenant(s)),
        ("Acme Analytics: keys, settings, flags, secrets", s.within(ACME, configuration)),
        *s.usage_steps(
            ACME,
            USAGE,
            [
                *s.renewal(ACME, s.moment(ACME, *SIGNED_UP)),
                (s.moment(ACME, 18, 12), "top-up", s.within(ACME, top_up)),
            ],
        ),
    ]


def tenant(s: DemoScenario) -> None:
    """Sam signs up (user, tenant and owner membership at once), then sets the tenant up."""
    secret = s.login_entry(SAM, "Sam Carter", "owner of Acme Analytics")
    with s.at(ACME, *SIGNED_UP):
        sam = tenants.signup(email=SAM, password=secret, tenant_name="Acme Analytics", full_name="Sam Carter")
    s.users[SAM] = s.owners[ACME] = sam
    with user_context(sam):  # Sam's own membership, across tenants (RLS own-rows)
        t = tenant_selectors.membership_list_for_user(user=sam)[0].tenant
    with tenant_context(t):
        with s.at(ACME, 36, 10.5):
            t = tenants.tenant_update(
                tenant=t,
                actor=sam,
                data={"timezone": "America/New_York", "admin_email": "billing@acme-analytics.example"},
            )
        # Sign-up gives generous default limits; the platform sets the Starter plan's.
        with s.at(ACME, 35, 9):
            s.tenants[ACME] = tenants.tenant_update(
                tenant=t, actor=s.admin, data={"resource_limits": PLAN_LIMITS["starter"]}
            )
            s.team(ACME, "Data", "Dashboards and the warehouse.")
        s.join(ACME, "jordan.lee@acme-analytics.example", "Jordan Lee", "member", day=34, team="Data")
        s.join(ACME, "riley.brooks@acme-analytics.example", "Riley Brooks", "viewer", day=33, note="dormant")
        # Starter allows five seats, pending invites included: Kai (Hoshi's) joins later, and
        # the fifth seat is this pending invite.
        s.invites(
            ACME,
            pending=[("new.analyst@acme-analytics.example", "member")],
            revoked="sam.c@acme-analytics.example",
            expired="temp@acme-analytics.example",
            days=(20, 16, 2),
        )


def configuration(s: DemoScenario) -> None:
    s.key(ACME, "analytics-runtime", ["credits:write"], day=33)
    s.settings(
        ACME,
        [
            (33, "console.dormant_after_days", 60, SAM, "A small team: people come and go."),
            (32, "providers.openai_api_key", secret_value("openai"), SAM, "Our OpenAI account."),
        ],
    )
    s.flag(ACME, "console.new-dashboard", SAM, "The redesigned overview.", [(20, 100)])
    s.secret(ACME, "Warehouse read-only", "snowflake", SAM, day=31)
    with s.at(ACME, 30, 9):
        s.post(ACME, "grant", "25", "Startup programme credit.")
        s.thresholds(ACME, "50", "20")


def top_up(s: DemoScenario) -> None:
    s.post(ACME, "topup", "60", "Top-up: card payment.")
