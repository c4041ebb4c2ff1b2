"""The console's member list: each member's two-factor state in the same single query."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.services import mfa
from accounts.tests.conftest import totp_code
from core.tenancy import tenant_context
from tenants.selectors.people import member_rows
from tenants.tests.factories import member

pytestmark = pytest.mark.django_db


def _enrol(user: Any) -> None:
    mfa.totp_enroll(user=user)
    mfa.totp_confirm(user=user, code=totp_code(user, confirmed=False))


def test_member_rows__enrolled_and_not__mfa_enabled_per_member_in_one_query(tenant: Any) -> None:
    with_2fa = member(tenant, "admin")
    without = member(tenant, "viewer")
    unconfirmed = member(tenant, "member")
    _enrol(with_2fa)
    mfa.totp_enroll(user=unconfirmed)  # started, never confirmed: still off
    with tenant_context(tenant), CaptureQueriesContext(connection) as queries:
        rows = {
            row.user.email: (row.mfa_enabled, row.role.slug)  # type: ignore[attr-defined]  # annotated
            for row in member_rows(tenant=tenant)
        }
    assert rows == {
        with_2fa.email: (True, "admin"),
        without.email: (False, "viewer"),
        unconfirmed.email: (False, "member"),
    }
    assert len(queries) == 1


def test_member_rows__filters__as_member_list(tenant: Any) -> None:
    member(tenant, "admin", user__email="ada@example.com")
    member(tenant, "viewer", user__email="bob@example.com")
    with tenant_context(tenant):
        found = [row.user.email for row in member_rows(tenant=tenant, filters={"q": "ada"})]
    assert found == ["ada@example.com"]
