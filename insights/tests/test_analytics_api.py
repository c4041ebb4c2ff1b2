"""Daily analytics over HTTP: the platform's (staff only) and a tenant's (analytics:read)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from accounts.tests.factories import UserFactory
from insights.tests.factories import DailyAnalyticsFactory
from tenants.tests.factories import MembershipFactory, RoleFactory, member

pytestmark = pytest.mark.django_db

PLATFORM_URL = "/api/v1/analytics/daily"
TODAY = datetime.now(UTC).date()


def tenant_url(tenant: Any) -> str:
    return f"/api/v1/tenants/{tenant.pk}/analytics/daily"


def days(body: dict) -> list[str]:
    return [row["date"] for row in body["results"]]


def test_tenant_daily__viewer__own_rows_oldest_first_with_margin(tenant, other_tenant, as_user):
    DailyAnalyticsFactory.create(tenant=tenant, date=TODAY)
    DailyAnalyticsFactory.create(tenant=tenant, date=TODAY - timedelta(days=2))
    DailyAnalyticsFactory.create(tenant=other_tenant, date=TODAY - timedelta(days=1))
    DailyAnalyticsFactory.create(tenant=None, date=TODAY - timedelta(days=1))

    r = as_user(member(tenant, "viewer")).get(tenant_url(tenant))

    assert r.status_code == 200, r.content
    body = r.json()
    assert days(body) == [str(TODAY - timedelta(days=2)), str(TODAY)]
    assert {row["tenant_id"] for row in body["results"]} == {str(tenant.pk)}
    assert body["results"][0]["credits_charged"] == "2.250000"
    assert body["results"][0]["margin_usd"] == "0.750000000000"


def test_tenant_daily__from_to__only_the_days_between_both_included(tenant, owner, as_user):
    for n in range(5):
        DailyAnalyticsFactory.create(tenant=tenant, date=date(2025, 3, 1) + timedelta(days=n))

    r = as_user(owner).get(tenant_url(tenant), {"from": "2025-03-02", "to": "2025-03-04"})

    assert days(r.json()) == ["2025-03-02", "2025-03-03", "2025-03-04"]


def test_tenant_daily__other_tenants_owner__403_not_a_member(tenant, other_tenant, as_user):
    # The URL names no object: another tenant's caller is refused at the gate, like everywhere.
    DailyAnalyticsFactory.create(tenant=tenant, date=TODAY)

    r = as_user(member(other_tenant, "owner")).get(tenant_url(tenant))

    assert r.status_code == 403
    assert r.json()["code"] == "not_a_member"
    assert "results" not in r.json()


def test_tenant_daily__platform_staff_unknown_tenant__404(as_user):
    r = as_user(UserFactory.create(platform_operator=True)).get(
        "/api/v1/tenants/00000000-0000-4000-8000-000000000000/analytics/daily"
    )

    assert r.status_code == 404
    assert r.json()["code"]


def test_tenant_daily__role_without_analytics_read__403(tenant, as_user):
    role = RoleFactory.create(tenant=tenant, permissions=["teams:read"])
    user = MembershipFactory.create(tenant=tenant, role=role).user

    r = as_user(user).get(tenant_url(tenant))

    assert r.status_code == 403
    assert r.json()["code"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2025-13-01"}, "from"),
        ({"from": "20250301"}, "from"),  # ISO's basic form: only YYYY-MM-DD is taken
        ({"to": "2025-03-01T00:00:00"}, "to"),
        ({"from": "2025-03-01\x00"}, "from"),
        ({"from": "99999-01-01"}, "from"),
        ({"from": "2025-03-05", "to": "2025-03-01"}, "to"),  # ends before it starts
        ({"from": "2020-01-01", "to": "2025-01-01"}, "to"),  # more than 366 days
        ({"from": ["2025-03-01", "2025-03-02"]}, "from"),  # given twice
    ],
)
def test_tenant_daily__bad_dates__400_with_code(tenant, owner, as_user, params, field):
    r = as_user(owner).get(tenant_url(tenant), params)

    assert r.status_code == 400, r.content
    body = r.json()
    assert body["code"]
    assert field in str(body)


def test_platform_daily__staff__platform_rows_only(tenant, as_user):
    DailyAnalyticsFactory.create(tenant=None, date=TODAY - timedelta(days=1))
    DailyAnalyticsFactory.create(tenant=None, date=TODAY)
    DailyAnalyticsFactory.create(tenant=tenant, date=TODAY)

    r = as_user(UserFactory.create(platform_operator=True)).get(PLATFORM_URL)

    assert r.status_code == 200, r.content
    body = r.json()
    assert days(body) == [str(TODAY - timedelta(days=1)), str(TODAY)]
    assert {row["tenant_id"] for row in body["results"]} == {None}


def test_platform_daily__tenant_owner__403_platform_staff_only(tenant, owner, as_user):
    DailyAnalyticsFactory.create(tenant=None, date=TODAY)

    r = as_user(owner).get(PLATFORM_URL)

    assert r.status_code == 403
    assert r.json()["code"] == "platform_staff_only"


def test_platform_daily__anonymous__401(client):
    assert client.get(PLATFORM_URL).status_code == 401


def test_platform_daily__bad_date__400(as_user):
    r = as_user(UserFactory.create(platform_operator=True)).get(PLATFORM_URL, {"to": "yesterday"})

    assert r.status_code == 400
    assert "to" in str(r.json())


def test_tenant_daily__query_count__independent_of_rows(tenant, owner, as_user, django_assert_num_queries):
    client = as_user(owner)
    DailyAnalyticsFactory.create(tenant=tenant, date=TODAY)
    with django_assert_num_queries(8) as one:
        assert len(client.get(tenant_url(tenant)).json()["results"]) == 1
    for n in range(1, 10):
        DailyAnalyticsFactory.create(tenant=tenant, date=TODAY - timedelta(days=n))
    with django_assert_num_queries(len(one.captured_queries)):
        assert len(client.get(tenant_url(tenant)).json()["results"]) == 10


def test_platform_daily__query_count__independent_of_rows(as_user, django_assert_num_queries):
    client = as_user(UserFactory.create(platform_operator=True))
    DailyAnalyticsFactory.create(tenant=None, date=TODAY)
    with django_assert_num_queries(11) as one:
        assert len(client.get(PLATFORM_URL).json()["results"]) == 1
    for n in range(1, 10):
        DailyAnalyticsFactory.create(tenant=None, date=TODAY - timedelta(days=n))
    with django_assert_num_queries(len(one.captured_queries)):
        assert len(client.get(PLATFORM_URL).json()["results"]) == 10
