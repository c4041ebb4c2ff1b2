from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection

from accounts.models import User
from accounts.tests.factories import UserFactory


@pytest.mark.django_db
def test_create_user__mixed_case_email__stored_lower_case():
    user = User.objects.create_user("Ada.Lovelace@Example.COM", "a-long-enough-passphrase")

    assert user.email == "ada.lovelace@example.com"
    assert User.objects.get_by_natural_key("ADA.lovelace@example.com") == user


@pytest.mark.django_db
def test_create_user__same_email_other_case__refused():
    User.objects.create_user("grace@example.com", "a-long-enough-passphrase")

    with pytest.raises(IntegrityError):
        User.objects.create_user("GRACE@example.com", "a-long-enough-passphrase")


@pytest.mark.django_db
def test_database__upper_case_email_written_around_the_manager__refused():
    user = UserFactory.create()

    with pytest.raises(IntegrityError), connection.cursor() as cursor:
        cursor.execute("UPDATE accounts_user SET email = upper(email) WHERE id = %s", [user.id])


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["ab", "Has-Caps", "with space", "x" * 33, "émile"])
def test_username__outside_the_pattern__invalid(username):
    user = UserFactory.build(username=username)

    with pytest.raises(ValidationError) as exc:
        user.full_clean()

    assert "username" in exc.value.message_dict


@pytest.mark.django_db
def test_username__optional_and_many_users_without_one():
    first, second = UserFactory.create(username=None), UserFactory.create(username=None)

    assert first.username is None
    assert second.username is None


@pytest.mark.django_db
def test_primary_key__is_a_uuid():
    user = UserFactory.create()

    assert len(str(user.pk)) == 36
