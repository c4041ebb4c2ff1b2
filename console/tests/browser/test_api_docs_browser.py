"""The API documentation works offline: nothing is asked of any host but the server's own."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from console.tests.browser.conftest import SCREENSHOTS


@pytest.mark.parametrize(("path", "name"), [("/api/redoc/", "redoc"), ("/api/docs/", "swagger")])
def test_api_docs__rendered_in_chromium__no_request_leaves_the_server(people: Any, path: str, name: str):
    person = people()
    asked: list[str] = []
    errors: list[str] = []
    # What reached a server: a request the page's policy refused is reported, but never sent.
    person.page.on("requestfinished", lambda request: asked.append(request.url))
    person.page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )

    person.open(path)
    # Redoc parses the whole schema in the browser before it shows anything: give it time.
    person.page.get_by_text("Quartermaster API").first.wait_for(timeout=30_000)
    # Only what the page's policy refused (Redoc's footer logo, on a CDN) may be reported.
    assert [text for text in errors if "Content Security Policy" not in text] == []
    person.page.wait_for_load_state("networkidle")
    # The viewport only: the full pages are tens of thousands of pixels tall.
    person.page.screenshot(path=str(SCREENSHOTS / f"api-docs-{name}.png"), timeout=30_000)

    server = urlsplit(person.page.url).netloc
    elsewhere = [
        url for url in asked if urlsplit(url).scheme in ("http", "https") and urlsplit(url).netloc != server
    ]
    assert elsewhere == [], f"asked other hosts: {elsewhere}"
    assert any(url.endswith("/api/schema/") for url in asked)  # the page really loaded the schema
