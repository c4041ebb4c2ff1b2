"""What the configuration pages share: their templates, labels and two small helpers."""

from __future__ import annotations

from django.http import HttpResponse

from accounts.models import User
from core.access import TenantAccess

SETTINGS_TEMPLATE = "console/configuration/settings.html"
SETTING_TEMPLATE = "console/configuration/setting.html"
FLAGS_TEMPLATE = "console/configuration/flags.html"
FLAG_TEMPLATE = "console/configuration/flag.html"
LOCKER_TEMPLATE = "console/configuration/secrets.html"
LOCKER_ENTRY_TEMPLATE = "console/configuration/secret.html"
VERSIONS_SHOWN = 50
NOT_SET = "Not set"
NO_STORE = "no-store"
EVALUATE = "eval"  # the evaluation form's prefix: its environment is not the list's filter
SOURCES = {"tenant": "This tenant", "platform": "Platform default", "default": "Built-in default"}


def _actor(access: TenantAccess) -> User:
    user: User = access.user
    return user


def _no_store(response: HttpResponse) -> HttpResponse:
    """A page that shows a secret value: kept by no cache, the browser's included."""
    response["Cache-Control"] = NO_STORE
    return response
