"""Running the demo scenario: once, in one transaction, with progress; and reading what it left.

`demo_seed` builds everything or nothing (one transaction), under a PostgreSQL advisory lock so
that two runs at once cannot both build it. Its marker is the demo tenants' slugs: when they
exist the platform is seeded and a run adds nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count
from django.test.utils import override_settings
from django.utils import timezone

from accounts.models import ApiKey, PlatformRole, User, UserSession
from agents.models import Agent
from audit.models import AuditLogEntry
from billing.models import CreditTransaction, TransactionKind
from console.demo import acme, agents, alerts, globex, hoshi, insights, logins, northwind, people, telemetry
from console.demo.hashing import demo_hashing
from console.demo.scenario import DEMO_SLUGS, DemoScenario, Step
from core.tenancy import platform_bypass
from insights.services.graph import syncs_deferred
from tenants.models import FeatureFlag, Invite, Membership, Secret, SettingVersion, Tenant

Progress = Callable[[int, int, str], None]
SEED_LOCK = "qm.console.seed_demo"


@dataclass(frozen=True)
class DemoResult:
    """What a run built (counts across the demo tenants), and where its logins are."""

    logins_file: Path
    scenario: DemoScenario
    counts: dict[str, int]
    seconds: float


def platform_admin() -> User | None:
    """The first active platform admin (the one `bootstrap_admin` made), or None."""
    return (
        User.objects.filter(platform_role=PlatformRole.PLATFORM_ADMIN, is_active=True)
        .order_by("date_joined", "id")
        .first()
    )


def demo_steps(s: DemoScenario) -> list[Step]:
    """Every step of the scenario, in order, each labelled for the progress bar."""
    return [
        ("Platform staff and defaults", partial(people.platform_staff, s)),
        *northwind.steps(s),
        *acme.steps(s),
        *hoshi.steps(s),
        *globex.steps(s),
        *agents.steps(s),
        *telemetry.steps(s),  # after the agents: their feeds, metrics and A/B results
        *alerts.steps(s),  # the agents' containers' health, the alerts it raised
        ("Platform flags", partial(people.platform_flags, s)),
        ("Sign-ins and sessions", partial(people.sign_ins, s)),
        ("Failed sign-ins and a lockout", partial(people.lockout, s)),
        ("Dormant members", partial(people.dormant, s)),
        *insights.steps(s),  # last: acts on, and rolls up, all of the above
    ]


def demo_present() -> list[str]:
    """The demo tenants' slugs that exist (all of them: seeded; none: not yet)."""
    return sorted(Tenant.objects.filter(slug__in=DEMO_SLUGS).values_list("slug", flat=True))


def logins_path() -> Path:
    return Path(settings.DATA_DIR) / "demo-logins.txt"


class PartlySeeded(Exception):
    """Some demo slugs are taken, not all: tenants made by hand collide with the demo's."""


def demo_seed(*, progress: Progress | None = None, now: datetime | None = None) -> DemoResult | None:
    """Build the demo platform, or return None when it is there already.

    Needs a platform admin (the scenario's staff acts as them). Invite e-mails go nowhere: the
    demo's addresses are under .example, and the pending invites' links are in the logins file.
    """
    started = time.monotonic()
    report = progress or (lambda done, total, label: None)
    # The e-mails are sent on commit: the override must outlast the transaction.
    with (
        override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"),
        demo_hashing(),
        transaction.atomic(),
    ):
        with connection.cursor() as cursor:
            # Two runs at once (two `make run`s): the second waits, then finds the demo there.
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [SEED_LOCK])
        present = demo_present()
        if len(present) == len(DEMO_SLUGS):
            return None
        if present:
            raise PartlySeeded(
                f"Tenants with the demo's slugs exist but not all of them ({', '.join(present)}): "
                "they were not made by seed_demo. Rename them, or seed an empty database."
            )
        admin = platform_admin()
        if admin is None:
            raise PartlySeeded("No platform admin: run `manage.py bootstrap_admin --demo` first.")
        scenario = DemoScenario(admin=admin, now=now or timezone.now())
        steps = demo_steps(scenario)
        # The participant graph follows people and agents through hooks; here each tenant's is
        # synced once, after the last step, not once per person who joins.
        with syncs_deferred():
            for done, (label, step) in enumerate(steps):
                report(done, len(steps), label)
                step()
        report(len(steps), len(steps), "done")
        counts = demo_counts()
        path = logins_path()
        # Written before the commit: a failed commit leaves a file for data that is not there
        # (the next run rewrites it); the other order could lose the only copy of the passwords.
        logins.write(path, logins.render(scenario, admin=admin, admin_login=logins.read_admin_login(admin)))
    return DemoResult(logins_file=path, scenario=scenario, counts=counts, seconds=time.monotonic() - started)


def demo_counts() -> dict[str, int]:
    """What the demo tenants hold, for the summary: counts across tenants, so under the bypass
    (not logged: a read-only summary right after the audited work)."""
    with platform_bypass(reason="seed_demo summary", log=False):
        tenant_ids = list(Tenant.objects.filter(slug__in=DEMO_SLUGS).values_list("pk", flat=True))
        ledger = CreditTransaction.objects.filter(tenant_id__in=tenant_ids)
        kinds = dict(ledger.values_list("kind").annotate(n=Count("id")).values_list("kind", "n"))
        invites = dict(
            Invite.objects.filter(tenant_id__in=tenant_ids)
            .values_list("status")
            .annotate(n=Count("id"))
            .values_list("status", "n")
        )
        user_ids = Membership.objects.filter(tenant_id__in=tenant_ids).values("user_id")
        return {
            "tenants": len(tenant_ids),
            "members": Membership.objects.filter(tenant_id__in=tenant_ids).count(),
            "invites pending": invites.get("pending", 0),
            "invites accepted": invites.get("accepted", 0),
            "invites revoked": invites.get("revoked", 0),
            "invites expired": invites.get("expired", 0),
            "API keys": ApiKey.objects.filter(tenant_id__in=tenant_ids).count(),
            "sessions": UserSession.objects.filter(user_id__in=user_ids).count(),
            "setting versions": SettingVersion.objects.filter(tenant_id__in=tenant_ids).count(),
            "feature flags": FeatureFlag.objects.filter(tenant_id__in=tenant_ids).count(),
            "secrets": Secret.objects.filter(tenant_id__in=tenant_ids).count(),
            "agents": Agent.objects.filter(tenant_id__in=tenant_ids).count(),
            "usage charges": kinds.get(TransactionKind.USAGE, 0),
            "ledger entries": sum(kinds.values()),
            "audit entries": AuditLogEntry.objects.filter(tenant_id__in=tenant_ids).count(),
        }
