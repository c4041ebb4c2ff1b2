"""The demo people's password hashes: PBKDF2 at a lower work factor, raised at first sign-in.

Django's PBKDF2 default (a million rounds) costs a third of a second per hash on this 2-core
machine, and the seed hashes some thirty times (every account it opens, every sign-in and wrong
guess it makes through the real login path): ten seconds of a first `make run` spent on nothing
but stretching. Key stretching protects guessable passwords; the demo's are 96 random bits
(`scenario.password`), which no number of rounds makes weaker or stronger in practice. So while
the seed runs, the preferred hasher is this one: the same algorithm (`pbkdf2_sha256`, verified
by Django's own hasher, which reads the rounds from the stored hash) with fewer rounds. The
first time a demo person signs in, Django's `check_password` sees fewer rounds than its
default and re-hashes at full strength (`must_update`), as it does after any upgrade of the
work factor. Nothing else changes: the same services, validators, lockout and audit entries.

It never lowers a hash: a stronger stored hash (the platform admin's, made by
`bootstrap_admin`) is left as it is if someone signs in with it during the seed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher, get_hasher, must_update_salt
from django.test.utils import override_settings

DEMO_ROUNDS = 20_000


class DemoPasswordHasher(PBKDF2PasswordHasher):
    """Django's PBKDF2-SHA256 with `DEMO_ROUNDS`; its hashes are ordinary `pbkdf2_sha256` ones."""

    iterations = DEMO_ROUNDS

    def must_update(self, encoded: str) -> bool:
        decoded: dict[str, Any] = self.decode(encoded)
        return decoded["iterations"] < self.iterations or must_update_salt(decoded["salt"], self.salt_entropy)


HASHER = f"{DemoPasswordHasher.__module__}.{DemoPasswordHasher.__qualname__}"


@contextmanager
def demo_hashing() -> Iterator[None]:
    """New passwords hashed with `DemoPasswordHasher` meanwhile, when the configured default is
    PBKDF2-SHA256 at more rounds: then Django's hasher verifies the demo's hashes afterwards (by
    their stored rounds) and raises them. Any other default (a test run's fast hasher, another
    algorithm someone chose) is left as it is: its hashes are the ones it can verify."""
    default = get_hasher("default")
    if default.algorithm != DemoPasswordHasher.algorithm or getattr(default, "iterations", 0) <= DEMO_ROUNDS:
        yield
        return
    hashers = [HASHER, *(h for h in settings.PASSWORD_HASHERS if h != HASHER)]
    with override_settings(PASSWORD_HASHERS=hashers):
        yield
