"""Slack delivery: after commit only, never on rollback, retried when Slack fails; the HTTP post
itself against a fake local server (no network)."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction

from alerts import slack
from alerts.tasks import MAX_RETRIES, deliver_slack
from alerts.tests.factories import make_alert
from tenants.tests.factories import setting_value

HOOK = "https://hooks.slack.example/services/T000/B000/XXXX"

pytestmark = pytest.mark.django_db


class FakeSlack:
    """Stands in for slack.post_webhook: records each post, fails the first `failures`."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, url: str, body: dict[str, Any], **kwargs: Any) -> None:
        self.calls.append((url, body))
        if len(self.calls) <= self.failures:
            raise slack.SlackDeliveryError("Slack answered 503")


@pytest.fixture
def fake_slack(monkeypatch: pytest.MonkeyPatch) -> FakeSlack:
    fake = FakeSlack()
    monkeypatch.setattr(slack, "post_webhook", fake)
    return fake


@pytest.fixture
def hooked(tenant: Any) -> Any:
    setting_value(tenant, "notifications.slack_webhook_url", HOOK)
    return tenant


def test_slack__raised_and_committed__posted_once_with_title(
    hooked: Any, fake_slack: FakeSlack, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        make_alert(hooked, title="Container c-1 unhealthy", severity="critical")

    assert len(fake_slack.calls) == 1
    url, body = fake_slack.calls[0]
    assert url == HOOK
    assert "Container c-1 unhealthy" in body["text"]
    assert hooked.name in body["text"]


def _raise_then_roll_back(tenant: Any) -> None:
    with transaction.atomic():
        make_alert(tenant)
        raise RuntimeError("roll back")


def test_slack__not_committed__nothing_posted(
    hooked: Any, fake_slack: FakeSlack, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        _raise_then_roll_back(hooked)

    assert callbacks == []
    assert fake_slack.calls == []


def test_slack__before_commit__nothing_posted_yet(
    hooked: Any, fake_slack: FakeSlack, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        make_alert(hooked)
        assert fake_slack.calls == []

    for callback in callbacks:
        callback()
    assert len(fake_slack.calls) == 1


@pytest.fixture
def eager_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Eagerly (tests), a retry runs at once in place of the failed attempt, but only when the
    failure is not propagated first; a worker would schedule it with backoff instead."""
    monkeypatch.setitem(deliver_slack.app.conf, "task_eager_propagates", False)


def test_slack__fails_twice__retried_until_delivered(
    hooked: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
    eager_retries: None,
) -> None:
    fake = FakeSlack(failures=2)
    monkeypatch.setattr(slack, "post_webhook", fake)

    with django_capture_on_commit_callbacks(execute=True):
        make_alert(hooked)

    assert len(fake.calls) == 3


def test_slack__always_failing__gives_up_after_max_retries(
    hooked: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
    eager_retries: None,
) -> None:
    fake = FakeSlack(failures=100)
    monkeypatch.setattr(slack, "post_webhook", fake)
    with django_capture_on_commit_callbacks(execute=True):
        make_alert(hooked)

    assert len(fake.calls) == MAX_RETRIES + 1


def test_slack__no_webhook_setting__nothing_queued(
    tenant: Any, fake_slack: FakeSlack, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        make_alert(tenant)

    assert fake_slack.calls == []


def test_slack__duplicate_raise__posted_once(
    hooked: Any, fake_slack: FakeSlack, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        make_alert(hooked, dedupe_key="same")
        make_alert(hooked, dedupe_key="same")

    assert len(fake_slack.calls) == 1


# --- The HTTP post, against a fake server on 127.0.0.1 --------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    answers: list[int] = []
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # http.server's name
        length = int(self.headers.get("Content-Length", 0))
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(type(self).answers.pop(0) if type(self).answers else 200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _Handler.answers, _Handler.received = [], []
    httpd = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/hook"
    httpd.shutdown()
    httpd.server_close()


def test_post_webhook__200__json_body_received(server: str) -> None:
    slack.post_webhook(server, {"text": "hello"})

    assert _Handler.received == [{"text": "hello"}]


def test_post_webhook__500__delivery_error(server: str) -> None:
    _Handler.answers = [500]

    with pytest.raises(slack.SlackDeliveryError, match="500"):
        slack.post_webhook(server, {"text": "x"})


def test_post_webhook__nobody_listening__delivery_error_without_url() -> None:
    with pytest.raises(slack.SlackDeliveryError) as caught:
        slack.post_webhook("http://127.0.0.1:9/secret-path", {"text": "x"}, timeout=1)

    assert "secret-path" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        HOOK,
        "https://hooks.slack.invalid/services/T/B/X",
        "https://alerts.test/hook",
        "https://LOCALHOST./hook",
        "https://a.localhost/hook",
    ],
)
def test_post_webhook__reserved_name__nothing_sent(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a placeholder webhook must not be contacted")

    monkeypatch.setattr(slack._OPENER, "open", refuse)

    slack.post_webhook(url, {"text": "x"})  # no error, no connection, nothing to retry


def test_reserved_host__real_names__false() -> None:
    assert not slack.reserved_host("https://hooks.slack.com/services/T/B/X")
    assert not slack.reserved_host("https://example.com/hook")  # a real domain, not the TLD
