"""Posting an alert to a Slack incoming webhook (the tenant's `notifications.slack_webhook_url`).

The standard library's HTTP client: one JSON POST, a short timeout, no redirects followed (a
webhook that redirects is misconfigured, and following it could send the alert elsewhere).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlparse

import structlog

logger = structlog.get_logger(__name__)

TIMEOUT_SECONDS = 5.0
SEVERITY_ICONS = {"info": ":information_source:", "warning": ":warning:", "critical": ":rotating_light:"}


# Names reserved never to resolve to a real host (RFC 2606, RFC 6761): a webhook under one is a
# placeholder (the demo's, a test's), so nothing is sent, not even a DNS query, and nothing retried.
RESERVED_SUFFIXES = (".example", ".invalid", ".test", ".localhost")


def reserved_host(url: str) -> bool:
    host = (urlparse(url).hostname or "").rstrip(".").lower()
    return host == "localhost" or host.endswith(RESERVED_SUFFIXES)


class SlackDeliveryError(Exception):
    """Slack did not take the message (network error, timeout, an answer other than 2xx)."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def message_of(*, tenant_name: str, severity: str, title: str, message: str, source: str) -> dict[str, Any]:
    """The webhook's JSON body for one alert."""
    icon = SEVERITY_ICONS.get(severity, "")
    text = f"{icon} *{title}* ({severity}, {source}) · {tenant_name}"
    if message:
        text += f"\n{message}"
    return {"text": text}


def post_webhook(url: str, body: dict[str, Any], *, timeout: float = TIMEOUT_SECONDS) -> None:
    """POST `body` as JSON to `url`; raise SlackDeliveryError unless it answers 2xx. A URL under
    a reserved name is a placeholder: nothing is sent."""
    if reserved_host(url):
        logger.info("alerts.slack_placeholder_not_sent")
        return
    # https only: the setting's validator refuses any other scheme (no file:, no plain http).
    request = urllib.request.Request(  # noqa: S310
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "Quartermaster alerts"},
        method="POST",
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            if not 200 <= response.status < 300:
                raise SlackDeliveryError(f"Slack answered {response.status}")
    except urllib.error.HTTPError as exc:
        raise SlackDeliveryError(f"Slack answered {exc.code}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        # The URL is a secret: the error names neither it nor its host.
        raise SlackDeliveryError(f"Slack unreachable ({type(exc).__name__})") from exc
