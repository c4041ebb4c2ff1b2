"""`manage.py seed_demo` on the test database: once for the module (a few seconds), rolled back
at its end; each test reads what it built."""

from __future__ import annotations

import ast
import base64
import io
import logging
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.core.management import call_command
from django.db import transaction
from django.db.models import Sum
from django.test import RequestFactory
from django.test.utils import override_settings
from django.utils import timezone

from accounts import services as accounts
from accounts.models import ApiKey, EncryptedTOTPDevice, User, UserSession
from agents.models import Agent, AgentSession, AgentTask, SkillInstallation
from audit.models import AuditLogEntry
from billing import selectors as billing_selectors
from billing.models import CreditAccount, CreditTransaction, LowBalanceThreshold
from console.demo import demo_counts
from console.demo.hashing import DEMO_ROUNDS, DemoPasswordHasher
from console.demo.scenario import DEMO_SLUGS
from core.logging import make_formatter
from core.tenancy import platform_bypass
from tenants.models import FeatureFlag, Invite, Membership, Secret, SettingVersion, Tenant

REPO = Path(settings.BASE_DIR)
SOURCES = ("accounts", "audit", "billing", "config", "console", "core", "tenants", "templates")


@dataclass
class Seeded:
    stdout: str
    stderr: str
    log_lines: list[str]
    data_dir: Path
    logins: dict[str, str]  # e-mail -> password, from the logins file


class _Lines(logging.Handler):
    """Every log record of the run, rendered as the project renders it (JSON lines)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(make_formatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def _people(text: str) -> dict[str, str]:
    """The e-mail and password columns of the logins file's "People" section."""
    section = text.split("\nPeople\n", 1)[1].split("\n\n", 1)[0]
    return {line.split()[0]: line.split()[1] for line in section.splitlines() if line.startswith("  ")}


@pytest.fixture(scope="module")
def seeded(django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: Any) -> Iterator[Seeded]:
    """The seed, run once in a transaction that the module's end rolls back."""
    data_dir = tmp_path_factory.mktemp("seed-data")
    handler = _Lines()
    root = logging.getLogger()
    # Production's hashers (the test settings' MD5 alone would leave the seed's hashing untried):
    # PBKDF2 first, as Django's default; MD5 after it for the other tests' users.
    hashers = ["django.contrib.auth.hashers.PBKDF2PasswordHasher", *settings.PASSWORD_HASHERS]
    with django_db_blocker.unblock(), override_settings(DATA_DIR=data_dir, PASSWORD_HASHERS=hashers):
        atomic = transaction.atomic()
        atomic.__enter__()
        root.addHandler(handler)
        try:
            out, err = io.StringIO(), io.StringIO()
            # -v 2: the command hides nothing from the logs, so every line is checked below.
            call_command("seed_demo", verbosity=2, stdout=out, stderr=err)
            root.removeHandler(handler)
            logins = _people((data_dir / "demo-logins.txt").read_text())
            yield Seeded(out.getvalue(), err.getvalue(), handler.lines, data_dir, logins)
        finally:
            root.removeHandler(handler)
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def _counts() -> dict[str, int]:
    with platform_bypass(reason="test", log=False):
        return {
            "users": User.objects.count(),
            "memberships": Membership.objects.count(),
            "ledger": CreditTransaction.objects.count(),
            "audit": AuditLogEntry.objects.count(),
            "keys": ApiKey.objects.count(),
        }


@pytest.mark.django_db
def test_seed_demo__empty_database__tenants_of_every_plan_and_timezone(seeded: Seeded) -> None:
    tenants = {t.slug: t for t in Tenant.objects.filter(slug__in=DEMO_SLUGS)}
    assert sorted(tenants) == sorted(DEMO_SLUGS)
    assert {t.plan for t in tenants.values()} == {"starter", "growth", "enterprise"}
    assert {"Europe/Berlin", "America/New_York", "Asia/Tokyo"} <= {t.timezone for t in tenants.values()}
    assert [t.slug for t in tenants.values() if t.is_suspended] == ["globex-trial"]
    assert "100% " in seeded.stderr  # the progress bar reached its end
    assert re.search(r"Demo data in place in \d+\.\ds: 4 tenants, ", seeded.stdout)


@pytest.mark.django_db
def test_seed_demo__counts__each_kind_as_the_scenario_makes_it(seeded: Seeded) -> None:
    counts = demo_counts()
    usage, ledger = counts.pop("usage charges"), counts.pop("ledger entries")
    audit, sessions = counts.pop("audit entries"), counts.pop("sessions")

    assert counts == {
        "tenants": 4,
        "members": 18,
        "invites pending": 4,
        "invites accepted": 15,
        "invites revoked": 3,
        "invites expired": 3,
        "API keys": 13,
        "setting versions": 14,
        "feature flags": 8,
        "secrets": 6,
        "agents": 10,
    }
    # Usage depends on the hour the seed runs (today holds what has happened so far).
    # Besides usage: each plan's opening grant (4) and the next month's (4: the tenants were made
    # five to six weeks ago), two grants, two top-ups, an adjustment, a refund.
    assert 2000 < usage < ledger == usage + 14
    assert audit > 100
    # The members' 15 devices and the laptop Lena logged out of (the operator's is no member's).
    assert sessions == 16
    assert ", ".join(f"{n} {what}" for what, n in demo_counts().items()) in seeded.stdout


@pytest.mark.django_db
def test_seed_demo__agents__every_status_skills_session_trees_and_a_queue_in_every_state(
    seeded: Seeded,
) -> None:
    with platform_bypass(reason="test", log=False):
        statuses = {
            slug: sorted(Agent.objects.filter(tenant__slug=slug).values_list("status", flat=True))
            for slug in ("acme-analytics", "northwind-robotics", "hoshi-logistics")
        }
        from_templates = Agent.objects.filter(template__isnull=False).count()
        installed = SkillInstallation.objects.count()
        roots = AgentSession.objects.filter(parent__isnull=True)
        trees = {
            root.tenant.slug: sorted(
                (s.depth, s.status) for s in AgentSession.objects.filter(root=root.pk).exclude(pk=root.pk)
            )
            for root in roots.filter(credit_budget__isnull=False).select_related("tenant")
        }
        budgets = list(
            roots.filter(credit_budget__isnull=False).values_list("credit_budget", "tree_credits_charged")
        )
        sessions = list(AgentSession.objects.all())
        ledger = dict(
            CreditTransaction.objects.filter(agent_session_id__isnull=False)
            .values_list("agent_session_id")
            .annotate(t=Sum("amount"))
            .values_list("agent_session_id", "t")
        )
        tasks = {
            slug: sorted(AgentTask.objects.filter(tenant__slug=slug).values_list("status", flat=True))
            for slug in ("acme-analytics", "northwind-robotics", "hoshi-logistics")
        }
        running = list(AgentTask.objects.filter(status="running"))

    every = ["active", "error", "idle", "paused"]
    assert statuses == {
        "acme-analytics": ["active", "idle"],  # a Starter plan's two agents at work
        "northwind-robotics": every,
        "hoshi-logistics": every,
    }
    assert from_templates == 8  # Hoshi's route planner and Acme's analyst are made from scratch
    assert installed == 12
    expected_tree = [(1, "failed"), (1, "running"), (2, "completed")]
    assert trees == dict.fromkeys(("acme-analytics", "northwind-robotics", "hoshi-logistics"), expected_tree)
    assert len(sessions) == 12
    # Each session's credits are its ledger entries (charged through billing), and no budget burst.
    assert set(ledger) == {session.pk for session in sessions}
    for session in sessions:
        assert session.credits_charged == -ledger[session.pk] > 0
    assert len(budgets) == 3
    for budget, charged in budgets:
        assert budget is not None
        assert 0 < charged <= budget
    queue = ["cancelled", "completed", "failed", "pending", "pending", "running"]
    assert tasks == {"acme-analytics": queue, "northwind-robotics": queue, "hoshi-logistics": queue}
    assert len(running) == 3
    for task in running:
        assert task.lease_expires_at is not None
        assert task.lease_expires_at > timezone.now()
        assert task.claimed_by.endswith("-worker-1")


@pytest.mark.django_db
def test_seed_demo__run_again__adds_nothing_and_says_so(seeded: Seeded) -> None:
    before = _counts()
    out = io.StringIO()

    call_command("seed_demo", stdout=out, stderr=io.StringIO())

    assert "already in place; nothing added" in out.getvalue()
    assert _counts() == before
    assert before["ledger"] > 1000


@pytest.mark.django_db
def test_seed_demo__ledgers__verify_and_each_balance_is_the_sum_of_its_entries(seeded: Seeded) -> None:
    out = io.StringIO()
    call_command("verify_ledger", stdout=out, stderr=io.StringIO())
    assert "verify_ledger: OK, 4 accounts" in out.getvalue()
    with platform_bypass(reason="test", log=False):
        checks = [row for rows in billing_selectors.ledger_check() for row in rows]
        assert len(checks) == 4
        assert all(row.ok for row in checks)
        assert sum(row.entries for row in checks) == CreditTransaction.objects.count() > 2000
        for account in CreditAccount.objects.filter(tenant__slug__in=DEMO_SLUGS):
            total = CreditTransaction.objects.filter(account=account).aggregate(s=Sum("amount"))["s"]
            assert account.balance == total
            assert account.balance > Decimal(0)  # no usage event ran out of credits
        kinds = set(CreditTransaction.objects.values_list("kind", flat=True))
        below = set(LowBalanceThreshold.objects.filter(below=True).values_list("tenant__slug", flat=True))
        crossings = AuditLogEntry.objects.filter(action="billing.low_balance")
        crossed = set(crossings.values_list("tenant__slug", flat=True))
        alerts = crossings.count()
    assert kinds == {"grant", "topup", "usage", "refund", "adjustment"}
    # Every tenant crossed a threshold during the month; two are still below it (a month's
    # renewal of the plan's credits lifted the others back above theirs).
    assert sorted(crossed) == sorted(DEMO_SLUGS)
    assert {"northwind-robotics", "acme-analytics"} <= below
    assert alerts >= 4


@pytest.mark.django_db
def test_seed_demo__usage__spans_the_month_several_models_and_hours(seeded: Seeded) -> None:
    with platform_bypass(reason="test", log=False):
        for slug in ("northwind-robotics", "acme-analytics", "hoshi-logistics"):
            usage = CreditTransaction.objects.filter(tenant__slug=slug, kind="usage")
            days = {at.date() for at in usage.values_list("occurred_at", flat=True)}
            assert len(days) >= 28, slug
        usage = CreditTransaction.objects.filter(kind="usage")
        oldest = usage.order_by("occurred_at").values_list("occurred_at", flat=True).first()
        models = set(usage.values_list("model", flat=True))
        hours = {at.hour for at in usage.values_list("occurred_at", flat=True)}
        by_key = set(usage.values_list("actor_api_key_id", flat=True))
    assert oldest is not None
    assert oldest < timezone.now() - timedelta(days=28)
    assert len(models) >= 3
    assert len(hours) == 24
    assert len(by_key) >= 5


@pytest.mark.django_db
def test_seed_demo__members__in_every_role_custom_included(seeded: Seeded) -> None:
    with platform_bypass(reason="test", log=False):
        roles = list(
            Membership.objects.filter(tenant__slug__in=DEMO_SLUGS).values_list("role__slug", "role__tenant")
        )
        multi = Membership.objects.filter(user__email="kai.tanaka@hoshi-logistics.example").count()
    assert {"owner", "admin", "member", "viewer"} <= {slug for slug, _ in roles}
    assert {slug for slug, tenant in roles if tenant is not None} == {"finance-analyst", "agent-operator"}
    assert multi == 2  # one person, two tenants


@pytest.mark.django_db
def test_seed_demo__people__some_with_totp_some_dormant_one_locked_out(seeded: Seeded) -> None:
    with_totp = set(EncryptedTOTPDevice.objects.filter(confirmed=True).values_list("user__email", flat=True))
    people = set(seeded.logins)
    month_ago = timezone.now() - timedelta(days=28)
    dormant = set(User.objects.filter(last_login__lt=month_ago).values_list("email", flat=True))
    signed_in = UserSession.objects.filter(revoked_at__isnull=True).count()
    locked = "tom.becker@northwind.example"
    factory = RequestFactory()

    assert 3 <= len(with_totp) < len(people) - 3
    assert dormant == {
        "mateo.rossi@northwind.example",
        "riley.brooks@acme-analytics.example",
        "aiko.mori@hoshi-logistics.example",
    }
    assert signed_in >= 10
    assert not AxesProxyHandler.is_allowed(factory.post("/", REMOTE_ADDR="203.0.113.66"), {"email": locked})
    assert AxesProxyHandler.is_allowed(factory.post("/", REMOTE_ADDR="198.51.100.1"), {"email": locked})
    with platform_bypass(reason="test", log=False):
        assert AuditLogEntry.objects.filter(action="auth.account_locked", details__email=locked).exists()


@pytest.mark.django_db
def test_seed_demo__configuration__invites_keys_settings_flags_secrets_with_history(seeded: Seeded) -> None:
    with platform_bypass(reason="test", log=False):
        invites = set(Invite.objects.values_list("status", flat=True))
        revoked_keys = ApiKey.objects.filter(revoked_at__isnull=False).count()
        live_keys = ApiKey.objects.filter(revoked_at__isnull=True).count()
        expired_keys = list(
            ApiKey.objects.filter(expires_at__lte=timezone.now()).values_list("name", flat=True)
        )
        used = dict(ApiKey.objects.filter(last_used_at__isnull=False).values_list("name", "last_used_ip"))
        versions = list(
            SettingVersion.objects.filter(
                tenant__slug="northwind-robotics", key="console.dormant_after_days"
            ).values_list("action", flat=True)
        )
        rollouts = set(FeatureFlag.objects.values_list("rollout_percentage", flat=True))
        secrets = Secret.objects.filter(tenant__slug__in=DEMO_SLUGS)
        rotated = secrets.filter(rotated_at__isnull=False).count()
    assert invites == {"pending", "accepted", "revoked", "expired"}
    assert revoked_keys == 2
    assert expired_keys == ["migration-import"]
    # The runtimes' keys were used (authenticated as the API does), from where they may be.
    assert used["agent-runtime-prod"] == "10.20.0.1"
    assert used["osaka-runtime"] == "203.0.113.1"
    assert "metrics-export" not in used
    assert live_keys >= 8
    assert sorted(versions) == ["rollback", "set", "set", "set"]
    assert {Decimal(0), Decimal(100)} < rollouts
    assert len(rollouts) >= 5
    assert rotated == 2


@pytest.mark.django_db
def test_seed_demo__history__spread_over_the_month_each_audit_entry_at_its_change(seeded: Seeded) -> None:
    now = timezone.now()
    with platform_bypass(reason="test", log=False):
        northwind = Tenant.objects.get(slug="northwind-robotics")
        versions = list(
            SettingVersion.objects.filter(tenant=northwind, key="console.dormant_after_days")
            .order_by("version")
            .values_list("created_at", flat=True)
        )
        ramp = [
            (entry.created_at, entry.details["changes"]["rollout_percentage"]["new"])
            for entry in AuditLogEntry.objects.filter(
                tenant=northwind, action="flag.updated", details__flag_key="agents.parallel-tools"
            ).order_by("created_at")
        ]
        joined = set(Membership.objects.filter(tenant=northwind).values_list("joined_at__date", flat=True))
        keys_made = set(ApiKey.objects.filter(tenant=northwind).values_list("created_at__date", flat=True))
        grants = list(
            CreditTransaction.objects.filter(
                tenant=northwind, kind="grant", actor_user__isnull=False
            ).values_list("created_at", flat=True)
        )
        refund = CreditTransaction.objects.get(tenant=northwind, kind="refund")
        refund_audit = AuditLogEntry.objects.get(tenant=northwind, action="credits.refund")
        usage = CreditTransaction.objects.filter(tenant=northwind, kind="usage")
        late = max(
            (e.created_at - e.occurred_at for e in usage.only("created_at", "occurred_at")), default=None
        )
        audit_days = {at.date() for at in AuditLogEntry.objects.values_list("created_at", flat=True)}
        # Posted in time order, as in production: the ledger's seq and its posting times agree
        # (a few seconds' leeway: the seed's clock runs on while a batch is charged).
        disorder = [
            (slug, later, earlier)
            for slug in DEMO_SLUGS
            for earlier, later in pairwise(
                CreditTransaction.objects.filter(tenant__slug=slug)
                .order_by("seq")
                .values_list("created_at", flat=True)
            )
            if later < earlier - timedelta(seconds=5)
        ]
        # Keys' last use is their runtime's last report: Globex's trial stopped ten days ago.
        trial_used = ApiKey.objects.get(tenant__slug="globex-trial", name="trial-runtime").last_used_at
        renewals = CreditTransaction.objects.filter(
            kind="grant",
            idempotency_key__startswith="included:",
            created_at__gt=now - timedelta(days=20),
        ).count()
    out = io.StringIO()
    call_command("verify_audit_chain", stdout=out, stderr=io.StringIO())

    # A setting changed over weeks, then rolled back: each version on its own day.
    assert len({at.date() for at in versions}) == 4
    assert versions[-1] - versions[0] > timedelta(days=21)
    # A flag ramped 10 -> 50 -> 100 % a week apart, each change audited at its own time.
    assert [value for _, value in ramp] == ["50.00", "100.00"]
    assert ramp[1][0] - ramp[0][0] > timedelta(days=6)
    assert len(joined) >= 5  # members joined on different days
    assert len(keys_made) >= 4  # keys made on different days
    # The onboarding grant at the start of the month; the refund mid-month, its audit entry with it.
    assert grants
    assert min(grants) < now - timedelta(days=28)
    assert now - timedelta(days=20) < refund.created_at < now - timedelta(days=7)
    assert abs(refund_audit.created_at - refund.created_at) < timedelta(seconds=5)
    # Usage posted by its runtime within a day of happening, not all at seed time.
    assert late is not None
    assert late < timedelta(days=1)
    assert len(audit_days) >= 20
    assert "verify_audit_chain: OK" in out.getvalue()
    assert disorder == []
    assert renewals >= 2  # the plans' included credits of the new month, at its start
    assert trial_used is not None
    assert now - timedelta(days=12) < trial_used < now - timedelta(days=9)


@pytest.mark.django_db
def test_seed_demo__logins_file__mode_600_with_working_passwords(seeded: Seeded) -> None:
    path = seeded.data_dir / "demo-logins.txt"
    text = path.read_text()

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(seeded.logins) >= 18
    for email in ("greta.hansen@northwind.example", "sam.carter@acme-analytics.example"):
        assert User.objects.get(email=email).check_password(seeded.logins[email])
    admin = User.objects.get(platform_role="platform_admin")
    assert admin.check_password(seeded.logins[admin.email])  # bootstrap_admin's, carried over
    # And through the login path itself (django-axes, the failed-login policy, the backend).
    lena = "lena.fischer@northwind.example"
    request = RequestFactory().post("/api/v1/auth/login", REMOTE_ADDR="192.0.2.10")
    assert accounts.password_check(request=request, email=lena, password=seeded.logins[lena]).email == lena
    first = text.split("\nPeople\n", 1)[1].splitlines()[0].split()
    assert first[:2] == [admin.email, seeded.logins[admin.email]]  # the platform admin first
    assert "platform admin" in " ".join(first)
    # Each person with a second factor: their authenticator's seed, as an otpauth URI.
    devices = EncryptedTOTPDevice.objects.filter(confirmed=True).select_related("user")
    assert devices
    for device in devices:
        uri = text.split(f"\n  {device.user.email}\n    ", 1)[1].split("\n", 1)[0]
        seed = parse_qs(urlparse(uri).query)["secret"][0]
        assert base64.b32decode(seed + "=" * (-len(seed) % 8)) == device.bin_key
    assert "qm_live_" in text
    assert "/invites/accept?token=" in text
    # Printed once, by the command, with the file named.
    assert all(password in seeded.stdout for password in seeded.logins.values())
    assert str(path) in seeded.stdout


@pytest.mark.django_db
def test_seed_demo__passwords__in_no_log_line_audit_entry_or_source_file(seeded: Seeded) -> None:
    passwords = list(seeded.logins.values())
    with platform_bypass(reason="test", log=False):
        audit = "\n".join(str(d) for d in AuditLogEntry.objects.values_list("details", flat=True))
    sources = [
        path.read_text(errors="replace")
        for folder in SOURCES
        for path in (REPO / folder).rglob("*")
        if path.is_file() and path.suffix in {".py", ".html", ".txt", ".md"}
    ]

    assert seeded.log_lines  # the run logged (axes, the bypass): the check below is not empty
    for password in passwords:
        assert not any(password in line for line in seeded.log_lines)
        assert password not in seeded.stderr
        assert password not in audit
        assert not any(password in source for source in sources)


def test_seed_demo__the_code__passes_no_literal_password() -> None:
    """No call in the seed's code passes a password (or a secret's value) written in the code."""
    command = REPO / "console" / "management" / "commands" / "seed_demo.py"
    calls = [
        (path.name, node)
        for path in [*(REPO / "console" / "demo").glob("*.py"), command]
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
    ]
    offenders = [
        f"{name}:{node.lineno}"
        for name, node in calls
        for keyword in node.keywords
        if keyword.arg in {"password", "value", "raw_key"}
        and isinstance(keyword.value, ast.Constant)
        and isinstance(keyword.value.value, str)
    ]
    assert len(calls) > 100  # the walk found the seed's code
    assert offenders == []


@pytest.mark.django_db
def test_seed_demo__password_hashes__pbkdf2_at_demo_rounds_raised_at_first_sign_in(seeded: Seeded) -> None:
    greta = User.objects.get(email="greta.hansen@northwind.example")
    admin = User.objects.get(platform_role="platform_admin")
    algorithm, rounds, *_ = greta.password.split("$")

    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.PBKDF2PasswordHasher"]):
        wrong = greta.check_password("not-" + seeded.logins[greta.email])
        right = greta.check_password(seeded.logins[greta.email])
        greta.refresh_from_db()

    assert (algorithm, int(rounds)) == ("pbkdf2_sha256", DEMO_ROUNDS)
    assert not admin.password.startswith(f"pbkdf2_sha256${DEMO_ROUNDS}$")  # bootstrap_admin's, untouched
    assert not wrong
    assert right
    assert greta.password.startswith(f"pbkdf2_sha256${PBKDF2PasswordHasher.iterations}$")


def test_demo_hasher__stronger_hash__never_lowered() -> None:
    strong = PBKDF2PasswordHasher().encode("a long random password", "s" * 22, iterations=DEMO_ROUNDS * 2)
    weak = PBKDF2PasswordHasher().encode("a long random password", "s" * 22, iterations=DEMO_ROUNDS // 2)

    assert not DemoPasswordHasher().must_update(strong)
    assert DemoPasswordHasher().must_update(weak)


@pytest.mark.django_db
def test_seed_demo__insights__interventions_one_reversed_recommendations_and_a_month_of_analytics(
    seeded: Seeded,
) -> None:
    from insights.models import DailyAnalytics, Intervention, Recommendation

    with platform_bypass(reason="test", log=False):
        northwind = Tenant.objects.get(slug="northwind-robotics")
        interventions = list(Intervention.objects.filter(tenant=northwind))
        accepted = Intervention.objects.filter(recommendation__isnull=False).values_list("type", flat=True)
        statuses = sorted(
            Recommendation.objects.filter(tenant__slug__in=DEMO_SLUGS).values_list("status", flat=True)
        )
        platform_days = DailyAnalytics.objects.filter(tenant__isnull=True, credits_charged__gt=0).count()
        tenant_days = DailyAnalytics.objects.filter(tenant=northwind, sessions_started__gt=0).count()
        charged = DailyAnalytics.objects.filter(tenant__isnull=True).aggregate(total=Sum("credits_charged"))
        ledger = CreditTransaction.objects.filter(tenant__slug__in=DEMO_SLUGS, kind="usage").aggregate(
            total=Sum("amount")
        )
    assert sorted(i.type for i in interventions) == ["disable_flag", "disable_flag"]
    assert [bool(i.reversed_at) for i in interventions].count(True) == 1
    # Which rules fire depends on the demo's people and usage; when any did, the seed decided
    # on the first (dismissed) and accepted the first revocation of a dormant member's key.
    if statuses:
        assert statuses.count("dismissed") == 1
        assert statuses.count("accepted") == len(accepted) <= 1
        assert set(accepted) <= {"revoke_api_key"}
    assert platform_days >= 28  # a month of usage, rolled up
    assert tenant_days >= 1
    assert charged["total"] == -ledger["total"]  # every usage charge of the demo is in a day


@pytest.mark.django_db
def test_seed_demo__telemetry__feeds_over_days_metrics_of_the_sessions_and_ab_results(seeded: Seeded) -> None:
    from agents.models import AbTestResult, AgentActivity, AgentMetricsHourly

    with platform_bypass(reason="test", log=False):
        feed_days = {
            slug: set(
                AgentActivity.objects.filter(tenant__slug=slug).values_list("created_at__date", flat=True)
            )
            for slug in ("northwind-robotics", "hoshi-logistics")
        }
        kinds = set(AgentActivity.objects.values_list("type", flat=True))
        metrics = AgentMetricsHourly.objects.aggregate(n=Sum("sessions"), credits=Sum("credits_charged"))
        sessions = AgentSession.objects.count()
        credits = AgentSession.objects.aggregate(total=Sum("credits_charged"))["total"]
        ab = set(AbTestResult.objects.values_list("variant", "metric"))
    assert all(len(days) >= 3 for days in feed_days.values()), feed_days
    assert kinds == {"message", "action", "error"}
    # Rolled up from the demo's sessions: every session counted once, their credits all there.
    assert metrics["n"] == sessions
    assert metrics["credits"] == credits
    assert ab == {(v, m) for v in ("control", "shorter-prompt") for m in ("success_rate", "duration_ms")}


@pytest.mark.django_db
def test_seed_demo__alerts__a_day_of_container_health_alerts_in_every_state_and_hourly_rows(
    seeded: Seeded,
) -> None:
    from agents.models import ContainerHealth, ContainerHealthHourly
    from alerts.models import Alert

    now = timezone.now()
    with platform_bypass(reason="test", log=False):
        health = {
            a.title.split()[1]: a
            for a in Alert.objects.filter(source="agents.health").select_related(
                "tenant", "acknowledged_by", "resolved_by"
            )
        }
        billing_alerts = set(Alert.objects.filter(source="billing").values_list("tenant__slug", flat=True))
        reports = ContainerHealth.objects.filter(tenant__slug__in=DEMO_SLUGS)
        containers = set(reports.values_list("container_id", flat=True))
        oldest = reports.order_by("reported_at").values_list("reported_at", flat=True).first()
        hours = {
            c: set(
                ContainerHealthHourly.objects.filter(container_id=c).values_list("worst_status", flat=True)
            )
            for c in containers
        }
        hour_count = ContainerHealthHourly.objects.filter(tenant__slug__in=DEMO_SLUGS).count()
        unlinked = reports.filter(agent__isnull=True).count()
        housekeeping = AuditLogEntry.objects.filter(action="agents.health_housekeeping").count()

    # Northwind's pager buddy is unhealthy now: its critical alert is open.
    pager = health["nw-pager-buddy-c03d"]
    assert pager.tenant is not None
    assert (pager.tenant.slug, pager.severity, pager.status) == ("northwind-robotics", "critical", "open")
    # The release captain's overnight alert was resolved by Jonas, by hand (it never reported healthy
    # before he did).
    captain = health["nw-release-captain-7f9c"]
    assert captain.status == "resolved"
    assert captain.resolved_by is not None
    assert captain.resolved_by.email == "jonas.weber@northwind.example"
    # Hoshi's invoice reader: acknowledged by Haruto, still unresolved.
    reader = health["tk-invoice-reader-44f0"]
    assert reader.status == "acknowledged"
    assert reader.acknowledged_by is not None
    assert reader.acknowledged_by.email == "haruto.kimura@hoshi-logistics.example"
    # The customs clerk reported healthy again: the system resolved its alert (no person).
    clerk = health["tk-customs-clerk-91aa"]
    assert clerk.status == "resolved"
    assert clerk.resolved_by is None
    assert len(health) == 4  # the healthy containers raised nothing
    # Each stamped at its moment over the last day, in order.
    for alert in health.values():
        assert now - timedelta(hours=25) < alert.created_at < now
        for later in (alert.acknowledged_at, alert.resolved_at):
            assert later is None or alert.created_at < later < now - timedelta(minutes=30)
    # Billing's low-balance crossings are alerts too.
    assert {"northwind-robotics", "acme-analytics"} <= billing_alerts
    # A day of half-hourly reports of six containers (none older than the 24 hours kept),
    # each linked to its agent; the housekeeping made hourly rows with the worst status of each hour.
    assert len(containers) == 6
    assert unlinked == 0
    assert oldest is not None
    assert now - timedelta(hours=25) < oldest < now - timedelta(hours=22)
    assert hour_count >= 6 * 22
    assert hours["nw-pager-buddy-c03d"] == {"healthy", "degraded", "unhealthy"}
    assert hours["nw-pr-reviewer-2b41"] == {"healthy"}
    assert housekeeping >= 1
