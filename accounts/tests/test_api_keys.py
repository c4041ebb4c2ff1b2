"""API keys over HTTP: creation (the key shown once), listing, detail, revocation, audit."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.api_key_auth import hash_key
from accounts.models import ApiKey
from accounts.services.api_keys import generate_key
from accounts.tests.factories import ApiKeyFactory, UserFactory
from audit.models import ActorType, AuditLogEntry
from core.tenancy import platform_bypass
from tenants.models import Tenant
from tenants.tests.factories import MembershipFactory, RoleFactory, TenantFactory, member

# --- Helpers (also used by test_api_key_auth.py) -----------------------------------------------


def keys_url(tenant: Tenant, *rest: str) -> str:
    return f"/api/v1/tenants/{tenant.pk}/api-keys/" + "".join(rest)


def as_user(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def with_key(raw_key: str, **extra: Any) -> APIClient:
    """A client that authenticates every request with `Authorization: Api-Key <raw_key>`."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}", **extra)
    return client


def make_key(tenant: Tenant, creator: Any, **fields: Any) -> tuple[ApiKey, str]:
    """A key row with a real random secret, as if created through the API; returns (key, raw)."""
    raw = generate_key()
    fields.setdefault("scopes", ["teams:read"])
    api_key = ApiKeyFactory.create(
        tenant=tenant, created_by=creator, prefix=raw[:12], key_hash=hash_key(raw), **fields
    )
    return api_key, raw


def stored(api_key_id: Any) -> ApiKey:
    with platform_bypass(reason="test", log=False):
        return ApiKey.objects.select_related("revoked_by").get(pk=api_key_id)


def audit_entries(**filters: Any) -> list[AuditLogEntry]:
    with platform_bypass(reason="test", log=False):
        return list(AuditLogEntry.objects.filter(**filters).order_by("created_at", "id"))


def role_member(tenant: Tenant, permissions: list[str], rank: int = 25) -> Any:
    """A member of `tenant` holding exactly `permissions` (a custom role)."""
    role = RoleFactory.create(tenant=tenant, permissions=permissions, rank=rank)
    return MembershipFactory.create(tenant=tenant, role=role).user


# --- Create ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_key_create__owner__201_with_the_key_once_and_only_its_sha256_stored():
    tenant = TenantFactory.create()
    owner = member(tenant, "owner")

    response = as_user(owner).post(
        keys_url(tenant),
        {
            "name": "  CI runner ",
            "scopes": ["teams:read", "agents:read", "teams:read"],
            "allowed_ips": ["10.1.2.3/24", "2001:db8::1"],
            "rate_limit_per_minute": 120,
        },
    )

    assert response.status_code == 201, response.json()
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    raw = body["key"]
    assert raw.startswith("qm_live_")
    assert len(raw) >= len("qm_live_") + 43
    assert body["prefix"] == raw[:12]
    assert body["name"] == "CI runner"
    assert body["scopes"] == ["agents:read", "teams:read"]
    assert body["allowed_ips"] == ["10.1.2.0/24", "2001:db8::1/128"]
    assert body["rate_limit_per_minute"] == 120
    assert body["created_by"] == {"id": str(owner.pk), "email": owner.email}
    assert "key_hash" not in body
    key = stored(body["id"])
    assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert key.tenant_id == tenant.pk
    assert key.created_by_id == owner.pk
    assert raw not in json.dumps({f.attname: str(getattr(key, f.attname)) for f in ApiKey._meta.fields})


@pytest.mark.django_db
def test_api_key_create__two_keys__differ_in_secret_and_hash():
    tenant = TenantFactory.create()
    client = as_user(member(tenant, "owner"))

    first = client.post(keys_url(tenant), {"name": "a", "scopes": ["teams:read"]}).json()
    second = client.post(keys_url(tenant), {"name": "b", "scopes": ["teams:read"]}).json()

    assert first["key"] != second["key"]
    assert stored(first["id"]).key_hash != stored(second["id"]).key_hash


@pytest.mark.django_db
def test_api_key_list_and_get__after_create__never_show_the_key_or_its_hash():
    tenant = TenantFactory.create()
    client = as_user(member(tenant, "owner"))
    created = client.post(keys_url(tenant), {"name": "ci", "scopes": ["teams:read"]}).json()
    key_hash = stored(created["id"]).key_hash

    listing = client.get(keys_url(tenant))
    detail = client.get(keys_url(tenant, f"{created['id']}/"))

    assert listing.status_code == 200
    assert detail.status_code == 200
    for response in (listing, detail):
        text = response.content.decode()
        assert created["key"] not in text
        assert key_hash not in text
        assert '"key"' not in text
        assert "key_hash" not in text
    assert listing.json()["results"][0]["id"] == created["id"]
    assert set(detail.json()) == {
        "id",
        "name",
        "prefix",
        "scopes",
        "allowed_ips",
        "rate_limit_per_minute",
        "expires_at",
        "last_used_at",
        "last_used_ip",
        "revoked_at",
        "created_at",
        "created_by",
    }


@pytest.mark.django_db
def test_api_key_create__audit__records_name_prefix_scopes_but_never_the_key_or_hash():
    tenant = TenantFactory.create()
    owner = member(tenant, "owner")

    body = as_user(owner).post(keys_url(tenant), {"name": "ci", "scopes": ["teams:read"]}).json()

    key_hash = stored(body["id"]).key_hash
    (entry,) = audit_entries(action="api_key.created")
    assert entry.tenant_id == tenant.pk
    assert entry.actor_type == ActorType.USER
    assert entry.actor_user_id == owner.pk
    assert entry.target_id == body["id"]
    assert entry.details["name"] == "ci"
    assert entry.details["prefix"] == body["prefix"]
    assert entry.details["scopes"] == ["teams:read"]
    for any_entry in audit_entries():
        dumped = json.dumps([any_entry.details, any_entry.target_label, any_entry.actor_label], default=str)
        assert body["key"] not in dumped
        assert key_hash not in dumped


@pytest.mark.django_db
def test_api_key_create__scope_beyond_the_creators_permissions__403_scope_not_held_nothing_created():
    tenant = TenantFactory.create()
    admin = member(tenant, "admin")  # everything but tenant:admin

    response = as_user(admin).post(keys_url(tenant), {"name": "ci", "scopes": ["teams:read", "tenant:admin"]})

    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "scope_not_held"
    assert body["errors"] == {"scopes": ["Not held: tenant:admin"]}
    with platform_bypass(reason="test", log=False):
        assert not ApiKey.objects.exists()
    assert audit_entries(action="api_key.created") == []


@pytest.mark.django_db
def test_api_key_create__custom_role_creator__scopes_limited_to_that_role():
    tenant = TenantFactory.create()
    creator = role_member(tenant, ["api_keys:write", "teams:read"])
    client = as_user(creator)

    held = client.post(keys_url(tenant), {"name": "ok", "scopes": ["teams:read"]})
    beyond = client.post(keys_url(tenant), {"name": "no", "scopes": ["teams:write"]})

    assert held.status_code == 201, held.json()
    assert beyond.status_code == 403
    assert beyond.json()["code"] == "scope_not_held"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"scopes": ["teams:reed"]}, "scopes"),
        ({"scopes": []}, "scopes"),
        ({"allowed_ips": ["10.0.0.0/33"]}, "allowed_ips"),
        ({"allowed_ips": ["not-an-ip"]}, "allowed_ips"),
        ({"allowed_ips": ["2001:db8::/129"]}, "allowed_ips"),
        ({"rate_limit_per_minute": 0}, "rate_limit_per_minute"),
        ({"expires_at": "2000-01-01T00:00:00Z"}, "expires_at"),
        ({"name": ""}, "name"),
    ],
)
def test_api_key_create__invalid_field__400_with_that_field_error(payload, field):
    tenant = TenantFactory.create()
    data = {"name": "ci", "scopes": ["teams:read"], **payload}

    response = as_user(member(tenant, "owner")).post(keys_url(tenant), data)

    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["errors"]


@pytest.mark.django_db
def test_api_key_create__member_without_api_keys_write__403_missing_permission():
    tenant = TenantFactory.create()

    response = as_user(member(tenant, "member")).post(
        keys_url(tenant), {"name": "x", "scopes": ["teams:read"]}
    )

    assert response.status_code == 403
    assert response.json()["code"] == "missing_permission"


@pytest.mark.django_db
def test_api_key_create__through_an_api_key__403_keys_cannot_mint_keys():
    tenant = TenantFactory.create()
    owner = member(tenant, "owner")
    _, raw = make_key(tenant, owner, scopes=["api_keys:write", "api_keys:read", "teams:read"])

    response = with_key(raw).post(keys_url(tenant), {"name": "child", "scopes": ["teams:read"]})

    assert response.status_code == 403
    assert response.json()["code"] == "api_key_cannot_create_keys"


@pytest.mark.django_db
def test_api_key_create__expiry_in_the_future__stored():
    tenant = TenantFactory.create()
    expires = timezone.now() + timedelta(days=30)

    response = as_user(member(tenant, "owner")).post(
        keys_url(tenant), {"name": "ci", "scopes": ["teams:read"], "expires_at": expires.isoformat()}
    )

    assert response.status_code == 201, response.json()
    assert stored(response.json()["id"]).expires_at == expires


# --- List and detail ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_key_list__query_count__independent_of_rows(django_assert_num_queries):
    tenant = TenantFactory.create()
    owner = member(tenant, "owner")
    client = as_user(owner)
    make_key(tenant, owner)
    # savepoint, RLS settings read/set/restore, tenant, scope's membership, count, page (with
    # creators joined), release
    with django_assert_num_queries(8):
        client.get(keys_url(tenant))
    for _ in range(6):
        make_key(tenant, UserFactory.create())

    with django_assert_num_queries(8):
        response = client.get(keys_url(tenant))

    assert response.json()["count"] == 7


@pytest.mark.django_db
def test_api_key_list__newest_first_with_revoked_keys_and_only_this_tenants():
    tenant, other = TenantFactory.create(), TenantFactory.create()
    owner = member(tenant, "owner")
    old, _ = make_key(tenant, owner, name="old", revoked_at=timezone.now())
    new, _ = make_key(tenant, owner, name="new")
    make_key(other, member(other, "owner"))

    response = as_user(owner).get(keys_url(tenant))

    assert [k["id"] for k in response.json()["results"]] == [str(new.pk), str(old.pk)]
    assert response.json()["results"][1]["revoked_at"] is not None


@pytest.mark.django_db
def test_api_key_list__viewer__403_missing_permission():
    tenant = TenantFactory.create()

    response = as_user(member(tenant, "viewer")).get(keys_url(tenant))

    assert response.status_code == 403
    assert response.json()["code"] == "missing_permission"


@pytest.mark.django_db
def test_api_key_list__owner_of_another_tenant__403_not_a_member():
    tenant, other = TenantFactory.create(), TenantFactory.create()
    make_key(tenant, member(tenant, "owner"))

    response = as_user(member(other, "owner")).get(keys_url(tenant))

    assert response.status_code == 403
    assert response.json()["code"] == "not_a_member"


@pytest.mark.django_db
def test_api_key_get__another_tenants_key__404_like_an_unknown_id():
    tenant, other = TenantFactory.create(), TenantFactory.create()
    foreign, _ = make_key(other, member(other, "owner"))
    client = as_user(member(tenant, "owner"))

    response = client.get(keys_url(tenant, f"{foreign.pk}/"))
    revoke = client.post(keys_url(tenant, f"{foreign.pk}/revoke"))

    assert response.status_code == 404
    assert revoke.status_code == 404
    assert stored(foreign.pk).revoked_at is None


# --- Revoke ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_key_revoke__creator_with_api_keys_write__200_revoked_and_audited():
    tenant = TenantFactory.create()
    creator = role_member(tenant, ["api_keys:read", "api_keys:write", "teams:read"])
    api_key, raw = make_key(tenant, creator)

    response = as_user(creator).post(keys_url(tenant, f"{api_key.pk}/revoke"))

    assert response.status_code == 200, response.json()
    assert response.json()["id"] == str(api_key.pk)
    assert response.json()["revoked_at"] is not None
    key = stored(api_key.pk)
    assert key.revoked_at is not None
    assert key.revoked_by_id == creator.pk
    (entry,) = audit_entries(action="api_key.revoked")
    assert entry.target_id == str(api_key.pk)
    assert entry.actor_user_id == creator.pk
    assert entry.details["prefix"] == api_key.prefix
    assert entry.details["scopes"] == ["teams:read"]
    assert raw not in json.dumps(entry.details)
    assert key.key_hash not in json.dumps(entry.details)


@pytest.mark.django_db
def test_api_key_revoke__someone_elses_key_without_api_keys_admin__403_missing_permission():
    tenant = TenantFactory.create()
    creator = role_member(tenant, ["api_keys:read", "api_keys:write", "teams:read"])
    colleague = role_member(tenant, ["api_keys:read", "api_keys:write", "teams:read"])
    api_key, _ = make_key(tenant, creator)

    response = as_user(colleague).post(keys_url(tenant, f"{api_key.pk}/revoke"))

    assert response.status_code == 403
    assert response.json()["code"] == "missing_permission"
    assert stored(api_key.pk).revoked_at is None
    assert audit_entries(action="api_key.revoked") == []


@pytest.mark.django_db
def test_api_key_revoke__someone_elses_key_with_api_keys_admin__200():
    tenant = TenantFactory.create()
    api_key, _ = make_key(tenant, member(tenant, "member"))
    admin = member(tenant, "admin")

    response = as_user(admin).post(keys_url(tenant, f"{api_key.pk}/revoke"))

    assert response.status_code == 200
    assert stored(api_key.pk).revoked_by_id == admin.pk


@pytest.mark.django_db
def test_api_key_revoke__already_revoked__409_already_revoked():
    tenant = TenantFactory.create()
    owner = member(tenant, "owner")
    api_key, _ = make_key(tenant, owner)
    client = as_user(owner)
    client.post(keys_url(tenant, f"{api_key.pk}/revoke"))

    response = client.post(keys_url(tenant, f"{api_key.pk}/revoke"))

    assert response.status_code == 409
    assert response.json()["code"] == "already_revoked"
    assert len(audit_entries(action="api_key.revoked")) == 1


@pytest.mark.django_db
def test_api_key_revoke__through_the_key_itself__200_and_the_next_request_401():
    tenant = TenantFactory.create()
    owner = member(tenant, "owner")
    api_key, raw = make_key(tenant, owner, scopes=["api_keys:write", "api_keys:read"])
    client = with_key(raw)

    response = client.post(keys_url(tenant, f"{api_key.pk}/revoke"))
    after = client.get(keys_url(tenant))

    assert response.status_code == 200, response.json()
    (entry,) = audit_entries(action="api_key.revoked")
    assert entry.actor_type == ActorType.API_KEY
    assert entry.actor_api_key_id == api_key.pk
    assert after.status_code == 401
    assert after.json()["code"] == "invalid_api_key"


@pytest.mark.django_db
def test_api_key_revoke__through_a_key_without_admin_scope__403_for_someone_elses_key():
    """The creator holds api_keys:admin, but the key acting for them does not."""
    tenant = TenantFactory.create()
    owner = member(tenant, "owner")
    others_key, _ = make_key(tenant, member(tenant, "admin"))
    _, raw = make_key(tenant, owner, scopes=["api_keys:write"])

    response = with_key(raw).post(keys_url(tenant, f"{others_key.pk}/revoke"))

    assert response.status_code == 403
    assert response.json()["code"] == "missing_permission"
    assert stored(others_key.pk).revoked_at is None
