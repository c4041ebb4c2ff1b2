"""Segments over HTTP: counts, members (paginated), refusals; each segment's query on real rows."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import EncryptedTOTPDevice, User
from accounts.services import mfa
from accounts.tests.factories import UserFactory
from agents.tests.factories import AgentFactory
from billing import services as billing
from billing.tests.factories import fund, usage
from core.tenancy import tenant_context
from insights.segments import SEGMENTS
from tenants.tests.factories import TenantFactory, member

pytestmark = pytest.mark.django_db


def url(tenant: Any, suffix: str = "") -> str:
    return f"/api/v1/tenants/{tenant.pk}/segments{suffix}"


def spend(tenant: Any, user: Any, credits: int) -> None:
    with tenant_context(tenant):
        billing.credits_charge(
            tenant=tenant, event=usage(credits), idempotency_key=str(uuid.uuid4()), actor=user
        )


def seen(user: Any, days_ago: int | None) -> None:
    when = None if days_ago is None else timezone.now() - timedelta(days=days_ago)
    User.objects.filter(pk=user.pk).update(last_seen_at=when, last_login=None)


def counts(client: Any, tenant: Any) -> dict[str, int]:
    r = client.get(url(tenant))
    assert r.status_code == 200, r.content
    return {row["name"]: row["count"] for row in r.json()["results"]}


def members(client: Any, tenant: Any, name: str) -> list[tuple[str, str, str | None]]:
    r = client.get(url(tenant, f"/{name}"))
    assert r.status_code == 200, r.content
    return [(row["member_id"], row["label"], row["metric"]) for row in r.json()["results"]]


def test_list__owner__every_segment_with_description_and_count(tenant, owner, as_user):
    r = as_user(owner).get(url(tenant))

    assert r.status_code == 200
    rows = r.json()["results"]
    assert [row["name"] for row in rows] == list(SEGMENTS)
    assert all(row["description"] and row["target_type"] and row["metric"] for row in rows)
    assert {row["name"]: row["count"] for row in rows}["admins_without_2fa"] == 1  # the owner


def test_dormant_members__last_seen_long_ago_or_never__listed_oldest_first(tenant, owner, as_user):
    recent, old = member(tenant, "member"), member(tenant, "member")
    seen(owner, 1)
    seen(recent, 29)
    seen(old, 45)
    never = member(tenant, "viewer", joined_at=timezone.now() - timedelta(days=60))
    seen(never, None)
    fresh = member(tenant, "viewer")  # joined today, never seen: not dormant yet
    seen(fresh, None)

    got = members(as_user(owner), tenant, "dormant_members")

    assert [m[0] for m in got] == [str(never.pk), str(old.pk)]
    assert got[1][1] == old.email
    assert str(got[1][2]).startswith(str((timezone.now() - timedelta(days=45)).date()))


def test_admins_without_2fa__confirmed_device_excluded_members_never_listed(tenant, owner, as_user):
    admin, protected = member(tenant, "admin"), member(tenant, "admin")
    member(tenant, "member")
    mfa.totp_enroll(user=protected)
    EncryptedTOTPDevice.objects.filter(user=protected).update(confirmed=True)
    mfa.totp_enroll(user=admin)  # enrolment begun, never confirmed: not protected

    got = members(as_user(owner), tenant, "admins_without_2fa")

    assert sorted(m[0] for m in got) == sorted([str(owner.pk), str(admin.pk)])
    assert {m[2] for m in got} == {"owner", "admin"}


def test_low_credit_runway__burn_outpaces_balance__the_tenant_listed_with_days_left(
    tenant, owner, as_user, price
):
    fund(tenant, 30)
    spend(tenant, owner, 14)  # 2 a day over 7 days; 16 left: 8 days
    client = as_user(owner)
    assert members(client, tenant, "low_credit_runway") == []

    spend(tenant, owner, 7)  # 3 a day; 9 left: 3 days

    assert members(client, tenant, "low_credit_runway") == [(str(tenant.pk), tenant.name, "3.0")]


def test_top_spenders__last_30_days__highest_first_other_tenants_ignored(tenant, owner, as_user, price):
    other = TenantFactory.create()
    fund(tenant, 100)
    fund(other, 100)
    small, big = member(tenant, "member"), member(tenant, "member")
    spend(tenant, small, 2)
    spend(tenant, big, 5)
    spend(tenant, big, 1)
    spend(other, member(other, "member"), 50)

    got = members(as_user(owner), tenant, "top_spenders")

    assert got == [(str(big.pk), big.email, "6.000000"), (str(small.pk), small.email, "2.000000")]


def test_agents_in_error__only_errored_agents_of_the_tenant(tenant, other_tenant, owner, as_user):
    broken = AgentFactory.create(tenant=tenant, status="error", status_reason="container crashed")
    AgentFactory.create(tenant=tenant, status="idle")
    AgentFactory.create(tenant=other_tenant, status="error")

    client = as_user(owner)

    assert members(client, tenant, "agents_in_error") == [(str(broken.pk), broken.name, "container crashed")]
    assert counts(client, tenant)["agents_in_error"] == 1


def test_members__paginated(tenant, owner, as_user):
    for _ in range(3):
        seen(member(tenant, "member"), 90)

    r = as_user(owner).get(url(tenant, "/dormant_members"), {"page_size": 2})

    body = r.json()
    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["next"]


def test_members__unknown_segment__404_with_code(tenant, owner, as_user):
    r = as_user(owner).get(url(tenant, "/no_such_segment"))

    assert r.status_code == 404
    assert r.json()["code"] == "unknown_segment"


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_list__lower_role__403(tenant, as_user, role):
    r = as_user(member(tenant, role)).get(url(tenant, "/dormant_members"))

    assert r.status_code == 403
    assert r.json()["code"]


def test_list__other_tenants_owner__403_nothing_counted(tenant, other_tenant, as_user):
    r = as_user(member(other_tenant, "owner")).get(url(tenant))

    assert r.status_code == 403
    assert "results" not in r.json()


def test_list__platform_operator__allowed(tenant, as_user):
    r = as_user(UserFactory.create(platform_operator=True)).get(url(tenant))

    assert r.status_code == 200
    assert len(r.json()["results"]) == len(SEGMENTS)


def populate(tenant: Any, n: int) -> None:
    """n more rows for every segment: dormant admins who spend, agents in error; the tenant's
    balance stays 5 credits while its week's burn grows (a low runway)."""
    fund(tenant, 10 * n)
    for _ in range(n):
        user = member(tenant, "admin")
        seen(user, 90)
        spend(tenant, user, 10)
        AgentFactory.create(tenant=tenant, status="error")


def test_list__query_count__one_per_segment_independent_of_rows(
    tenant, owner, as_user, price, django_assert_num_queries
):
    client = as_user(owner)
    fund(tenant, 5)
    populate(tenant, 1)
    with django_assert_num_queries(6 + len(SEGMENTS)) as one:
        counts(client, tenant)
    populate(tenant, 3)
    with django_assert_num_queries(len(one.captured_queries)):
        assert counts(client, tenant)["agents_in_error"] == 4


@pytest.mark.parametrize("name", list(SEGMENTS))
def test_members__query_count__independent_of_rows(
    tenant, owner, as_user, price, django_assert_num_queries, name
):
    client = as_user(owner)
    fund(tenant, 5)
    populate(tenant, 1)
    with django_assert_num_queries(9) as one:  # the page's count and its rows; the read recorded
        assert members(client, tenant, name)
    populate(tenant, 3)
    with django_assert_num_queries(len(one.captured_queries)):
        assert members(client, tenant, name)
