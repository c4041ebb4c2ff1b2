"""The platform's staff and defaults, and people signing in: sessions on their devices, a typo,
a lockout by a stranger's guesses, members who drifted away.

Logins go through accounts' own services with a request built by RequestFactory from a given
address and browser, so django-axes, the failed-login policy, the second factor and the audit
entries behave as they do for a browser.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from accounts import services as accounts
from accounts.models import User, UserSession
from accounts.services.auth import AccountLocked, AuthenticationError
from console.demo.scenario import HOSHI, DemoScenario, password
from tenants import services as tenants

OPERATOR = "olivia.ops@quartermaster.example"

# Client addresses from the documentation ranges (RFC 5737, RFC 3849).
BERLIN_OFFICE = "198.51.100.23"
NEW_YORK_OFFICE = "198.51.100.77"
TOKYO_OFFICE = "203.0.113.40"
HOME = "2001:db8:4::12"
STRANGER = "203.0.113.66"

FIREFOX_MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.6; rv:132.0) Gecko/20100101 Firefox/132.0"
CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Mobile/15E148 Safari/604.1"
)
SCRIPT = "python-httpx/0.28.1"

# (e-mail, address, browser, device, through the whole login with the password)
SESSIONS: tuple[tuple[str, str, str, str, bool], ...] = (
    ("greta.hansen@northwind.example", BERLIN_OFFICE, FIREFOX_MAC, "Greta's MacBook", True),
    ("greta.hansen@northwind.example", HOME, SAFARI_IPHONE, "Greta's iPhone", False),
    ("jonas.weber@northwind.example", BERLIN_OFFICE, CHROME_WINDOWS, "Jonas's workstation", False),
    ("lena.fischer@northwind.example", BERLIN_OFFICE, CHROME_WINDOWS, "New laptop", False),
    ("lena.fischer@northwind.example", BERLIN_OFFICE, SCRIPT, "CLI", False),
    ("sofia.costa@northwind.example", HOME, SAFARI_IPHONE, "Sofia's iPhone", False),
    ("priya.nair@northwind.example", BERLIN_OFFICE, CHROME_WINDOWS, "Priya's PC", True),
    ("sam.carter@acme-analytics.example", NEW_YORK_OFFICE, CHROME_WINDOWS, "Sam's laptop", True),
    ("jordan.lee@acme-analytics.example", NEW_YORK_OFFICE, FIREFOX_MAC, "Jordan's Mac", False),
    ("kai.tanaka@hoshi-logistics.example", TOKYO_OFFICE, CHROME_WINDOWS, "Kai's laptop", False),
    ("yuki.sato@hoshi-logistics.example", TOKYO_OFFICE, SAFARI_IPHONE, "Yuki's iPhone", True),
    ("haruto.kimura@hoshi-logistics.example", TOKYO_OFFICE, FIREFOX_MAC, "Haruto's Mac", False),
    ("mei.suzuki@hoshi-logistics.example", TOKYO_OFFICE, CHROME_WINDOWS, "Mei's PC", False),
    ("ren.ito@hoshi-logistics.example", TOKYO_OFFICE, SCRIPT, "ops script", False),
    ("morgan.doe@globex.example", HOME, CHROME_WINDOWS, "Morgan's laptop", False),
    (OPERATOR, HOME, FIREFOX_MAC, "Olivia's laptop", False),
)
LOCKED_OUT = "tom.becker@northwind.example"
TYPO = "priya.nair@northwind.example"


def _request(s: DemoScenario, ip: str, user_agent: str) -> HttpRequest:
    request: HttpRequest = s.requests.post("/api/v1/auth/login", REMOTE_ADDR=ip, HTTP_USER_AGENT=user_agent)
    return request


# --- The platform ----------------------------------------------------------------------------------


def platform_staff(s: DemoScenario) -> None:
    """An operator beside the admin (two months ago), and platform-wide defaults changed over
    the weeks, with reasons."""
    with s.at(None, 60, 9):
        s.operator(OPERATOR, "Olivia Okafor")
    s.settings(
        None,
        [
            (58, "audit.retention_days", 120, "admin", "Compliance asked for four months of audit trail."),
            (
                26,
                "billing.reservation_ttl_seconds",
                1200,
                "admin",
                "Long tool calls outlived 15-minute holds.",
            ),
            (
                9,
                "billing.reservation_ttl_seconds",
                1800,
                "admin",
                "Still too short for the nightly planners.",
            ),
        ],
    )


def platform_flags(s: DemoScenario) -> None:
    """Platform-wide flags: one ramped to 20 % and targeted at a tenant, one switched off after
    the maintenance it announced."""
    with s.at(None, 22, 8):
        stream = tenants.flag_create(
            tenant=None,
            actor=s.admin,
            key="platform.live-stream",
            description="The live websocket stream of agent activity.",
            rollout_percentage=5,
            target_tenants=[s.tenants[HOSHI].pk],
        )
    with s.at(None, 13, 8):
        tenants.flag_update(flag=stream, actor=s.admin, data={"rollout_percentage": 20})
    with s.at(None, 12, 7):
        banner = tenants.flag_create(
            tenant=None,
            actor=s.admin,
            key="platform.maintenance-banner",
            description="The banner announcing planned maintenance.",
            rollout_percentage=100,
        )
    with s.at(None, 10, 6):
        tenants.flag_update(flag=banner, actor=s.admin, data={"enabled": False})


# --- Signing in ------------------------------------------------------------------------------------


def sign_in(s: DemoScenario, email: str, ip: str, user_agent: str, device: str, *, full: bool) -> UserSession:
    """A session on a device. `full`: through the whole login (password under the lockout
    policy, then the second factor by a backup code); else the session a login opens."""
    user, login = s.users[email], s.logins[email]
    request = _request(s, ip, user_agent)
    with s.client(ip, user_agent):
        if not full:
            return accounts.session_start(
                user=user, request=request, device_name=device, mfa_verified=bool(login.totp_uri)
            ).session
        outcome = accounts.login(request=request, email=email, password=login.password, device_name=device)
        if outcome.tokens is not None:
            return outcome.tokens.session
        code = login.backup_codes.pop()  # used now: the file lists the codes left
        tokens, _kind = accounts.login_mfa_verify(
            request=request, challenge_token=outcome.challenge_token, code=code, device_name=device
        )
        return tokens.session


def sign_ins(s: DemoScenario) -> None:
    """Everyone active signs in, some on two devices; Lena logged out of an old laptop; Priya
    typed her password wrong once first."""
    lena = s.users["lena.fischer@northwind.example"]
    old = sign_in(s, lena.email, BERLIN_OFFICE, FIREFOX_MAC, "Old laptop", full=False)
    accounts.session_revoke(session=old, actor=lena, reason="logout")
    with s.client(BERLIN_OFFICE, CHROME_WINDOWS), suppress(AuthenticationError):
        request = _request(s, BERLIN_OFFICE, CHROME_WINDOWS)
        accounts.password_check(request=request, email=TYPO, password=password())
    for email, ip, user_agent, device, full in SESSIONS:
        sign_in(s, email, ip, user_agent, device, full=full)


def lockout(s: DemoScenario) -> None:
    """A stranger guesses Tom's password from one address, through the real policy, until that
    address is locked out of his account (for the cool-off; staff can unlock him)."""
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        with s.client(STRANGER, SCRIPT):
            request = _request(s, STRANGER, SCRIPT)
            try:
                accounts.password_check(request=request, email=LOCKED_OUT, password=password())
            except AccountLocked:
                break
            except AuthenticationError:
                continue
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    s.logins[LOCKED_OUT].note = f"locked out from {STRANGER} for {minutes} min after the seed"


def dormant(s: DemoScenario) -> None:
    """People whose last sign-in is a month old (they joined a few weeks before, as the steps
    that invited them say).

    The seed's one direct write: a login opens a session that lasts, and these people's
    sessions would have ended long ago; being dormant is exactly that. Like the authenticator's
    own `last_seen_at` touch, a plain UPDATE of the person's timestamps; nothing else about them
    changes.
    """
    sleepers = sorted((x for x in s.logins.values() if x.note == "dormant"), key=lambda x: x.email)
    for n, login in enumerate(sleepers):
        last = s.now - timedelta(days=30 + n, hours=3 * n)
        changes: dict[str, Any] = {"last_login": last, "last_seen_at": last + timedelta(minutes=40)}
        User.objects.filter(pk=s.users[login.email].pk).update(**changes)
        login.note = f"dormant: last signed in {last:%Y-%m-%d}"
