from __future__ import annotations

import factory

from accounts.models import PlatformRole, User

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
