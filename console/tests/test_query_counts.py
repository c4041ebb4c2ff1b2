"""Each of the console's own pages (the overview's is in test_overview.py, the e-mailed links'
in test_emailed_links.py) runs a fixed number of queries: the same with one tenant as with many
(the header's switcher, the tenant list), pinned here."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import TEST_PASSWORD
from audit.models import AuditLogEntry
from console.access import SWITCHER_LIMIT
from console.tests.conftest import enrol
from core.tenancy import platform_bypass
from tenants.tests.factories import TenantFactory, member

pytestmark = pytest.mark.django_db


def _statements(client: Client, url: str, status: int = 200) -> list[str]:
    """The statements a page ran (savepoints aside: the test's own transaction adds them)."""
    client.get(url)  # warm: the configuration cache, the session
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == status, response.content[:300]
    return [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]


def _more_tenants(user: Any, count: int = SWITCHER_LIMIT + 3) -> None:
    for number in range(count):
        member(TenantFactory.create(name=f"Tenant {number:02d}"), "member", user=user)


def _pinned(client: Client, user: Any, url: str, expected: int, status: int = 200) -> None:
    few = _statements(client, url, status)
    _more_tenants(user)
    many = _statements(client, url, status)
    assert len(many) == len(few), "\n".join(many)
    assert len(few) == expected, "\n".join(q[:160] for q in few)


def test_tenant_list__query_count__same_for_one_tenant_and_many(signed_in: Any, owner: Any) -> None:
    # The Django session; the accounts session with its user; the page of tenants with its
    # count (in the user's row-level-security context: set and restore); the switcher's.
    _pinned(signed_in(owner), owner, "/tenants/", 9)


def test_two_factor_page__query_count__same_for_one_tenant_and_many(signed_in: Any, owner: Any) -> None:
    # Sessions as above; whether a TOTP device is confirmed; which tenants demand 2FA (in the
    # user's row-level-security context: read, set, restore); the switcher likewise.
    _pinned(signed_in(owner), owner, "/account/two-factor/", 9)


def test_two_factor_page__enrolled__query_count_same_for_one_tenant_and_many(owner: Any) -> None:
    codes = enrol(owner)
    client = Client()
    client.post("/signin/", {"email": owner.email, "password": TEST_PASSWORD})
    assert client.post("/signin/verify/", {"code": codes[0]}).status_code == 302
    _pinned(client, owner, "/account/two-factor/", 9)


def test_refusal_page__other_tenant__query_count_same_for_one_tenant_and_many(
    signed_in: Any, owner: Any, other_tenant: Any
) -> None:
    # Sessions; the gate (its RLS settings, the membership: none, the tenant twice); the
    # refusal's audit check; the switcher in the user's context. The refusal's audit entry is
    # written once a minute per caller and route (audit.services.record_refusal): by the first
    # of the four requests (a warm-up), so the measured ones compare the same work.
    _pinned(signed_in(owner), owner, f"/t/{other_tenant.pk}/", 9, status=403)
    with platform_bypass(reason="test", log=False):
        assert AuditLogEntry.objects.filter(action="access.denied", tenant=other_tenant).count() == 1


@pytest.mark.parametrize(("url", "expected"), [("/signin/", 0), ("/password/forgot/", 0)])
def test_public_pages__query_count__none(url: str, expected: int) -> None:
    assert len(_statements(Client(), url)) == expected
