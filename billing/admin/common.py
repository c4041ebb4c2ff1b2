"""What billing's admin pages share: links to other admin pages, the acting staff member."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from accounts.models import User


def admin_link(obj: Any, text: Any = None) -> str:
    """A link to an object's admin page."""
    opts = obj._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    return format_html('<a class="text-primary-600 underline" href="{}">{}</a>', url, text or obj)


def tenant_link(tenant: Any) -> str:
    return admin_link(tenant, tenant.name)


def changelist_link(url_name: str, text: str, **filters: Any) -> str:
    """A link to a changelist, filtered (e.g. `tenant__id__exact=...`)."""
    url = reverse(f"admin:{url_name}_changelist")
    if filters:
        url = f"{url}?{urlencode({k: str(v) for k, v in filters.items()})}"
    return format_html('<a class="text-primary-600 underline" href="{}">{}</a>', url, text)


def credits_text(value: Decimal | None) -> str:
    """Credits for people: thousands separated, two decimals (the ledger keeps six)."""
    if value is None:
        return "—"
    return f"{value:,.2f}"


def actor_of(request: HttpRequest) -> User:
    """The platform staff member using the back office, as the services' actor."""
    user = request.user
    if not isinstance(user, User):  # the admin site lets no anonymous caller this far
        raise PermissionDenied
    return user
