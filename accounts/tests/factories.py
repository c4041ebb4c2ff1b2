from __future__ import annotations

import hashlib
from typing import Any

import factory

from accounts.models import ApiKey, PlatformRole, User

# Tests use a fixed password; the fast test hasher makes creating users cheap.
TEST_PASSWORD = "correct-horse-battery-staple-42"


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Faker("name")
    password = factory.django.Password(TEST_PASSWORD)

    class Params:
        platform_admin = factory.Trait(
            platform_role=PlatformRole.PLATFORM_ADMIN, is_staff=True, is_superuser=True
        )
        platform_operator = factory.Trait(platform_role=PlatformRole.PLATFORM_OPERATOR, is_staff=True)


class ApiKeyFactory(factory.django.DjangoModelFactory[ApiKey]):
    """A key row for tenancy tests; its raw key is unknown (tests that call the API with a key
    create it through the service, which returns the key once)."""

    class Meta:
        model = ApiKey

    tenant = factory.SubFactory("tenants.tests.factories.TenantFactory")
    created_by = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"key {n}")
    prefix = "qm_live_test"
    key_hash = factory.Sequence(lambda n: hashlib.sha256(f"qm_live_test{n}".encode()).hexdigest())
    scopes = factory.LazyFunction(lambda: ["agents:read"])

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kwargs: Any) -> Any:
        from core.tenancy import platform_bypass

        with platform_bypass(reason="test factory", log=False):
            return super()._create(model_class, *args, **kwargs)
