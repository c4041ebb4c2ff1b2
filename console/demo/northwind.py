"""Northwind Robotics: Growth plan, Berlin. The fullest tenant: every role (a custom one too),
a promotion and a removal, invites in every state, keys (one revoked), a setting changed over
weeks and rolled back, flags ramped 10 % -> 50 % -> 100 % and others with targeting, secrets
(one rotated, one revealed), an onboarding grant at the start of the month, a top-up and a
refund of a runaway call mid-month, thresholds crossed.

Set up about six weeks before the seed (days ago are the first numbers below), people joining
over the following weeks; the month of usage starts 29 days ago."""

from __future__ import annotations

from billing import services as billing
from console.demo import usage
from console.demo.scenario import NORTHWIND, DemoScenario, Step, secret_value
from core.tenancy import tenant_context
from tenants import selectors as tenant_selectors
from tenants import services as tenants

GRETA = "greta.hansen@northwind.example"
JONAS = "jonas.weber@northwind.example"
LENA = "lena.fischer@northwind.example"
PRIYA = "priya.nair@northwind.example"
SOFIA = "sofia.costa@northwind.example"
ALEX = "alex.contractor@northwind.example"
TOM = "tom.becker@northwind.example"
MATEO = "mateo.rossi@northwind.example"

USAGE = usage.UsageProfile(
    events_per_day=50,
    token_scale=10.0,
    keys=(("agent-runtime-prod", 6), ("agent-runtime-staging", 1), ("release-bot", 1)),
    agents=("support-triage", "code-review", "release-notes", "lab-notebook"),
    seed=101,
)
CREATED = (40, 10)  # days ago, hour: when the platform admin made the tenant
# Lena tries prompts in the console's playground now and then: (input, output) tokens.
PLAYGROUND_DAYS = (29, 18, 7)
PLAYGROUND_TOKENS = ((1800, 450), (5200, 900), (800, 300))


def steps(s: DemoScenario) -> list[Step]:
    return [
        ("Northwind Robotics: tenant, teams, roles", lambda: tenant(s)),
        ("Northwind Robotics: members and invites", s.within(NORTHWIND, people)),
        ("Northwind Robotics: keys, settings, flags, secrets", s.within(NORTHWIND, configuration)),
        *s.usage_steps(
            NORTHWIND,
            USAGE,
            [
                *s.renewal(NORTHWIND, s.moment(NORTHWIND, *CREATED)),
                *(
                    (s.moment(NORTHWIND, day, 15.5), "playground", s.within(NORTHWIND, playground, n))
                    for n, day in enumerate(PLAYGROUND_DAYS)
                ),
                (s.moment(NORTHWIND, 15, 11), "top-up", s.within(NORTHWIND, top_up)),
                (s.moment(NORTHWIND, 14, 16.5), "refund", s.within(NORTHWIND, refund)),
            ],
        ),
    ]


def tenant(s: DemoScenario) -> None:
    with s.at(NORTHWIND, 41, 9):
        greta = s.owner(NORTHWIND, GRETA, "Greta Hansen", "Northwind Robotics")
    with s.at(NORTHWIND, *CREATED):
        t = s.tenant(
            NORTHWIND,
            owner=greta,
            name="Northwind Robotics",
            plan="growth",
            admin_email="it@northwind.example",
            timezone="Europe/Berlin",
            model_defaults={"model_tier": "sonnet", "thinking_mode": "low"},
        )
    with tenant_context(t), s.at(NORTHWIND, 40, 11):
        s.team(NORTHWIND, "Platform Engineering", "Builds and runs the agents' tooling.")
        s.team(NORTHWIND, "Customer Success", "Support agents and their humans.")
        s.team(NORTHWIND, "Research", "Lab notebooks and literature agents.")
        s.custom_role(
            NORTHWIND,
            "Finance analyst",
            rank=15,
            permissions=["tenant:read", "credits:read", "audit:read", "members:read", "teams:read"],
            description="Reads spend, the ledger and the audit log; changes nothing.",
        )
        s.totp(GRETA)


def people(s: DemoScenario) -> None:
    t = s.tenants[NORTHWIND]
    jonas = s.join(NORTHWIND, JONAS, "Jonas Weber", "member", day=39, team="Platform Engineering")
    promoted = tenant_selectors.membership_for(user=jonas, tenant=t)
    assert promoted is not None
    with s.at(NORTHWIND, 38, 9.5):
        tenants.member_update(
            membership=promoted, actor=s.owners[NORTHWIND], role=tenants.system_role("admin")
        )
        s.logins[JONAS].where = "admin of Northwind Robotics"
        s.totp(JONAS)
    s.join(NORTHWIND, LENA, "Lena Fischer", "member", day=37, team="Platform Engineering", inviter=JONAS)
    s.join(NORTHWIND, TOM, "Tom Becker", "member", day=36, team="Customer Success", inviter=JONAS)
    s.join(NORTHWIND, MATEO, "Mateo Rossi", "member", day=36, team="Research", note="dormant")
    s.join(NORTHWIND, PRIYA, "Priya Nair", "viewer", day=30, team="Customer Success")
    s.join(NORTHWIND, SOFIA, "Sofia Costa", "finance-analyst", day=21)
    # A contractor who left: joined, then removed (the account stays, without a tenant).
    alex = s.join(NORTHWIND, ALEX, "Alex Moreau", "member", day=35, team="Research")
    leaving = tenant_selectors.membership_for(user=alex, tenant=t)
    assert leaving is not None
    with s.at(NORTHWIND, 12, 17):
        tenants.member_remove(membership=leaving, actor=jonas)
    s.logins[ALEX].where = "no tenant (removed from Northwind Robotics)"
    s.invites(
        NORTHWIND,
        pending=[("nina.schulz@northwind.example", "member"), ("ops-lead@northwind.example", "admin")],
        revoked="wrong.address@northwind.example",
        expired="intern@northwind.example",
        days=(25, 20, 3),
    )


def configuration(s: DemoScenario) -> None:
    t = s.tenants[NORTHWIND]
    s.key(
        NORTHWIND,
        "agent-runtime-prod",
        ["credits:write", "tasks:write", "agents:read"],
        day=38,
        allowed_ips=("10.20.0.0/16", "198.51.100.0/24"),
    )
    runtime = ["credits:write", "tasks:write"]
    s.key(NORTHWIND, "agent-runtime-staging", runtime, day=38, expires_in_days=60, rate_limit=120)
    s.key(NORTHWIND, "release-bot", ["credits:write", "agents:write"], day=37, by=JONAS)
    s.key(NORTHWIND, "metrics-export", ["credits:read", "audit:read"], day=16, by=JONAS)
    s.key(NORTHWIND, "old-runtime", ["credits:write"], day=39, revoke_day=20)
    # A one-off key for the data migration, made to lapse: it expired 19 days ago.
    s.key(NORTHWIND, "migration-import", ["credits:read"], day=24, by=JONAS, expires_in_days=5)
    # A setting changed over weeks, then rolled back: four versions.
    s.settings(
        NORTHWIND,
        [
            (39, "console.dormant_after_days", 30, GRETA, "Start with the platform's default."),
            (31, "console.dormant_after_days", 14, GRETA, "Flag inactive people sooner."),
            (19, "console.dormant_after_days", 21, GRETA, "Two weeks caught people on holiday."),
        ],
    )
    with s.at(NORTHWIND, 6, 10):
        tenants.setting_rollback(
            tenant=t,
            key="console.dormant_after_days",
            version=2,
            actor=s.users[JONAS],
            reason="Back to 14 days after the review.",
        )
    # Secret settings (random values; the versions keep them encrypted), and a platform-managed
    # one that only the platform admin sets.
    s.settings(
        NORTHWIND,
        [
            (38, "providers.anthropic_api_key", secret_value("anthropic"), GRETA, "Our Anthropic contract."),
            (12, "providers.anthropic_api_key", secret_value("anthropic"), JONAS, "Rotated at the review."),
            (34, "notifications.slack_webhook_url", _webhook(), JONAS, "Alerts to #agents-ops."),
            (27, "agents.max_depth", 8, "admin", "Deeper plans for the lab agents (ticket QM-4411)."),
        ],
    )
    # Flags: one ramped to everyone over three weeks, others at several rollouts with targeting,
    # one switched off by its kill switch.
    s.flag(
        NORTHWIND,
        "agents.parallel-tools",
        JONAS,
        "Agents call tools in parallel.",
        [(35, 10), (28, 50), (21, 100)],
    )
    dashboard = s.flag(
        NORTHWIND,
        "console.new-dashboard",
        JONAS,
        "The redesigned overview.",
        [(24, 10), (17, 25)],
        target_roles=["admin"],
    )
    with s.at(NORTHWIND, 8, 14):
        tenants.flag_update(
            flag=dashboard,
            actor=s.users[GRETA],
            data={"rollout_percentage": 50, "target_users": [s.users[PRIYA].pk]},
        )
    s.flag(
        NORTHWIND,
        "billing.usage-forecast",
        GRETA,
        "Next month's spend forecast on the credits page.",
        [(15, 0)],
        target_users=[s.users[SOFIA].pk],
    )
    voice = s.flag(NORTHWIND, "agents.voice-channel", JONAS, "Agents answer phone calls.", [(30, 5)])
    with s.at(NORTHWIND, 26, 18):
        tenants.flag_update(flag=voice, actor=s.users[GRETA], data={"enabled": False})
    # The secret locker: one rotated, one revealed (audited).
    anthropic = s.secret(
        NORTHWIND, "Anthropic production", "anthropic", JONAS, day=38, team="Platform Engineering"
    )
    with s.at(NORTHWIND, 13, 9):
        tenants.secret_rotate(secret=anthropic, actor=s.users[JONAS], value=secret_value("anthropic"))
    slack = s.secret(NORTHWIND, "Slack bot token", "slack", GRETA, day=34)
    s.secret(NORTHWIND, "OpenAI fallback", "openai", GRETA, day=22)
    with s.at(NORTHWIND, 4, 11):
        tenants.secret_reveal(secret=slack, actor=s.users[GRETA])
    # Money: the onboarding grant at the start of the month, thresholds the month crosses.
    with s.at(NORTHWIND, 30, 9):
        s.post(NORTHWIND, "grant", "500", "Onboarding credit for the Growth plan launch.")
        s.thresholds(NORTHWIND, "500", "200")


def playground(s: DemoScenario, n: int) -> None:
    """A prompt Lena tried in the console's playground (a person's usage, no API key)."""
    usage.charge_single(
        tenant=s.tenants[NORTHWIND],
        user=s.users[LENA],
        key=f"demo-playground-{n}",
        model=s.model("sonnet"),
        tokens=PLAYGROUND_TOKENS[n],
    )


def top_up(s: DemoScenario) -> None:
    s.post(NORTHWIND, "topup", "300", "Top-up: purchase order NW-2231.")


def refund(s: DemoScenario) -> None:
    """The month's most expensive call refunded in full: a runaway agent loop."""
    charged = s.charged.get(NORTHWIND, [])
    if not charged:
        return
    worst = min(charged, key=lambda c: c.amount)  # usage amounts are negative
    billing.credits_post(
        tenant=s.tenants[NORTHWIND],
        kind="refund",
        amount=str(-worst.amount),
        reason=f"Refund: a runaway {worst.model} loop (support ticket 8812).",
        refund_of=worst.entry_id,
        actor=s.admin,
    )


def _webhook() -> str:
    return "https://hooks.slack.example/services/TDEMO/BDEMO/" + secret_value("webhook").removeprefix("demo-")
