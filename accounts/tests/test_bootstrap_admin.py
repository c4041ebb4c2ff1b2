from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from accounts.models import PlatformRole, User


@pytest.mark.django_db
def test_bootstrap_admin__from_environment__creates_then_updates(monkeypatch):
    monkeypatch.setenv("QM_ADMIN_EMAIL", "Root@Example.com")
    monkeypatch.setenv("QM_ADMIN_PASSWORD", "first-long-passphrase-1")
    call_command("bootstrap_admin", stdout=io.StringIO())
    monkeypatch.setenv("QM_ADMIN_PASSWORD", "second-long-passphrase-2")

    out = io.StringIO()
    call_command("bootstrap_admin", stdout=out)

    user = User.objects.get()
    assert user.email == "root@example.com"
    assert user.platform_role == PlatformRole.PLATFORM_ADMIN
    assert user.is_superuser
    assert user.is_staff
    assert user.check_password("second-long-passphrase-2")
    assert "Updated" in out.getvalue()


@pytest.mark.django_db
def test_bootstrap_admin__weak_password__refused_and_nothing_written(monkeypatch):
    monkeypatch.setenv("QM_ADMIN_EMAIL", "root@example.com")
    monkeypatch.setenv("QM_ADMIN_PASSWORD", "password")

    with pytest.raises(CommandError, match=r"too short|too common"):
        call_command("bootstrap_admin", stdout=io.StringIO())

    assert not User.objects.exists()


@pytest.mark.django_db
def test_bootstrap_admin__no_environment_no_terminal__clear_error(monkeypatch):
    monkeypatch.delenv("QM_ADMIN_EMAIL", raising=False)
    monkeypatch.delenv("QM_ADMIN_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO())

    with pytest.raises(CommandError, match="QM_ADMIN_EMAIL"):
        call_command("bootstrap_admin", stdout=io.StringIO())


@pytest.mark.django_db
def test_bootstrap_admin_demo__generates_once_into_the_data_dir(monkeypatch, settings, tmp_path):
    monkeypatch.delenv("QM_ADMIN_EMAIL", raising=False)
    monkeypatch.delenv("QM_ADMIN_PASSWORD", raising=False)
    settings.DATA_DIR = tmp_path

    call_command("bootstrap_admin", "--demo", stdout=io.StringIO())
    call_command("bootstrap_admin", "--demo", stdout=io.StringIO())

    login = (tmp_path / "admin-login.txt").read_text()
    password = login.split("password:")[1].strip()
    user = User.objects.get()
    assert user.check_password(password)
    assert (tmp_path / "admin-login.txt").stat().st_mode & 0o077 == 0
