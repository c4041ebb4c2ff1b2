"""The demo platform: four tenants, their people, configuration and a month of usage, built step
by step through the services of every app, as their own callers would.

Each step is one thing people or runtimes did (a tenant created, members invited, keys made, a
batch of usage reported); `console.demo.seed.demo_steps` lists them in order, so the command can
show its progress. Every write goes through a service, so audit entries, ledger balances,
setting versions and row-level security come out as in production; the one exception is said
where it happens (`people.dormant`: no service signs a person in a month ago).

The history is spread over the weeks before the seed: each write runs under `core.clock.as_of`
at the moment it happened (`DemoScenario.at`: so many days ago, at an hour of the tenant's
day), so the services stamp their rows, the audit entries (in the same hash chain) and the
ledger's postings with that time, through the same code as in production. The clock is the
seed's own context's only; nothing global moves. Usage carries its `occurred_at` and is posted
by its runtime's key shortly after (`usage`). The tenants' stories are in their own modules
(northwind, acme, hoshi, globex); this one keeps the state and the helpers they share.

Passwords, TOTP seeds, API keys and secret values are generated here, at run time, with
`secrets`; none is in the code, none reaches a log line or the audit log.
"""

from __future__ import annotations

import base64
import secrets
import zoneinfo
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlparse

from dateutil.relativedelta import relativedelta
from django.contrib.auth.password_validation import UserAttributeSimilarityValidator
from django.core.exceptions import ValidationError
from django.test import RequestFactory
from django_otp.oath import TOTP

from accounts import services as accounts
from accounts.models import ApiKey, PlatformRole, Role, User
from billing import services as billing
from console.demo import usage
from core import clock, context
from core.errors import Conflict
from core.tenancy import tenant_context
from tenants import services as tenants
from tenants.models import Team, Tenant

NORTHWIND = "northwind-robotics"
ACME = "acme-analytics"
HOSHI = "hoshi-logistics"
GLOBEX = "globex-trial"
# The marker of a seeded platform: all four exist (console.demo.seed).
DEMO_SLUGS = (NORTHWIND, ACME, HOSHI, GLOBEX)
# Where each tenant works: its history happens in its office hours.
ZONES = {
    NORTHWIND: "Europe/Berlin",
    ACME: "America/New_York",
    HOSHI: "Asia/Tokyo",
    GLOBEX: "Australia/Sydney",
}

Step = tuple[str, Callable[[], object]]  # what a step returns is not used
# When it happens (once the usage before that moment is charged), label, what happens.
Interlude = tuple[datetime, str, Callable[[], None]]


# Limits as the plans sell them (billing's Plan rows), which the platform admin sets.
def _limits(agents: int, members: int, sessions: int, cap: str | None) -> dict[str, Any]:
    return {
        "max_agents": agents,
        "max_members": members,
        "max_concurrent_sessions": sessions,
        "monthly_credit_cap": cap,
    }


PLAN_LIMITS: dict[str, dict[str, Any]] = {
    "starter": _limits(3, 5, 5, None),
    "growth": _limits(25, 50, 20, None),
    "enterprise": _limits(250, 1000, 200, "20000"),
}

# Fake but well-formed secret values per provider: a recognisable prefix, random rest.
SECRET_PREFIXES = {"anthropic": "sk-ant-demo-", "openai": "sk-demo-", "slack": "xoxb-demo-"}


def totp_code(otpauth_uri: str) -> str:
    """The code an authenticator app shows now for this otpauth URI."""
    query = parse_qs(urlparse(otpauth_uri).query)
    seed = query["secret"][0]
    key = base64.b32decode(seed + "=" * (-len(seed) % 8))
    digits = int(query.get("digits", ["6"])[0])
    totp = TOTP(key, step=int(query.get("period", ["30"])[0]), digits=digits)
    return f"{totp.token():0{digits}d}"


def password(email: str = "", name: str = "") -> str:
    """A fresh password: 16 URL-safe characters (96 bits), easy to type, and drawn again when the
    similarity validator finds it too like the person's e-mail or name (it can, by chance:
    'analytics' is nine letters of sixteen random ones)."""
    check = UserAttributeSimilarityValidator(user_attributes=("email", "full_name"))
    person = SimpleNamespace(email=email, full_name=name)
    while True:
        secret = secrets.token_urlsafe(12)
        try:
            check.validate(secret, person)  # type: ignore[arg-type]  # it reads only these attributes
        except ValidationError:
            continue
        return secret


def secret_value(provider: str) -> str:
    return SECRET_PREFIXES.get(provider, "demo-") + secrets.token_urlsafe(30)


@dataclass
class DemoLogin:
    """A person one can sign in as, and how."""

    email: str
    password: str
    name: str
    where: str  # their roles: "owner of Northwind Robotics", "platform operator"
    totp_uri: str = ""
    backup_codes: list[str] = field(default_factory=list)
    note: str = ""  # dormant, locked out


@dataclass
class DemoApiKey:
    tenant: str
    name: str
    scopes: list[str]
    raw: str
    note: str = ""  # "expired": kept in the file to see a refusal


@dataclass
class DemoInvite:
    tenant: str
    email: str
    role: str
    link: str


class DemoScenario:
    """The demo platform's state and the helpers its steps share; the ordered list of steps is
    `console.demo.seed.demo_steps`, run in one transaction."""

    def __init__(self, *, admin: User, now: datetime) -> None:
        self.admin = admin
        self.now = now
        self.users: dict[str, User] = {}
        self.logins: dict[str, DemoLogin] = {}
        self.tenants: dict[str, Tenant] = {}
        self.owners: dict[str, User] = {}
        self.teams: dict[tuple[str, str], Team] = {}
        self.roles: dict[tuple[str, str], Role] = {}
        self.keys: dict[tuple[str, str], ApiKey] = {}
        self.raw_keys: dict[tuple[str, str], str] = {}  # for the runtimes' requests (usage)
        self.api_keys: list[DemoApiKey] = []
        self.pending_invites: list[DemoInvite] = []
        self.charged: dict[str, list[usage.Charged]] = {}
        self.usage_events = 0
        self.refused = 0
        self._models: usage.ModelBook | None = None
        self.requests = RequestFactory()

    # --- Time ----------------------------------------------------------------------------------

    def moment(self, slug: str | None, days_ago: float, hour: float = 10.0) -> datetime:
        """`days_ago` days before the seed, at `hour` (10.5: half past ten) of the tenant's day
        (UTC for the platform); never later than a minute before the seed started."""
        zone = zoneinfo.ZoneInfo(ZONES[slug] if slug else "UTC")
        day = self.now.astimezone(zone).date() - timedelta(days=days_ago)
        local = datetime.combine(day, time(0), tzinfo=zone) + timedelta(hours=hour)
        return min(local.astimezone(UTC), self.now - timedelta(minutes=1))

    def at(self, slug: str | None, days_ago: float, hour: float = 10.0) -> AbstractContextManager[datetime]:
        """What runs in the block happened then: the services stamp that time (`core.clock`)."""
        return clock.as_of(self.moment(slug, days_ago, hour))

    def within(self, slug: str, fn: Callable[..., None], *args: Any) -> Callable[[], None]:
        """`fn(self, *args)` run as the tenant: django-scopes and row-level security on, as in a
        request to that tenant."""

        def run() -> None:
            with tenant_context(self.tenants[slug]):
                fn(self, *args)

        return run

    @contextmanager
    def client(self, ip: str | None, user_agent: str) -> Iterator[None]:
        """Audit entries written meanwhile carry this address and browser, like a request's."""
        before = context.current()
        context.update_context(ip_address=ip, user_agent=user_agent)
        try:
            yield
        finally:
            context.set_context(before)

    # --- People --------------------------------------------------------------------------------

    def login_entry(self, email: str, name: str, where: str, *, note: str = "") -> str:
        """Generate a person's password and keep their login for the file."""
        secret = password(email, name)
        self.logins[email] = DemoLogin(email=email, password=secret, name=name, where=where, note=note)
        return secret

    def operator(self, email: str, name: str) -> User:
        """A platform operator, made by the admin in the back office (its service, audited)."""
        user = User(
            email=email,
            full_name=name,
            platform_role=PlatformRole.PLATFORM_OPERATOR,
            is_staff=True,
            date_joined=clock.now(),
        )
        user.set_password(self.login_entry(email, name, "platform operator"))
        user = accounts.user_save_from_admin(user=user, actor=self.admin, created=True, before={})
        self.users[email] = user
        return user

    def owner(self, slug: str, email: str, name: str, tenant_name: str) -> User:
        """A person who signs up (accounts' sign-up service), to own a tenant the admin makes."""
        secret = self.login_entry(email, name, f"owner of {tenant_name}")
        user = accounts.user_create(email=email, password=secret, full_name=name)
        self.users[email] = self.owners[slug] = user
        return user

    def tenant(self, slug: str, *, owner: User, name: str, plan: str, **fields: Any) -> Tenant:
        """A tenant made by the platform admin, on `plan` with its limits, owned by `owner`."""
        tenant = tenants.tenant_create(
            actor=self.admin,
            owner=owner,
            name=name,
            slug=slug,
            plan=plan,
            resource_limits=PLAN_LIMITS[plan],
            **fields,
        )
        self.tenants[slug] = tenant
        return tenant

    def team(self, slug: str, name: str, description: str = "") -> None:
        self.teams[(slug, name)] = tenants.team_create(
            tenant=self.tenants[slug], actor=self.owners[slug], name=name, description=description
        )

    def custom_role(
        self, slug: str, name: str, *, rank: int, permissions: list[str], description: str
    ) -> None:
        role_slug = name.lower().replace(" ", "-")
        self.roles[(slug, role_slug)] = tenants.role_create(
            tenant=self.tenants[slug],
            actor=self.owners[slug],
            name=name,
            slug=role_slug,
            description=description,
            permissions=permissions,
            rank=rank,
        )

    def role(self, slug: str, role: str) -> Role:
        return self.roles.get((slug, role)) or tenants.system_role(role)

    def join(
        self,
        slug: str,
        email: str,
        name: str,
        role: str,
        *,
        day: int,
        team: str = "",
        inviter: str = "",
        note: str = "",
    ) -> User:
        """Invite `email` in the morning `day` days ago, accepted that afternoon: a new account
        with its password, or, for a person who has one, the signed-in acceptance."""
        tenant = self.tenants[slug]
        where = f"{role.replace('-', ' ')} of {tenant.name}"
        with self.at(slug, day, 9.25):
            _invite, token = tenants.invite_create(
                tenant=tenant,
                actor=self.users[inviter] if inviter else self.owners[slug],
                email=email,
                role=self.role(slug, role),
                team=self.teams.get((slug, team)),
            )
        existing = self.users.get(email)
        with self.at(slug, day, 14.6):
            if existing is not None:
                tenants.invite_accept(token=token, user=existing)
                self.logins[email].where += f"; {where}"
                return existing
            secret = self.login_entry(email, name, where, note=note)
            membership = tenants.invite_accept(token=token, password=secret, full_name=name)
        self.users[email] = membership.user
        return membership.user

    def totp(self, email: str) -> None:
        """Enrol an authenticator and confirm it with its first code, as the browser does."""
        user = self.users[email]
        enrolment = accounts.totp_enroll(user=user)
        codes = accounts.totp_confirm(user=user, code=totp_code(enrolment["otpauth_uri"]))
        self.logins[email].totp_uri = enrolment["otpauth_uri"]
        self.logins[email].backup_codes = codes

    def invites(
        self,
        slug: str,
        *,
        pending: list[tuple[str, str]],
        revoked: str,
        expired: str,
        days: tuple[int, int, int],
    ) -> None:
        """Invites in every state, sent `days` = (revoked, expired, pending) days ago: one
        revoked an hour after it went out, one whose link was opened after its week had passed
        (refused, so the row says expired), and pending ones (their links go in the logins file;
        sent less than a week ago, they still work)."""
        tenant, owner = self.tenants[slug], self.owners[slug]
        revoked_day, expired_day, pending_day = days

        def invite(email: str, role: str) -> tuple[Any, str]:
            return tenants.invite_create(tenant=tenant, actor=owner, email=email, role=self.role(slug, role))

        with self.at(slug, revoked_day, 11):
            sent = invite(revoked, "member")[0]
        with self.at(slug, revoked_day, 12):
            tenants.invite_revoke(invite=sent, actor=owner)
        with self.at(slug, expired_day, 16):
            _, token = invite(expired, "viewer")
        # "This invite has expired": refused, and marked expired.
        with self.at(slug, expired_day - 9, 8.5), suppress(Conflict):
            tenants.invite_accept(token=token, password=password(), full_name="Late Arrival")
        for email, role in pending:
            with self.at(slug, pending_day, 15):
                link = tenants.invite_accept_url(invite(email, role)[1])
            self.pending_invites.append(DemoInvite(tenant=tenant.name, email=email, role=role, link=link))

    # --- Keys and configuration ------------------------------------------------------------------

    def key(
        self,
        slug: str,
        name: str,
        scopes: list[str],
        *,
        day: int,
        by: str = "",
        allowed_ips: tuple[str, ...] = (),
        expires_in_days: int | None = None,
        rate_limit: int = 600,
        revoke_day: int | None = None,
    ) -> None:
        """An API key made by `by` (default: the owner) `day` days ago, living `expires_in_days`
        from then (a short life: it has lapsed by now); one revoked `revoke_day` days ago is
        left out of the file."""
        tenant = self.tenants[slug]
        actor = self.users[by] if by else self.owners[slug]
        with self.at(slug, day, 10.75):
            held = tenants.actor_permissions(actor=actor, tenant=tenant)
            expires_at = clock.now() + timedelta(days=expires_in_days) if expires_in_days else None
            key, raw = accounts.api_key_create(
                tenant=tenant,
                actor=actor,
                name=name,
                scopes=scopes,
                allowed_ips=allowed_ips,
                rate_limit_per_minute=rate_limit,
                expires_at=expires_at,
                actor_permissions=held,
            )
        self.keys[(slug, name)] = key
        self.raw_keys[(slug, name)] = raw
        if revoke_day is not None:
            with self.at(slug, revoke_day, 17):
                accounts.api_key_revoke(api_key=key, actor=actor, actor_permissions=held)
        else:
            note = "expired" if expires_at is not None and expires_at <= self.now else ""
            self.api_keys.append(
                DemoApiKey(tenant=tenant.name, name=name, scopes=sorted(scopes), raw=raw, note=note)
            )

    def actor(self, email: str) -> User:
        """A person by e-mail; "admin" is the platform admin."""
        return self.admin if email == "admin" else self.users[email]

    def settings(self, slug: str | None, changes: list[tuple[int, str, Any, str, str]]) -> None:
        """Settings changed over time: (days ago, key, value, who, reason); each change is a
        version. A `slug` of None: the platform's defaults."""
        tenant = self.tenants[slug] if slug else None
        for day, key, value, who, reason in changes:
            with self.at(slug, day, 11.5):
                tenants.setting_set(tenant=tenant, key=key, value=value, actor=self.actor(who), reason=reason)

    def flag(
        self, slug: str, key: str, who: str, description: str, rollouts: list[tuple[int, int]], **targets: Any
    ) -> Any:
        """A flag created at the first (days ago, rollout %) and ramped at each later one."""
        (day, first), *later = rollouts
        with self.at(slug, day, 13):
            flag = tenants.flag_create(
                tenant=self.tenants[slug],
                actor=self.actor(who),
                key=key,
                description=description,
                rollout_percentage=first,
                **targets,
            )
        for day, rollout in later:
            with self.at(slug, day, 13):
                flag = tenants.flag_update(
                    flag=flag, actor=self.actor(who), data={"rollout_percentage": rollout}
                )
        return flag

    def secret(self, slug: str, name: str, provider: str, who: str, *, day: int, team: str = "") -> Any:
        """A secret in the locker, its value random (only its last four stay readable)."""
        with self.at(slug, day, 15.2):
            return tenants.secret_create(
                tenant=self.tenants[slug],
                actor=self.actor(who),
                name=name,
                provider=provider,
                value=secret_value(provider),
                team=self.teams.get((slug, team)),
            )

    # --- Money -----------------------------------------------------------------------------------

    def post(self, slug: str, kind: str, amount: str, reason: str) -> None:
        """A grant, top-up or adjustment by platform staff, with its reason (audited)."""
        tenant = self.tenants[slug]
        billing.credits_post(tenant=tenant, kind=kind, amount=amount, reason=reason, actor=self.admin)

    def thresholds(self, slug: str, *values: str) -> None:
        for value in values:
            billing.threshold_create(tenant=self.tenants[slug], actor=self.owners[slug], threshold=value)

    def usage_steps(self, slug: str, profile: usage.UsageProfile, interludes: list[Interlude]) -> list[Step]:
        """The month's usage as batches, oldest first; each interlude (a top-up, a refund) runs at
        its moment, once the usage before that moment has been charged: the ledger is posted in
        time order, as it is in production (its seq and its posting times agree)."""
        name = slug.replace("-", " ").title()
        planned = [event for _, event in usage.plan_month(profile, tz_name=ZONES[slug], now=self.now)]
        marks = sorted(interludes, key=lambda mark: mark[0])
        steps: list[Step] = []
        index = 0
        for until, label, then in [*marks, (None, "", None)]:
            phase = [event for event in planned if until is None or event.occurred_at < until]
            planned = planned[len(phase) :]
            for batch in usage.batches(phase):
                steps.append((f"{name}: usage", self.within(slug, DemoScenario.charge, slug, batch, index)))
                index += len(batch.events)
            if then is not None and until is not None:
                steps.append((f"{name}: {label}", self.when(until, then)))
        return steps

    def renewal(self, slug: str, created: datetime) -> list[Interlude]:
        """The subscription's monthly renewal (the plan's included credits for the new period), an
        hour after the first period ends, as the hourly beat task would have done it; none if the
        period has not ended yet."""
        due = created + relativedelta(months=1) + timedelta(hours=1)
        if due >= self.now:
            return []

        def renew(s: DemoScenario) -> None:
            billing.subscription_renew(tenant=s.tenants[slug])

        return [(due, "monthly renewal", self.within(slug, renew))]

    def when(self, moment: datetime, fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            with clock.as_of(moment):
                fn()

        return run

    @property
    def models(self) -> usage.ModelBook:
        if self._models is None:
            self._models = usage.ModelBook()
        return self._models

    def model(self, tier: str) -> str:
        """The newest model of `tier` with a price in force now."""
        model = self.models.model(tier, self.now, pick=1.0)
        assert model is not None, f"no {tier} model has a price in force"
        return model

    def charge(self, slug: str, batch: usage.PlannedBatch, first_index: int) -> None:
        """Charge one planned batch through the runtimes' batch service, as its API key (the
        runtime's request authenticated first, as the API does: the key's last use)."""
        tenant, key = self.tenants[slug], (slug, batch.key_name)
        # Reported by the runtime right after the batch's last event: posted then.
        with clock.as_of(batch.events[-1].occurred_at + usage.REPORT_DELAY):
            usage.authenticate_runtime(tenant=tenant, api_key=self.keys[key], raw_key=self.raw_keys[key])
            outcome = usage.charge_batch(
                tenant=tenant,
                batch=batch,
                api_key=self.keys[key],
                models=self.models,
                first_index=first_index,
            )
        self.charged.setdefault(slug, []).extend(outcome.charged)
        self.usage_events += len(outcome.charged)
        self.refused += outcome.refused
