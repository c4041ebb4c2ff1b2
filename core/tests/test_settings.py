"""Production configuration: refuses to start without a secret, passes `check --deploy`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))}
    clean.update(env)
    return subprocess.run(  # noqa: S603  # our own interpreter and manage.py
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_production__no_secret_key__refuses_with_a_clear_message():
    result = _run(["check"], DJANGO_ENV="production")

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


@pytest.mark.slow
def test_production__documented_variables_set__check_deploy_is_clean():
    result = _run(
        ["check", "--deploy", "--fail-level", "WARNING"],
        DJANGO_ENV="production",
        DJANGO_SECRET_KEY="x" * 20 + "-production-like-secret-for-the-check-0123456789",
        DJANGO_ALLOWED_HOSTS="qm.example.com",
        QM_ENCRYPTION_KEYS="k1:" + "A" * 43 + "=",
    )

    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


@pytest.mark.django_db
def test_models_and_migrations__agree():
    from django.core.management import call_command

    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
