"""What every benchmark's database starts from: a database of its own, dropped and created again,
migrated, then seeded by the benchmark's own `seed` command (`fresh_database`); and, made through
the services (after `django.setup()` with the bench settings), a platform admin, one tenant
(`bench`) with its owner, and an API key of that tenant with the given scopes and a rate limit no
benchmark reaches (`bench_tenant`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent


def fresh_database(*, app_url: str, database: str, env: dict[str, str], module: str, work: Path) -> Any:
    """Recreate and migrate `database` (refused while something uses it), run `python -m module
    seed OUT` with the bench settings `env`, and answer what the seed wrote to OUT (JSON)."""
    from bench.billing_bench import recreate_database

    recreate_database(app_url, database)
    seeded = work / "seed.json"
    for command in (["manage.py", "migrate", "--noinput", "-v", "0"], ["-m", module, "seed", str(seeded)]):
        subprocess.run([sys.executable, *command], env=env, cwd=BASE_DIR, check=True)  # our own
    return json.loads(seeded.read_text())


def bench_tenant(*, key_name: str, scopes: list[str]) -> tuple[Any, Any, str]:
    """The tenant, its owner and the raw API key."""
    from accounts.models import User
    from accounts.services.api_keys import api_key_create
    from core.tenancy import tenant_context
    from tenants.services import tenant_create

    admin = User.objects.create(
        email="bench-admin@example.com", platform_role="platform_admin", is_staff=True, is_superuser=True
    )
    owner = User(email="owner@bench.example")
    owner.set_unusable_password()
    owner.save()
    tenant = tenant_create(actor=admin, owner=owner, name="Bench", slug="bench", admin_email=owner.email)
    with tenant_context(tenant):
        _key, raw = api_key_create(
            tenant=tenant,
            actor=owner,
            name=key_name,
            scopes=scopes,
            rate_limit_per_minute=100_000,
            actor_permissions=frozenset(scopes),
        )
    return tenant, owner, raw
