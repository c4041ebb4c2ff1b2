"""Create or update the platform admin from QM_ADMIN_EMAIL / QM_ADMIN_PASSWORD.

On a terminal it prompts for what the environment does not give. `--demo` (used by `make run`)
generates a login when no platform admin exists yet, and writes it to .data/admin-login.txt
(git-ignored, mode 600) instead of the code or the logs.
"""

from __future__ import annotations

import getpass
import os
import secrets
import sys
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import PlatformRole, User
from accounts.services import user_bootstrap_platform_admin

DEMO_EMAIL = "admin@quartermaster.localhost"


class Command(BaseCommand):
    help = "Create or update the platform admin (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--demo",
            action="store_true",
            help="If no platform admin exists, generate one and write its login to .data/admin-login.txt.",
        )

    def handle(self, *args: Any, demo: bool = False, **options: Any) -> None:
        email = os.environ.get("QM_ADMIN_EMAIL", "")
        password = os.environ.get("QM_ADMIN_PASSWORD", "")
        if demo and not (email and password):
            self._demo_admin()
            return
        interactive = sys.stdin.isatty()
        if not email and interactive:
            email = input("Platform admin e-mail: ").strip()
        if not password and interactive:
            password = getpass.getpass("Password: ")
        if not email or not password:
            raise CommandError("Set QM_ADMIN_EMAIL and QM_ADMIN_PASSWORD (or run on a terminal).")
        try:
            user, created = user_bootstrap_platform_admin(email=email, password=password)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        verb = "Created" if created else "Updated"
        self.stdout.write(self.style.SUCCESS(f"{verb} platform admin {user.email}."))

    def _demo_admin(self) -> None:
        login_file = settings.DATA_DIR / "admin-login.txt"
        if User.objects.filter(platform_role=PlatformRole.PLATFORM_ADMIN, is_active=True).exists():
            if login_file.exists():
                self.stdout.write(f"Admin login: see {login_file}")
            return
        password = secrets.token_urlsafe(18)
        user, _ = user_bootstrap_platform_admin(email=DEMO_EMAIL, password=password)
        settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
        login_file.touch(mode=0o600)
        login_file.write_text(f"e-mail:   {user.email}\npassword: {password}\n")
        self.stdout.write(self.style.SUCCESS(f"Generated a platform admin; its login is in {login_file}"))
