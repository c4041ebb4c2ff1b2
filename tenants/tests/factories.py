"""Factories for tenant-scoped rows. They write under the platform bypass, like fixtures would:
tests then act through tenant_context or the API, where isolation applies."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import factory
from django.utils import timezone

from accounts.models import Role
from accounts.tests.factories import UserFactory
from core.tenancy import platform_bypass
from tenants.models import Invite, Membership, Team, Tenant


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
