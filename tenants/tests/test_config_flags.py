"""Feature flags: deterministic rollout, targeting, the platform's precedence, the cached
`is_enabled`, and the API (tenant, evaluate, platform)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import caches

from accounts.tests.factories import UserFactory
from audit.models import AuditLogEntry
from core.tenancy import platform_bypass, tenant_context
from tenants import selectors, services
from tenants.models import FeatureFlag
from tenants.selectors import FlagRule, bucket, is_enabled
from tenants.selectors import cache as config_cache
from tenants.tests.factories import FeatureFlagFactory, TeamFactory, TenantFactory, member


@pytest.fixture(autouse=True)
def _fresh_config_cache(settings: Any) -> Any:
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "flags"}
    }
    caches["default"].clear()
    selectors.clear_local_cache()
    yield
    selectors.clear_local_cache()


def url(tenant: Any, suffix: str = "") -> str:
    return f"/api/v1/tenants/{tenant.pk}/flags/{suffix}"


def audit_entries(action: str) -> list[AuditLogEntry]:
    with platform_bypass(reason="test", log=False):
        return list(AuditLogEntry.objects.filter(action=action).order_by("created_at"))


def rule(percentage: str, key: str = "new-editor", **targets: Any) -> FlagRule:
    return FlagRule(
        key=key,
        source="tenant",
        enabled=targets.pop("enabled", True),
        threshold=int(Decimal(percentage) * 100),
        target_users=frozenset(targets.get("users", ())),
        target_roles=frozenset(targets.get("roles", ())),
        target_tenants=frozenset(targets.get("tenants", ())),
    )


SUBJECTS = [str(uuid.UUID(int=i)) for i in range(100_000)]


def _on(flag: FlagRule) -> set[str]:
    return {s for s in SUBJECTS if flag.evaluate(subject_id=s, user_id=None, role=None, tenant_id=None)[0]}


# --- Rollout -----------------------------------------------------------------------------------------


def test_rollout__10_percent_of_100000_subjects__between_9_5_and_10_5_percent_and_20_keeps_them_all():
    at_10 = _on(rule("10"))
    at_20 = _on(rule("20"))

    assert 9_500 <= len(at_10) <= 10_500
    assert 19_000 <= len(at_20) <= 21_000
    assert at_10 <= at_20  # raising the percentage only adds subjects


def test_rollout__two_decimals__honoured():
    on = _on(rule("0.50"))

    assert 350 <= len(on) <= 650


def test_bucket__deterministic_per_flag_and_subject__independent_across_flags():
    assert bucket("a", "subject-1") == bucket("a", "subject-1")
    assert 0 <= bucket("a", "subject-1") < 10_000
    at_10_a = _on(rule("10", key="flag-a"))
    at_10_b = _on(rule("10", key="flag-b"))
    # Different flags pick different subjects (about 10 % of 10 % overlap by chance).
    assert len(at_10_a & at_10_b) < 2_000


@pytest.mark.parametrize(
    ("flag", "kwargs", "expected"),
    [
        (rule("100", enabled=False, users={"u1"}), {"user_id": "u1"}, (False, "disabled")),
        (rule("0", users={"u1"}), {"user_id": "u1"}, (True, "targeted_user")),
        (rule("0", users={"s1"}), {"subject_id": "s1"}, (True, "targeted_user")),
        (rule("0", roles={"admin"}), {"role": "admin"}, (True, "targeted_role")),
        (rule("0", tenants={"t1"}), {"tenant_id": "t1"}, (True, "targeted_tenant")),
        (rule("100"), {}, (True, "rollout")),
        (rule("0"), {"subject_id": "s1"}, (False, "not_in_rollout")),
        (rule("50"), {}, (False, "not_in_rollout")),  # no subject: no bucket
    ],
)
def test_flag_rule_evaluate__cases(flag, kwargs, expected):
    args = {"subject_id": None, "user_id": None, "role": None, "tenant_id": None, **kwargs}

    assert flag.evaluate(**args) == expected


# --- is_enabled --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_is_enabled__warm__makes_no_query(tenant, django_assert_num_queries):
    user = member(tenant, "admin")
    FeatureFlagFactory.create(tenant=tenant, key="beta", rollout_percentage=Decimal("100"))
    FeatureFlagFactory.create(tenant=tenant, key="by-role", target_roles=["admin"])
    FeatureFlagFactory.create(tenant=None, key="platform-wide", rollout_percentage=Decimal("100"))
    assert is_enabled("beta", user=user, tenant=tenant)  # warms the process

    with django_assert_num_queries(0):
        for _ in range(200):
            assert is_enabled("beta", user=user, tenant=tenant)
            assert is_enabled("by-role", user=user, tenant=tenant, role="admin")
            assert is_enabled("platform-wide", user=user, tenant=tenant)
            assert not is_enabled("no-such-flag", user=user, tenant=tenant)


@pytest.mark.django_db
def test_is_enabled__targets_roles_without_a_role_given__looks_the_member_up(tenant):
    FeatureFlagFactory.create(tenant=tenant, key="admins-only", target_roles=["admin"])

    assert is_enabled("admins-only", user=member(tenant, "admin"), tenant=tenant)
    assert not is_enabled("admins-only", user=member(tenant, "viewer"), tenant=tenant)


@pytest.mark.django_db
def test_is_enabled__platform_flag_and_tenant_flag_of_one_key__the_platform_decides(tenant):
    FeatureFlagFactory.create(tenant=tenant, key="dangerous", rollout_percentage=Decimal("100"))
    FeatureFlagFactory.create(tenant=None, key="dangerous", enabled=False)

    assert not is_enabled("dangerous", user=member(tenant), tenant=tenant)


@pytest.mark.django_db
def test_is_enabled__platform_flag_targets_a_tenant__on_there_only(tenant, other_tenant):
    FeatureFlagFactory.create(tenant=None, key="pilot", target_tenants=[tenant.pk])

    assert is_enabled("pilot", tenant=tenant)
    assert not is_enabled("pilot", tenant=other_tenant)


@pytest.mark.django_db
def test_is_enabled__tenant_flag__invisible_to_other_tenants(tenant, other_tenant):
    FeatureFlagFactory.create(tenant=tenant, key="mine", rollout_percentage=Decimal("100"))

    assert is_enabled("mine", tenant=tenant)
    assert not is_enabled("mine", tenant=other_tenant)


@pytest.mark.django_db
def test_is_enabled__flag_of_another_environment__off(tenant):
    FeatureFlagFactory.create(
        tenant=tenant, key="staging-only", environment="staging", rollout_percentage=100
    )

    assert not is_enabled("staging-only", tenant=tenant)
    assert is_enabled("staging-only", tenant=tenant, environment="staging")


@pytest.mark.django_db(transaction=True)
def test_is_enabled__changed_through_the_service__next_call_sees_it_in_every_process(monkeypatch):
    tenant = TenantFactory.create()
    user = UserFactory.create(platform_admin=True)
    with tenant_context(tenant):
        flag = services.flag_create(tenant=tenant, actor=user, key="switch", rollout_percentage=100)
    assert is_enabled("switch", tenant=tenant)
    monkeypatch.setattr(config_cache._local, "discard", lambda scope: None)  # as another process

    with tenant_context(tenant):
        services.flag_update(flag=flag, actor=user, data={"enabled": False})

    assert not is_enabled("switch", tenant=tenant)


# --- The tenant API ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_flag_create__admin__created_and_audited(as_user, tenant, admin):
    response = as_user(admin).post(
        url(tenant), {"key": "new-editor", "rollout_percentage": "25.00", "description": "The new editor"}
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["key"], body["rollout_percentage"], body["enabled"], body["environment"]) == (
        "new-editor",
        "25.00",
        True,
        "development",
    )
    (entry,) = audit_entries("flag.created")
    assert entry.tenant_id == tenant.pk
    assert entry.details["rollout_percentage"] == "25.00"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"key": "Bad Key"}, "key"),
        ({"key": "ok", "rollout_percentage": "100.01"}, "rollout_percentage"),
        ({"key": "ok", "rollout_percentage": "12.345"}, "rollout_percentage"),
        ({"key": "ok", "target_users": [str(uuid.uuid4())]}, "target_users"),
        ({"key": "ok", "target_roles": ["no-such-role"]}, "target_roles"),
    ],
)
def test_flag_create__invalid__400_on_the_field(as_user, tenant, admin, body, field):
    response = as_user(admin).post(url(tenant), body, format="json")

    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"]


@pytest.mark.django_db
def test_flag_create__targets_a_member_of_another_tenant__400(as_user, tenant, other_tenant, admin):
    outsider = member(other_tenant)

    response = as_user(admin).post(
        url(tenant), {"key": "x", "target_users": [str(outsider.pk)]}, format="json"
    )

    assert response.status_code == 400
    assert "target_users" in response.json()["errors"]


@pytest.mark.django_db
def test_flag_create__duplicate_key__400_and_platform_key__409(as_user, tenant, admin):
    FeatureFlagFactory.create(tenant=tenant, key="taken")
    FeatureFlagFactory.create(tenant=None, key="platform-owned")
    client = as_user(admin)

    duplicate = client.post(url(tenant), {"key": "taken"})
    reserved = client.post(url(tenant), {"key": "platform-owned"})

    assert duplicate.status_code == 400
    assert "key" in duplicate.json()["errors"]
    assert reserved.status_code == 409
    assert reserved.json()["code"] == "flag_key_reserved"


@pytest.mark.django_db
def test_flag_update__rollout_and_kill_switch__audited_with_old_and_new(as_user, tenant, admin):
    flag = FeatureFlagFactory.create(tenant=tenant, key="f", rollout_percentage=Decimal("10"))

    response = as_user(admin).patch(
        url(tenant, f"{flag.pk}/"), {"rollout_percentage": "30", "enabled": False}
    )

    assert response.status_code == 200, response.json()
    assert (response.json()["rollout_percentage"], response.json()["enabled"]) == ("30.00", False)
    (entry,) = audit_entries("flag.updated")
    assert entry.details["changes"] == {
        "enabled": {"old": True, "new": False},
        "rollout_percentage": {"old": "10.00", "new": "30.00"},
    }
    assert entry.severity == "warning"


@pytest.mark.django_db
def test_flag_delete__admin__gone_and_audited(as_user, tenant, admin):
    flag = FeatureFlagFactory.create(tenant=tenant, key="f")

    response = as_user(admin).delete(url(tenant, f"{flag.pk}/"))

    assert response.status_code == 204
    with platform_bypass(reason="test", log=False):
        assert not FeatureFlag.objects.filter(pk=flag.pk).exists()
    assert len(audit_entries("flag.deleted")) == 1


@pytest.mark.django_db
def test_flags_list__viewer__own_flags_only_and_query_count_pinned(
    as_user, tenant, other_tenant, django_assert_num_queries
):
    client = as_user(member(tenant, "viewer"))
    FeatureFlagFactory.create(tenant=tenant, key="a")
    FeatureFlagFactory.create(tenant=other_tenant, key="theirs")
    FeatureFlagFactory.create(tenant=None, key="platform")
    # savepoint, RLS settings read, tenant, RLS set, membership, count, page, restore, release
    with django_assert_num_queries(8):
        client.get(url(tenant))
    for i in range(6):
        FeatureFlagFactory.create(tenant=tenant, key=f"more-{i}", created_by=UserFactory.create())

    with django_assert_num_queries(8):
        response = client.get(url(tenant))

    assert [f["key"] for f in response.json()["results"]] == ["a", *(f"more-{i}" for i in range(6))]


@pytest.mark.django_db
def test_flag_get__other_tenants_flag_id__404(as_user, tenant, other_tenant, admin):
    theirs = FeatureFlagFactory.create(tenant=other_tenant, key="theirs")

    response = as_user(admin).get(url(tenant, f"{theirs.pk}/"))

    assert response.status_code == 404


@pytest.mark.django_db
def test_flags__other_tenants_owner__403_not_a_member(as_user, tenant, other_tenant):
    response = as_user(member(other_tenant, "owner")).post(url(tenant), {"key": "x"})

    assert response.status_code == 403
    assert response.json()["code"] == "not_a_member"


@pytest.mark.django_db
def test_flag_create__viewer__403_missing_permission(as_user, tenant):
    response = as_user(member(tenant, "viewer")).post(url(tenant), {"key": "x"})

    assert response.status_code == 403
    assert response.json()["code"] == "missing_permission"


# --- Evaluate --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_flags_evaluate__subject__every_flag_of_tenant_and_platform_with_reasons(
    as_user, tenant, other_tenant
):
    viewer = member(tenant, "viewer")
    admin_user = member(tenant, "admin")
    FeatureFlagFactory.create(tenant=tenant, key="everyone", rollout_percentage=Decimal("100"))
    FeatureFlagFactory.create(tenant=tenant, key="admins", target_roles=["admin"])
    FeatureFlagFactory.create(tenant=tenant, key="off", enabled=False, rollout_percentage=Decimal("100"))
    FeatureFlagFactory.create(tenant=None, key="pilot", target_tenants=[tenant.pk])
    FeatureFlagFactory.create(tenant=other_tenant, key="not-here", rollout_percentage=Decimal("100"))

    response = as_user(viewer).get(url(tenant, "evaluate") + f"?subject={admin_user.pk}")

    assert response.status_code == 200
    assert response.json()["subject"] == str(admin_user.pk)
    assert response.json()["flags"] == {
        "admins": {"enabled": True, "reason": "targeted_role", "source": "tenant"},
        "everyone": {"enabled": True, "reason": "rollout", "source": "tenant"},
        "off": {"enabled": False, "reason": "disabled", "source": "tenant"},
        "pilot": {"enabled": True, "reason": "targeted_tenant", "source": "platform"},
    }


@pytest.mark.django_db
def test_flags_evaluate__no_subject__the_caller(as_user, tenant):
    viewer = member(tenant, "viewer")
    FeatureFlagFactory.create(tenant=tenant, key="me", target_users=[viewer.pk])

    response = as_user(viewer).get(url(tenant, "evaluate"))

    assert response.json()["subject"] == str(viewer.pk)
    assert response.json()["flags"]["me"] == {"enabled": True, "reason": "targeted_user", "source": "tenant"}


@pytest.mark.django_db
def test_flags_evaluate__warm__query_count_independent_of_flags(as_user, tenant, django_assert_num_queries):
    client = as_user(member(tenant, "viewer"))
    FeatureFlagFactory.create(tenant=tenant, key="f0", rollout_percentage=Decimal("50"))
    client.get(url(tenant, "evaluate?subject=agent-7"))  # warms the process
    # savepoint, RLS settings read, tenant, RLS set, membership, restore, release: no flag query
    with django_assert_num_queries(6):
        client.get(url(tenant, "evaluate?subject=agent-7"))
    for i in range(1, 10):
        FeatureFlagFactory.create(tenant=tenant, key=f"f{i}", rollout_percentage=Decimal("50"))
    client.get(url(tenant, "evaluate?subject=agent-7"))

    with django_assert_num_queries(6):
        response = client.get(url(tenant, "evaluate?subject=agent-7"))

    assert len(response.json()["flags"]) == 10


# --- Platform flags -------------------------------------------------------------------------------

PLATFORM = "/api/v1/platform/flags/"


@pytest.mark.django_db
def test_platform_flags__admin_creates_targeting_a_tenant__members_there_see_it(
    as_user, tenant, platform_admin
):
    created = as_user(platform_admin).post(
        PLATFORM, {"key": "pilot", "target_tenants": [str(tenant.pk)]}, format="json"
    )
    evaluated = as_user(member(tenant, "viewer")).get(url(tenant, "evaluate"))

    assert created.status_code == 201, created.json()
    assert created.json()["target_tenants"] == [str(tenant.pk)]
    assert evaluated.json()["flags"]["pilot"]["enabled"] is True
    (entry,) = audit_entries("flag.created")
    assert entry.tenant_id is None


@pytest.mark.django_db
def test_platform_flags__operator_reads_cannot_write__owner_cannot_read(as_user, owner, platform_operator):
    flag = FeatureFlagFactory.create(tenant=None, key="p")

    listed = as_user(platform_operator).get(PLATFORM)
    denied = as_user(platform_operator).patch(f"{PLATFORM}{flag.pk}/", {"enabled": False})
    outsider = as_user(owner).get(PLATFORM)

    assert [f["key"] for f in listed.json()["results"]] == ["p"]
    assert denied.status_code == 403
    assert outsider.status_code == 403


@pytest.mark.django_db
def test_platform_flag_update_and_delete__admin__audited(as_user, platform_admin):
    flag = FeatureFlagFactory.create(tenant=None, key="p", rollout_percentage=Decimal("5"))
    client = as_user(platform_admin)

    updated = client.patch(f"{PLATFORM}{flag.pk}/", {"rollout_percentage": "15.5"})
    fetched = client.get(f"{PLATFORM}{flag.pk}/")
    deleted = client.delete(f"{PLATFORM}{flag.pk}/")
    missing = client.get(f"{PLATFORM}{flag.pk}/")

    assert updated.json()["rollout_percentage"] == "15.50"
    assert fetched.status_code == 200
    assert deleted.status_code == 204
    assert missing.status_code == 404
    assert [len(audit_entries(a)) for a in ("flag.updated", "flag.deleted")] == [1, 1]


@pytest.mark.django_db
def test_platform_flags__tenant_flag_id__404(as_user, tenant, platform_admin):
    flag = FeatureFlagFactory.create(tenant=tenant, key="t")

    assert as_user(platform_admin).get(f"{PLATFORM}{flag.pk}/").status_code == 404


@pytest.mark.django_db
def test_tenant_flag_service__targets_tenants__refused(tenant):
    from core.errors import InvalidInput

    with tenant_context(tenant), pytest.raises(InvalidInput):
        services.flag_create(
            tenant=tenant, actor=UserFactory.create(platform_admin=True), key="x", target_tenants=[tenant.pk]
        )


@pytest.mark.django_db
def test_flag_team_member_target__by_user_id__on(tenant):
    user = member(tenant, "member", team=TeamFactory.create(tenant=tenant))
    FeatureFlagFactory.create(tenant=tenant, key="direct", target_users=[user.pk])

    assert is_enabled("direct", user=user, tenant=tenant)
    assert not is_enabled("direct", user=member(tenant), tenant=tenant)


# --- Issue 10, finding 11: a rollout percentage is digits, one point, a sign; nothing else -------

# Each would be a valid percentage (0-100, two decimals) if Python's Decimal() read it: 10, 10, 5.
NOT_DECIMALS = ["1_0", "1e1", " 5", "5 ", "NaN", "Infinity"]


def _flags(tenant: Any) -> list[FeatureFlag]:
    with platform_bypass(reason="test", log=False):
        return list(FeatureFlag.objects.filter(tenant=tenant))


@pytest.mark.django_db
@pytest.mark.parametrize("percentage", NOT_DECIMALS)
def test_flag_create__rollout_percentage_not_in_the_decimal_grammar__400_on_it_nothing_written(
    as_user, tenant, admin, percentage
):
    response = as_user(admin).post(
        url(tenant), {"key": "grammar", "rollout_percentage": percentage}, format="json"
    )

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "validation_error"
    assert list(response.json()["errors"]) == ["rollout_percentage"]
    assert _flags(tenant) == []
    assert audit_entries("flag.created") == []


@pytest.mark.django_db
@pytest.mark.parametrize("percentage", NOT_DECIMALS)
def test_flag_update__rollout_percentage_not_in_the_decimal_grammar__400_flag_unchanged(
    as_user, tenant, admin, percentage
):
    flag = FeatureFlagFactory.create(tenant=tenant, key="f", rollout_percentage=Decimal("30"))

    response = as_user(admin).patch(
        url(tenant, f"{flag.pk}/"), {"rollout_percentage": percentage}, format="json"
    )

    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == ["rollout_percentage"]
    assert [f.rollout_percentage for f in _flags(tenant)] == [Decimal("30")]
    assert audit_entries("flag.updated") == []


@pytest.mark.django_db
@pytest.mark.parametrize(("percentage", "stored"), [("10", "10.00"), ("10.5", "10.50"), (10, "10.00")])
def test_flag_create__rollout_percentage_in_the_decimal_grammar__201(
    as_user, tenant, admin, percentage, stored
):
    response = as_user(admin).post(
        url(tenant), {"key": "grammar", "rollout_percentage": percentage}, format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["rollout_percentage"] == stored
