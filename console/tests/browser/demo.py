"""The demo data for the browser tests that walk it, as `make run` seeds it."""

from __future__ import annotations

import importlib
from pathlib import Path

from django.apps import apps
from django.core.management import call_command
from django.db import connection, transaction
from django.test import override_settings


def seed_demo(data_dir: Path) -> dict[str, str]:
    """Seed the demo (`seed_demo`, its logins file in `data_dir`) and answer e-mail → password
    from the logins file's "People" section. The plans and prices billing's data migration seeds
    are put back first: an earlier transactional test's flush removed them (the system roles come
    back through the `system_roles` fixture)."""
    seed = importlib.import_module("billing.migrations.0002_seed_plans_prices_accounts")
    with transaction.atomic(), connection.schema_editor(atomic=False) as editor:
        seed.seed(apps, editor)
    with override_settings(DATA_DIR=data_dir):
        call_command("seed_demo", quiet=True)
    text = (data_dir / "demo-logins.txt").read_text()
    section = text.split("\nPeople\n", 1)[1].split("\n\n", 1)[0]
    return {line.split()[0]: line.split()[1] for line in section.splitlines() if line.startswith("  ")}
