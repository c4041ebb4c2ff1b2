"""Base class for platform-wide management commands (tenants.commands has TenantCommand).

`PlatformCommand`: `handle_platform(**options)` runs under the audited platform bypass, with the
command's name as the reason.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from core.tenancy import platform_bypass


class PlatformCommand(BaseCommand):
    def handle(self, *args: Any, **options: Any) -> Any:
        name = self.__class__.__module__.rsplit(".", 1)[-1]
        with platform_bypass(reason=f"manage.py {name}", audit=True):
            return self.handle_platform(*args, **options)

    def handle_platform(self, *args: Any, **options: Any) -> Any:
        raise NotImplementedError
