"""Hoshi Logistics: Enterprise plan, Tokyo, the biggest spender: three runtimes, a custom
"agent operator" role, most people with a second factor, an overdraft, bought agent slots, a
goodwill adjustment eight days ago. Kai also consults for Acme (one person, two tenants).
Set up six weeks before the seed."""

from __future__ import annotations

from billing import services as billing
from console.demo import usage
from console.demo.scenario import ACME, HOSHI, DemoScenario, Step, secret_value
from core.tenancy import tenant_context
from tenants import services as tenants

YUKI = "yuki.sato@hoshi-logistics.example"
HARUTO = "haruto.kimura@hoshi-logistics.example"
MEI = "mei.suzuki@hoshi-logistics.example"
KAI = "kai.tanaka@hoshi-logistics.example"
REN = "ren.ito@hoshi-logistics.example"

USAGE = usage.UsageProfile(
    events_per_day=90,
    token_scale=20.3,
    keys=(("tokyo-runtime-1", 5), ("tokyo-runtime-2", 4), ("osaka-runtime", 2)),
    agents=("route-planner", "customs-forms", "dispatch-chat", "invoice-reader", "warehouse-audit"),
    seed=303,
)
CREATED = (42, 9)  # days ago, hour


def steps(s: DemoScenario) -> list[Step]:
    return [
        ("Hoshi Logistics: tenant, teams, members", lambda: tenant(s)),
        ("Hoshi Logistics: keys, settings, flags, secrets", s.within(HOSHI, configuration)),
        *s.usage_steps(
            HOSHI,
            USAGE,
            [
                *s.renewal(HOSHI, s.moment(HOSHI, *CREATED)),
                (s.moment(HOSHI, 8, 10), "adjustment", s.within(HOSHI, adjustment)),
            ],
        ),
    ]


def tenant(s: DemoScenario) -> None:
    with s.at(HOSHI, *CREATED):
        yuki = s.owner(HOSHI, YUKI, "Yuki Sato", "Hoshi Logistics")
        t = s.tenant(
            HOSHI,
            owner=yuki,
            name="Hoshi Logistics",
            plan="enterprise",
            admin_email="platform@hoshi-logistics.example",
            timezone="Asia/Tokyo",
            model_defaults={"model_tier": "opus", "thinking_mode": "high"},
        )
    with tenant_context(t):
        with s.at(HOSHI, 42, 10):
            for team in ("Routing", "Customs", "Warehouse"):
                s.team(HOSHI, team)
            s.custom_role(
                HOSHI,
                "Agent operator",
                rank=25,
                permissions=[
                    *("tenant:read", "teams:read", "members:read", "agents:read", "agents:write"),
                    *("tasks:read", "tasks:write", "credits:read", "credits:write"),
                    *("skills:read", "skills:write"),
                ],
                description="Runs the agents and their tasks; reports usage.",
            )
            s.totp(YUKI)
        s.join(HOSHI, HARUTO, "Haruto Kimura", "admin", day=41, team="Routing")
        with s.at(HOSHI, 41, 16):
            s.totp(HARUTO)
        s.join(HOSHI, MEI, "Mei Suzuki", "member", day=40, team="Customs", inviter=HARUTO)
        with s.at(HOSHI, 40, 16):
            s.totp(MEI)
        s.join(HOSHI, KAI, "Kai Tanaka", "member", day=39, team="Warehouse", inviter=HARUTO)
        s.join(HOSHI, REN, "Ren Ito", "agent-operator", day=37, team="Routing", inviter=HARUTO)
        s.join(HOSHI, "aiko.mori@hoshi-logistics.example", "Aiko Mori", "viewer", day=39, note="dormant")
        s.invites(
            HOSHI,
            pending=[("sora.yamada@hoshi-logistics.example", "member")],
            revoked="haruto.k@hoshi-logistics.example",
            expired="auditor@hoshi-logistics.example",
            days=(30, 18, 3),
        )
        with s.at(HOSHI, 38, 11):
            billing.subscription_update(tenant=t, actor=s.admin, data={"purchased_agent_slots": 40})
    with tenant_context(s.tenants[ACME]):  # Kai accepts Acme's invite, signed in as himself
        s.join(ACME, KAI, "Kai Tanaka", "viewer", day=12)


def configuration(s: DemoScenario) -> None:
    t = s.tenants[HOSHI]
    s.key(HOSHI, "tokyo-runtime-1", ["credits:write", "tasks:write"], day=39, by=HARUTO)
    s.key(HOSHI, "tokyo-runtime-2", ["credits:write", "tasks:write"], day=38, by=HARUTO)
    s.key(
        HOSHI,
        "osaka-runtime",
        ["credits:write", "tasks:write"],
        day=36,
        by=REN,
        allowed_ips=("203.0.113.0/24",),
    )
    s.key(HOSHI, "finance-export", ["credits:read"], day=20, expires_in_days=90)
    s.key(HOSHI, "legacy-runtime", ["credits:write"], day=41, by=HARUTO, revoke_day=30)
    s.settings(
        HOSHI,
        [
            (37, "agents.max_children", 40, "admin", "The route planner fans out per depot."),
            (17, "agents.max_children", 60, "admin", "Two new depots in Osaka."),
            (33, "console.dormant_after_days", 45, HARUTO, "Seasonal staff."),
            (36, "notifications.slack_webhook_url", _webhook(), HARUTO, "Alerts to #dispatch."),
        ],
    )
    mei = s.users[MEI]
    s.flag(
        HOSHI,
        "agents.batch-planner",
        HARUTO,
        "Nightly planning.",
        [(27, 40), (11, 75)],
        target_users=[mei.pk],
    )
    s.flag(HOSHI, "console.ja-locale", YUKI, "The console in Japanese.", [(35, 100)])
    operators = ["agent-operator"]
    s.flag(
        HOSHI,
        "agents.customs-ocr-v2",
        HARUTO,
        "The new customs-form reader.",
        [(9, 0)],
        target_roles=operators,
    )
    s.secret(HOSHI, "Anthropic Tokyo", "anthropic", HARUTO, day=39)
    customs = s.secret(HOSHI, "Customs portal", "customs-jp", HARUTO, day=38, team="Customs")
    with s.at(HOSHI, 14, 10):
        tenants.secret_rotate(secret=customs, actor=s.users[MEI], value=secret_value("customs-jp"))
    with s.at(HOSHI, 36, 12):
        billing.credit_account_update(tenant=t, actor=s.admin, overdraft_limit="500")
        s.thresholds(HOSHI, "5000")


def adjustment(s: DemoScenario) -> None:
    s.post(HOSHI, "adjustment", "250", "Goodwill credit: the 4-hour outage of the EU gateway.")


def _webhook() -> str:
    return "https://hooks.slack.example/services/THOSHI/BOPS/" + secret_value("webhook").removeprefix("demo-")
