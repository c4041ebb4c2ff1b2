"""What every benchmark's database starts from, made through the services (after `django.setup()`
with the bench settings): a platform admin, one tenant (`bench`) with its owner, and an API key of
that tenant with the given scopes and a rate limit no benchmark reaches."""

from __future__ import annotations

from typing import Any


def bench_tenant(*, key_name: str, scopes: list[str]) -> tuple[Any, Any, str]:
    """The tenant, its owner and the raw API key."""
    from accounts.models import User
    from accounts.services.api_keys import api_key_create
    from core.tenancy import tenant_context
    from tenants.services import tenant_create

    admin = User.objects.create(
        email="bench-admin@example.com", platform_role="platform_admin", is_staff=True, is_superuser=True
    )
    owner = User(email="owner@bench.example")
    owner.set_unusable_password()
    owner.save()
    tenant = tenant_create(actor=admin, owner=owner, name="Bench", slug="bench", admin_email=owner.email)
    with tenant_context(tenant):
        _key, raw = api_key_create(
            tenant=tenant,
            actor=owner,
            name=key_name,
            scopes=scopes,
            rate_limit_per_minute=100_000,
            actor_permissions=frozenset(scopes),
        )
    return tenant, owner, raw
