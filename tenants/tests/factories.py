"""Factories for tenant-scoped rows. They write under the platform bypass, like fixtures would:
tests then act through tenant_context or the API, where isolation applies."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import factory
from django.conf import settings
from django.utils import timezone

from accounts.models import Role
from accounts.tests.factories import UserFactory
from core.tenancy import platform_bypass
from tenants.models import FeatureFlag, Invite, Membership, Secret, Team, Tenant


class BypassFactory(factory.django.DjangoModelFactory):
    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kwargs: Any) -> Any:
        with platform_bypass(reason="test factory", log=False):
            return super()._create(model_class, *args, **kwargs)


class TenantFactory(factory.django.DjangoModelFactory[Tenant]):
    class Meta:
        model = Tenant

    name = factory.Sequence(lambda n: f"Tenant {n}")
    slug = factory.Sequence(lambda n: f"tenant-{n}")
    admin_email = factory.Sequence(lambda n: f"admin{n}@tenant.example")


class TeamFactory(BypassFactory, factory.django.DjangoModelFactory[Team]):
    class Meta:
        model = Team

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")


def system_role(slug: str) -> Role:
    return Role.objects.get(tenant=None, slug=slug)


class RoleFactory(BypassFactory, factory.django.DjangoModelFactory[Role]):
    class Meta:
        model = Role

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Custom role {n}")
    slug = factory.Sequence(lambda n: f"custom-{n}")
    permissions = factory.LazyFunction(lambda: ["agents:read"])
    rank = 15


class MembershipFactory(BypassFactory, factory.django.DjangoModelFactory[Membership]):
    class Meta:
        model = Membership

    tenant = factory.SubFactory(TenantFactory)
    user = factory.SubFactory(UserFactory)
    role = factory.LazyFunction(lambda: system_role("member"))


def member(tenant: Tenant, role: str = "member", **kwargs: Any) -> Any:
    """A user who is `role` in `tenant`; returns the user."""
    return MembershipFactory.create(tenant=tenant, role=system_role(role), **kwargs).user


class InviteFactory(BypassFactory, factory.django.DjangoModelFactory[Invite]):
    class Meta:
        model = Invite

    tenant = factory.SubFactory(TenantFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.com")
    role = factory.LazyFunction(lambda: system_role("member"))
    token_hash = factory.Sequence(lambda n: f"{n:064x}")
    invited_by = factory.SubFactory(UserFactory)
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))


# --- Configuration: settings, feature flags, secrets -------------------------------------------


def setting_value(tenant: Tenant | None, key: str, value: Any, *, environment: str | None = None) -> Any:
    """Set a setting through the service (a version and an audit entry, as in real life); tenant
    None sets the platform default. Platform-level and platform-managed keys are set by a new
    platform admin, the others by the system. Returns the Setting row."""
    from core.tenancy import tenant_context
    from tenants import services
    from tenants.settings_registry import BY_KEY

    actor = (
        UserFactory.create(platform_admin=True) if tenant is None or BY_KEY[key].platform_managed else None
    )
    if tenant is None:
        return services.setting_set(tenant=None, key=key, value=value, actor=actor, environment=environment)
    with tenant_context(tenant):
        return services.setting_set(tenant=tenant, key=key, value=value, actor=actor, environment=environment)


class FeatureFlagFactory(BypassFactory, factory.django.DjangoModelFactory[FeatureFlag]):
    """A flag row written directly; the configuration caches are invalidated at once."""

    class Meta:
        model = FeatureFlag

    tenant = factory.SubFactory(TenantFactory)
    environment = factory.LazyFunction(lambda: settings.QM_ENVIRONMENT)
    key = factory.Sequence(lambda n: f"flag-{n}")
    rollout_percentage = Decimal("0")

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kwargs: Any) -> Any:
        from tenants import selectors

        flag = super()._create(model_class, *args, **kwargs)
        selectors.bump([selectors.scope_of(selectors.FLAGS, flag.tenant_id, flag.environment)])
        return flag


class SecretFactory(BypassFactory, factory.django.DjangoModelFactory[Secret]):
    """A locker entry; `value` (not a field) is encrypted into the row."""

    class Meta:
        model = Secret

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"secret {n}")
    provider = "openai"
    value = factory.Sequence(lambda n: f"sk-test-{n:012d}")
    ciphertext = ""

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kwargs: Any) -> Any:
        from tenants.services import secrets

        value = kwargs.pop("value", None) or "sk-test-value-000000"
        secret = model_class(*args, **kwargs)
        secrets._encrypt_secret(secret, value)
        with platform_bypass(reason="test factory", log=False):
            secret.save()
        return secret
