"""The console's navigation: a tenant's sections, the platform's, the user's own pages.

Each entry names its page by URL name and the permission that page's guard asks for; the layout
shows an entry only when the caller has it (`TenantAccess.allows` in a tenant, platform staff
for the platform's), so no one is offered a page that would refuse them. An entry whose URL
name does not resolve (its page not built yet) is left out rather than breaking every page.

To add a section: one line below, with the URL name its view module registers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.urls import NoReverseMatch, reverse

from core.access import PLATFORM_STAFF, TenantAccess


@dataclass(frozen=True)
class Section:
    label: str
    url_name: str
    permission: (
        str  # a registered permission; PLATFORM_STAFF for the platform's pages; "" for any signed-in user
    )


@dataclass(frozen=True)
class Link:
    label: str
    url: str
    current: bool


TENANT_SECTIONS: tuple[Section, ...] = (
    Section("Overview", "console:overview", "tenant:read"),
    Section("Members", "console:members", "members:read"),
    Section("Invites", "console:invites", "invites:read"),
    Section("Roles", "console:roles", "roles:read"),
    Section("Teams", "console:teams", "teams:read"),
    Section("Agents", "console:agents", "agents:read"),
    Section("Templates", "console:templates", "agents:read"),
    Section("Alerts", "console:alerts", "alerts:read"),
    Section("Sessions", "console:sessions", "sessions:read"),
    Section("Tasks", "console:tasks", "tasks:read"),
    Section("Skills", "console:skills", "skills:read"),
    Section("API keys", "console:api_keys", "api_keys:read"),
    Section("Settings", "console:settings", "settings:read"),
    Section("Feature flags", "console:flags", "flags:read"),
    Section("Secrets", "console:secrets", "secrets:read"),
    Section("Credits", "console:credits", "credits:read"),
    Section("Audit log", "console:audit", "audit:read"),
    Section("Graph", "console:graph", "interventions:admin"),
    Section("Analytics", "console:analytics", "analytics:read"),
    Section("Segments", "console:segments", "interventions:admin"),
    Section("Recommendations", "console:recommendations", "interventions:admin"),
    Section("Interventions", "console:interventions", "interventions:admin"),
)

PLATFORM_SECTIONS: tuple[Section, ...] = (
    Section("Dashboard", "console:platform", PLATFORM_STAFF),
    Section("Tenants", "console:platform_tenants", PLATFORM_STAFF),
    Section("Users", "console:platform_users", PLATFORM_STAFF),
    Section("Credits", "console:platform_credits", PLATFORM_STAFF),
    Section("Analytics", "console:platform_analytics", PLATFORM_STAFF),
    Section("Live connections", "console:platform_connections", PLATFORM_STAFF),
    Section("Catalogue", "console:platform_catalogue", PLATFORM_STAFF),
)

ACCOUNT_SECTIONS: tuple[Section, ...] = (
    Section("Two-factor authentication", "console:two_factor", ""),
    Section("Sessions and devices", "console:devices", ""),
)

ALL_SECTIONS: tuple[Section, ...] = TENANT_SECTIONS + PLATFORM_SECTIONS + ACCOUNT_SECTIONS


def current_name(request: Any) -> str:
    """The namespaced URL name of the page being shown (`console:members`), or ""."""
    match = getattr(request, "resolver_match", None)
    return match.view_name if match is not None else ""


def _links(
    sections: Iterable[Section], current: str, kwargs: dict[str, Any] | None = None, *, path: str = ""
) -> list[Link]:
    """The sections' links; the current one is the page's own section, or else, for a page
    under a section (one setting, one team, a new key), the section whose URL is the longest
    start of the page's path."""
    found: list[tuple[Section, str]] = []
    for section in sections:
        try:
            found.append((section, reverse(section.url_name, kwargs=kwargs)))
        except NoReverseMatch:
            continue  # that page is not built yet
    current_url = next((url for section, url in found if section.url_name == current), "")
    if not current_url and path:
        current_url = max((url for _, url in found if path.startswith(url)), key=len, default="")
    return [Link(section.label, url, url == current_url) for section, url in found]


def tenant_links(access: TenantAccess, current: str, *, path: str = "") -> list[Link]:
    """The tenant's sections this caller may open there."""
    allowed = [section for section in TENANT_SECTIONS if access.allows(section.permission)]
    return _links(allowed, current, {"tenant_id": access.tenant.pk}, path=path)


def platform_links(user: Any, current: str, *, path: str = "") -> list[Link]:
    """The platform's sections, for platform staff only."""
    if not getattr(user, "is_platform_staff", False):
        return []
    return _links(PLATFORM_SECTIONS, current, path=path)


def account_links(current: str) -> list[Link]:
    """The signed-in user's own pages (the user menu)."""
    return _links(ACCOUNT_SECTIONS, current)
