"""Alerts for tests, raised through the service (an audit entry, as in real life)."""

from __future__ import annotations

import itertools
from typing import Any

from alerts import services
from alerts.models import Alert
from core.tenancy import platform_bypass, tenant_context

_n = itertools.count(1)


def make_alert(tenant: Any | None = None, **kwargs: Any) -> Alert:
    """An open alert of `tenant` (None: a platform alert)."""
    values: dict[str, Any] = {
        "severity": "warning",
        "source": "tests",
        "title": f"Alert {next(_n)}",
        "message": "Something to look at.",
        **kwargs,
    }
    if tenant is None:
        with platform_bypass(reason="test alert", log=False):
            return services.alert_raise(tenant_id=None, **values)[0]
    with tenant_context(tenant):
        return services.alert_raise(tenant_id=tenant, **values)[0]
