"""System checks of accounts: every permission an API view asks for is a registered one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.core import checks
from django.urls import get_resolver

from accounts import permissions as registry
from core.access import PLATFORM_PERMISSIONS
from core.api import PlatformApi, TenantScopedApi


def _subclasses(cls: type) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


@checks.register(checks.Tags.security)
def check_permission_maps(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """A permission map naming an unregistered permission would refuse everyone (or, for a typo
    of a platform entry, let in whoever holds a permission of that name): caught at start-up."""
    get_resolver().url_patterns  # noqa: B018  # imports every view, so every subclass is known
    errors: list[checks.CheckMessage] = []
    for view in [*_subclasses(TenantScopedApi), *_subclasses(PlatformApi)]:
        for method, permission in view.permission_map.items():  # type: ignore[attr-defined]  # _SealedApi subclasses
            if permission not in registry.ALL and permission not in PLATFORM_PERMISSIONS:
                errors.append(
                    checks.Error(
                        f"{view.__module__}.{view.__qualname__}: {method} needs {permission!r}, "
                        "which is not a registered permission (accounts/permissions.py).",
                        id="accounts.E001",
                    )
                )
    return errors
