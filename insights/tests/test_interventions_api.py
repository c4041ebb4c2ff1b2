"""Interventions over HTTP: run (single and bulk, all or nothing), read, reverse, refusals."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest

from accounts.models import ApiKey
from accounts.tests.factories import ApiKeyFactory
from audit.models import AuditLogEntry
from billing.tests.factories import balance, fund
from core.tenancy import platform_bypass
from insights.models import Intervention
from tenants.models import FeatureFlag, Tenant, TenantStatus
from tenants.tests.factories import FeatureFlagFactory, member

pytestmark = pytest.mark.django_db


def url(tenant: Any, suffix: str = "") -> str:
    return f"/api/v1/tenants/{tenant.pk}/interventions{suffix}"


def flags(*ids: Any) -> dict[str, bool]:
    with platform_bypass(reason="test", log=False):
        return {str(pk): on for pk, on in FeatureFlag.objects.filter(pk__in=ids).values_list("pk", "enabled")}


def actions(tenant: Any) -> list[str]:
    with platform_bypass(reason="test", log=False):
        return list(
            AuditLogEntry.objects.filter(tenant=tenant)
            .order_by("created_at")
            .values_list("action", flat=True)
        )


def test_disable_flag__bulk_by_owner__all_disabled_states_recorded_audited(tenant, owner, as_user):
    a, b = FeatureFlagFactory.create(tenant=tenant), FeatureFlagFactory.create(tenant=tenant)
    r = as_user(owner).post(
        url(tenant),
        {"type": "disable_flag", "target_ids": [str(a.pk), str(b.pk)], "reason": "noisy"},
        format="json",
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["scope"] == "bulk"
    assert body["operator_role"] == "owner"
    assert body["previous_state"] == {str(a.pk): {"enabled": True}, str(b.pk): {"enabled": True}}
    assert body["new_state"] == {str(a.pk): {"enabled": False}, str(b.pk): {"enabled": False}}
    assert flags(a.pk, b.pk) == {str(a.pk): False, str(b.pk): False}
    assert actions(tenant).count("flag.updated") == 2
    assert "intervention.applied" in actions(tenant)


def test_disable_flag__bulk_with_one_already_off__nothing_changes_409(tenant, owner, as_user):
    a = FeatureFlagFactory.create(tenant=tenant)
    b = FeatureFlagFactory.create(tenant=tenant, enabled=False)
    r = as_user(owner).post(
        url(tenant),
        {"type": "disable_flag", "target_ids": [str(a.pk), str(b.pk)], "reason": "x"},
        format="json",
    )
    assert r.status_code == 409
    assert r.json()["code"] == "already_disabled"
    assert flags(a.pk)[str(a.pk)] is True
    with platform_bypass(reason="test", log=False):
        assert not Intervention.objects.exists()


def test_reverse__flag_unchanged__restored_and_recorded(tenant, owner, as_user):
    a = FeatureFlagFactory.create(tenant=tenant)
    client = as_user(owner)
    made = client.post(
        url(tenant), {"type": "disable_flag", "target_ids": [str(a.pk)], "reason": "x"}, format="json"
    )
    r = client.post(url(tenant, f"/{made.json()['id']}/reverse"), {"reason": "false alarm"}, format="json")
    assert r.status_code == 200, r.content
    assert r.json()["reversal_reason"] == "false alarm"
    assert r.json()["reversed_by"] == owner.email
    assert flags(a.pk)[str(a.pk)] is True
    again = client.post(url(tenant, f"/{made.json()['id']}/reverse"), {"reason": "x"}, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "already_reversed"


def test_reverse__target_changed_since__409_target_changed_nothing_restored(tenant, owner, as_user):
    a = FeatureFlagFactory.create(tenant=tenant)
    client = as_user(owner)
    made = client.post(
        url(tenant), {"type": "disable_flag", "target_ids": [str(a.pk)], "reason": "x"}, format="json"
    )
    with platform_bypass(reason="test", log=False):
        FeatureFlag.objects.filter(pk=a.pk).update(enabled=True)  # someone turned it back on
    r = client.post(url(tenant, f"/{made.json()['id']}/reverse"), {"reason": "x"}, format="json")
    assert r.status_code == 409
    assert r.json()["code"] == "target_changed"
    with platform_bypass(reason="test", log=False):
        assert Intervention.objects.get(pk=made.json()["id"]).reversed_at is None


def test_suspend_tenant__operator__suspended_and_reversed(tenant, operator, as_user):
    client = as_user(operator)
    r = client.post(url(tenant), {"type": "suspend_tenant", "reason": "abuse"}, format="json")
    assert r.status_code == 201, r.content
    assert r.json()["operator_role"] == "platform:platform_operator"
    assert r.json()["target_ids"] == [str(tenant.pk)]
    assert Tenant.objects.get(pk=tenant.pk).status == TenantStatus.SUSPENDED
    back = client.post(url(tenant, f"/{r.json()['id']}/reverse"), {"reason": "resolved"}, format="json")
    assert back.status_code == 200, back.content
    assert Tenant.objects.get(pk=tenant.pk).status == TenantStatus.ACTIVE


def test_suspend_tenant__reactivated_in_between__reverse_409(tenant, operator, as_user):
    client = as_user(operator)
    r = client.post(url(tenant), {"type": "suspend_tenant", "reason": "abuse"}, format="json")
    client.post(url(tenant), {"type": "reactivate_tenant", "reason": "ok"}, format="json")
    back = client.post(url(tenant, f"/{r.json()['id']}/reverse"), {"reason": "x"}, format="json")
    assert back.status_code == 409
    assert back.json()["code"] == "target_changed"


def test_suspend_tenant__tenant_owner__403_platform_staff_only(tenant, owner, as_user):
    r = as_user(owner).post(url(tenant), {"type": "suspend_tenant", "reason": "x"}, format="json")
    assert r.status_code == 403
    assert r.json()["code"] == "platform_staff_only"
    assert Tenant.objects.get(pk=tenant.pk).status == TenantStatus.ACTIVE


def test_grant_credits__operator__granted_and_reversal_takes_them_back(tenant, operator, as_user):
    fund(tenant, 1)
    client = as_user(operator)
    r = client.post(
        url(tenant),
        {"type": "grant_credits", "reason": "goodwill", "params": {"amount": "25"}},
        format="json",
    )
    assert r.status_code == 201, r.content
    assert balance(tenant) == Decimal("26")
    back = client.post(url(tenant, f"/{r.json()['id']}/reverse"), {"reason": "mistake"}, format="json")
    assert back.status_code == 200, back.content
    assert balance(tenant) == Decimal("1")


def test_revoke_api_key__owner__revoked_and_not_reversible(tenant, owner, as_user):
    key = ApiKeyFactory.create(tenant=tenant)
    client = as_user(owner)
    r = client.post(
        url(tenant), {"type": "revoke_api_key", "target_ids": [str(key.pk)], "reason": "leak"}, format="json"
    )
    assert r.status_code == 201, r.content
    with platform_bypass(reason="test", log=False):
        assert ApiKey.objects.get(pk=key.pk).revoked_at is not None
    back = client.post(url(tenant, f"/{r.json()['id']}/reverse"), {"reason": "x"}, format="json")
    assert back.status_code == 409
    assert back.json()["code"] == "not_reversible"


def test_create__other_tenants_flag__404_nothing_changed(tenant, other_tenant, owner, as_user):
    theirs = FeatureFlagFactory.create(tenant=other_tenant)
    r = as_user(owner).post(
        url(tenant), {"type": "disable_flag", "target_ids": [str(theirs.pk)], "reason": "x"}, format="json"
    )
    assert r.status_code == 404
    assert flags(theirs.pk)[str(theirs.pk)] is True


def test_detail__other_tenants_intervention__404(tenant, other_tenant, owner, as_user):
    from insights.tests.factories import make_intervention

    theirs = make_intervention(other_tenant)
    assert as_user(owner).get(url(tenant, f"/{theirs}")).status_code == 404
    assert (
        as_user(owner).post(url(tenant, f"/{theirs}/reverse"), {"reason": "x"}, format="json").status_code
        == 404
    )


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_list__lower_role__403(tenant, as_user, role):
    r = as_user(member(tenant, role)).get(url(tenant))
    assert r.status_code == 403
    assert r.json()["code"] == "missing_permission"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "disable_flag", "target_ids": [], "reason": "x"}, "target_ids"),
        ({"type": "disable_flag", "target_ids": ["nope"], "reason": "x"}, "target_ids"),
        ({"type": "explode", "reason": "x"}, "type"),
        ({"type": "disable_flag", "target_ids": [str(uuid.uuid4())]}, "reason"),
        ({"type": "disable_flag", "target_ids": [str(uuid.uuid4())], "reason": "   "}, "reason"),
        ({"type": "grant_credits", "reason": "x", "params": {"amount": "1e400"}}, "amount"),
    ],
)
def test_create__bad_input__400_with_code(tenant, operator, as_user, body, field):
    r = as_user(operator).post(url(tenant), body, format="json")
    assert r.status_code == 400, r.content
    assert r.json()["code"]
    assert field in str(r.json())


def test_list__query_count__independent_of_rows(tenant, owner, as_user, django_assert_num_queries):
    from insights.tests.factories import make_intervention

    client = as_user(owner)
    make_intervention(tenant)
    with django_assert_num_queries(8) as one:
        assert len(client.get(url(tenant)).json()["results"]) == 1
    make_intervention(tenant)
    make_intervention(tenant)
    with django_assert_num_queries(len(one.captured_queries)):
        assert len(client.get(url(tenant)).json()["results"]) == 3
