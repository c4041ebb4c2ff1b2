"""Every console route has a guard (console.access): a tenant's pages (`t/<uuid:tenant_id>/...`)
go through the tenant gate with a registered permission; the rest need a signed-in user, but
for the few public ones named here with the reason. A new page without a guard fails here."""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver

from accounts import permissions
from console.access import GUARD_ATTRIBUTE

PUBLIC = {
    "signin": "The sign-in form itself.",
    "signin_verify": "The second factor: the signed challenge in the session is the credential.",
    "signin_enroll": "Forced enrolment: the signed challenge in the session is the credential.",
    "signout": "Ends whatever session there is (POST only); nothing to see.",
    "password_forgot": "Asks for a reset link: for people who cannot sign in; same answer for any address.",
    "password_reset": "The e-mailed reset link: its uid and token are the credential.",
    "invite_accept": "The e-mailed invite link: its token is the credential (newcomers have no account).",
}


def _flatten(entries: list[Any], prefix: str = "") -> list[tuple[str, URLPattern]]:
    """Every pattern under `entries` with its full route, through nested includes."""
    found: list[tuple[str, URLPattern]] = []
    for entry in entries:
        if isinstance(entry, URLResolver):
            found += _flatten(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            found.append((prefix + str(entry.pattern), entry))
    return found


def _console_patterns() -> list[tuple[str, URLPattern]]:
    resolver: Any = next(
        entry
        for entry in get_resolver().url_patterns
        if isinstance(entry, URLResolver) and getattr(entry, "app_name", None) == "console"
    )
    return _flatten(resolver.url_patterns)


def test_console_routes__walked__each_has_the_guard_its_path_calls_for() -> None:
    problems = []
    patterns = _console_patterns()
    assert len(patterns) >= 8
    for route, pattern in patterns:
        guard = getattr(pattern.callback, GUARD_ATTRIBUTE, None)
        if route.startswith("t/<uuid:tenant_id>/"):
            permission = (guard or "").removeprefix("tenant:")
            if not (guard or "").startswith("tenant:") or permission not in permissions.ALL:
                problems.append(
                    f"{route}: a tenant's page needs tenant_page(<registered permission>), has {guard}"
                )
        elif pattern.name in PUBLIC:
            if guard != "public":
                problems.append(f"{route}: listed as public but guarded as {guard}")
        elif guard != "user":
            problems.append(f"{route}: needs user_page (or a reason in PUBLIC), has {guard}")
    assert problems == []


def test_public_list__each_entry__names_a_console_route() -> None:
    names = {pattern.name for _, pattern in _console_patterns()}
    assert set(PUBLIC) <= names
