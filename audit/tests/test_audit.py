"""The audit log: what an entry captures, masking, and the tenant's read API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import RequestFactory, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from audit.services import MASK, audit_record, mask_secrets
from core.context import client_ip
from core.tenancy import tenant_context
from tenants.tests.factories import TeamFactory, TenantFactory, member


def test_mask_secrets__nested_secret_keys__masked_ids_and_hints_kept():
    details = {
        "password": "hunter2hunter2",
        "new": {"api_key": "qm_live_abc", "api_key_id": "k1", "token_prefix": "qm_live_"},
        "items": [{"secret": "s3cr3t"}, {"name": "visible"}],
        "totp_seed": "JBSWY3DPEHPK3PXP",
        "secret_last4": "ab12",
        "empty_token": "",
    }

    masked = mask_secrets(details)

    assert masked == {
        "password": MASK,
        "new": {"api_key": MASK, "api_key_id": "k1", "token_prefix": "qm_live_"},
        "items": [{"secret": MASK}, {"name": "visible"}],
        "totp_seed": MASK,
        "secret_last4": "ab12",
        "empty_token": "",
    }


@pytest.mark.django_db
def test_audit_record__details_with_a_secret__stored_masked():
    tenant = TenantFactory.create()

    with tenant_context(tenant):
        entry = audit_record(
            action="settings.changed", tenant=tenant, details={"new": {"password": "p4ss"}}, system=True
        )
        entry.refresh_from_db()

    assert entry.details == {"new": {"password": MASK}}
    assert entry.actor_type == "system"


@pytest.mark.django_db
def test_audit_entry__written_by_a_request__captures_request_id_ip_and_user_agent():
    tenant = TenantFactory.create()
    admin = member(tenant, "admin")
    client = APIClient()
    client.force_authenticate(admin)

    client.post(
        f"/api/v1/tenants/{tenant.pk}/teams/",
        {"name": "Ops"},
        HTTP_X_REQUEST_ID="req-abcdef-123",
        HTTP_USER_AGENT="pytest-agent/1.0",
        REMOTE_ADDR="203.0.113.9",
    )

    response = client.get(f"/api/v1/tenants/{tenant.pk}/audit-logs/?action=team.created")
    (entry,) = response.json()["results"]
    assert entry["request_id"] == "req-abcdef-123"
    assert entry["ip_address"] == "203.0.113.9"
    assert entry["user_agent"] == "pytest-agent/1.0"
    assert entry["actor_label"] == admin.email


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "expected"),
    [
        (0, "198.51.100.1", "6.6.6.6", "198.51.100.1"),  # no trusted proxy: the header is ignored
        (1, "10.0.0.1", "6.6.6.6, 203.0.113.7", "203.0.113.7"),  # a spoofed left entry is skipped
        (2, "10.0.0.1", "6.6.6.6, 203.0.113.7, 10.0.0.2", "203.0.113.7"),
        (1, "10.0.0.1", "", "10.0.0.1"),  # fewer entries than proxies: fall back to the peer
        (1, "10.0.0.1", "2001:db8::1", "2001:db8::1"),
    ],
)
def test_client_ip__trusted_proxy_count__takes_the_right_entry(proxies, remote, forwarded, expected):
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)

    with override_settings(QM_TRUSTED_PROXY_COUNT=proxies):
        assert client_ip(request) == expected


@pytest.fixture
def audited_tenant():
    """A tenant with a few entries of different actions, severities and times."""
    tenant = TenantFactory.create()
    owner = member(tenant, "owner")
    with tenant_context(tenant):
        team = TeamFactory.create(tenant=tenant)
        audit_record(action="team.created", tenant=tenant, target=team, actor=owner)
        audit_record(action="team.updated", tenant=tenant, target=team, actor=owner)
        audit_record(action="member.removed", tenant=tenant, severity="warning", actor=owner)
    return tenant, owner, team


@pytest.mark.django_db
def test_audit_log_api__action_prefix_filter(audited_tenant):
    tenant, owner, _ = audited_tenant
    client = APIClient()
    client.force_authenticate(owner)

    response = client.get(f"/api/v1/tenants/{tenant.pk}/audit-logs/?action=team.*")

    assert sorted(e["action"] for e in response.json()["results"]) == ["team.created", "team.updated"]


@pytest.mark.django_db
def test_audit_log_api__severity_target_and_time_filters(audited_tenant):
    tenant, owner, team = audited_tenant
    client = APIClient()
    client.force_authenticate(owner)
    base = f"/api/v1/tenants/{tenant.pk}/audit-logs/"
    future = (timezone.now() + timedelta(hours=1)).isoformat().replace("+00:00", "Z")

    by_severity = client.get(base, {"severity": "warning"}).json()["results"]
    by_target = client.get(base, {"target_type": "tenants.team", "target_id": str(team.pk)}).json()["results"]
    by_actor = client.get(base, {"actor": str(owner.pk)}).json()["results"]
    after_now = client.get(base, {"created_after": future}).json()["results"]

    assert [e["action"] for e in by_severity] == ["member.removed"]
    assert len(by_target) == 2
    assert len(by_actor) == 3
    assert after_now == []


@pytest.mark.django_db
def test_audit_log_api__invalid_filter__400_with_field_error(audited_tenant):
    tenant, owner, _ = audited_tenant
    client = APIClient()
    client.force_authenticate(owner)

    response = client.get(f"/api/v1/tenants/{tenant.pk}/audit-logs/", {"severity": "apocalyptic"})

    assert response.status_code == 400
    assert "severity" in response.json()["errors"]


@pytest.mark.django_db
def test_audit_log_api__cursor_pagination__walks_every_entry_once(audited_tenant):
    tenant, owner, _ = audited_tenant
    client = APIClient()
    client.force_authenticate(owner)

    seen: list[str] = []
    url = f"/api/v1/tenants/{tenant.pk}/audit-logs/?page_size=1"
    while url:
        body = client.get(url).json()
        seen.extend(e["id"] for e in body["results"])
        url = body["next"]

    assert len(seen) == len(set(seen)) == 3


@pytest.mark.django_db
def test_audit_log_api__member_without_audit_read__403(audited_tenant):
    tenant, _, _ = audited_tenant
    client = APIClient()
    client.force_authenticate(member(tenant, "member"))

    response = client.get(f"/api/v1/tenants/{tenant.pk}/audit-logs/")

    assert response.status_code == 403
    assert response.json()["code"] == "missing_permission"


@pytest.mark.django_db
def test_audit_log_api__never_shows_another_tenants_entries(audited_tenant):
    _tenant, _, _ = audited_tenant
    other = TenantFactory.create()
    other_owner = member(other, "owner")
    client = APIClient()
    client.force_authenticate(other_owner)

    response = client.get(f"/api/v1/tenants/{other.pk}/audit-logs/")

    assert response.json()["results"] == []


@pytest.mark.django_db
def test_audit_log_api__query_count_independent_of_rows(audited_tenant, django_assert_num_queries):
    tenant, owner, team = audited_tenant
    client = APIClient()
    client.force_authenticate(owner)
    url = f"/api/v1/tenants/{tenant.pk}/audit-logs/"
    client.get(url)
    with django_assert_num_queries(7):
        client.get(url)
    with tenant_context(tenant):
        for _ in range(20):
            audit_record(action="team.updated", tenant=tenant, target=team, actor=owner)

    with django_assert_num_queries(7):
        response = client.get(url)

    assert len(response.json()["results"]) == 23
