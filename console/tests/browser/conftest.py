"""Browser tests: Playwright for Python driving the system's Chromium (Debian's `chromium`; no
browser is ever downloaded) against pytest-django's live server.

Chromium missing is a failure naming the package, never a skip: `make test` installs it first
where it can (as root), or stops with the same message. Each test writes full-page screenshots
of the pages it visits to `.data/screenshots/` (git-ignored), on every run.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection, transaction

CHROMIUM = os.environ.get("QM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(settings.DATA_DIR) / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: the browser tests need Debian's `chromium` "
            "package (apt-get install -y chromium; `make test` installs it when run as root), "
            "or QM_CHROMIUM set to a Chromium binary.",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; Django refuses ORM calls from a
    # thread with a running loop. The test code's factories and checks are plain synchronous
    # code all the same (the live server answers from its own thread).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def system_roles(transactional_db: Any) -> None:
    """The system roles a data migration seeds: an earlier transactional test's flush removed them."""
    from django.apps import apps

    roles = importlib.import_module("accounts.migrations.0004_role_rls_system_roles")
    with transaction.atomic(), connection.schema_editor(atomic=False) as editor:
        roles.sync_system_roles(apps, editor)


class Browser:
    """One person's browser: a fresh context (cookies of its own) on the live server."""

    def __init__(self, browser: Any, base_url: str, *, viewport: dict[str, int] = DESKTOP) -> None:
        self.context = browser.new_context(base_url=base_url, viewport=viewport, locale="en-GB")
        self.context.set_default_timeout(5000)
        self.page = self.context.new_page()

    def open(self, path: str) -> Any:
        return self.page.goto(path)

    def shot(self, name: str) -> Path:
        """A full-page screenshot in .data/screenshots/ (overwritten on each run)."""
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def sign_in(self, email: str, password: str, *, shot: str = "") -> None:
        self.open("/signin/")
        self.page.get_by_label("E-mail").fill(email)
        self.page.get_by_label("Password").fill(password)
        if shot:
            self.shot(shot)
        self.page.get_by_role("button", name="Sign in").click()

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def people(browser: Any, live_server: Any, system_roles: None) -> Iterator[Any]:
    """people(viewport=...) -> a new Browser on the live server; all closed after the test."""
    opened: list[Browser] = []

    def open_one(**kwargs: Any) -> Browser:
        one = Browser(browser, live_server.url, **kwargs)
        opened.append(one)
        return one

    yield open_one
    for one in opened:
        one.close()
