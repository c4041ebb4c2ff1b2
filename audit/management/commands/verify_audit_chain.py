"""`manage.py verify_audit_chain [--tenant ID | --platform]`: check the audit log's hash chains.

Reports each broken chain's first broken link (entry id, what was expected and what was found)
and exits with status 1 if there is any (audit.chain says what is checked).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import CommandError, CommandParser

from audit.chain import entry_count, verify_chains
from audit.progress import Progress
from core.commands import PlatformCommand


class Command(PlatformCommand):
    help = "Verify the audit log's hash chains; exit status 1 at the first broken link of any."

    failed = False

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--tenant", help="Only this tenant's chain (its id).")
        which.add_argument("--platform", action="store_true", help="Only the platform chain.")
        parser.add_argument("--chunk", type=int, default=5000, help="Entries per fetch (default 5000).")

    def handle(self, *args: Any, **options: Any) -> Any:
        super().handle(*args, **options)
        if self.failed:
            raise SystemExit(1)  # after the bypass's transaction (and its audit entry) committed

    def handle_platform(
        self, *args: Any, tenant: str | None = None, platform: bool = False, chunk: int = 5000, **options: Any
    ) -> None:
        tenant_id = None
        if tenant:
            try:
                tenant_id = uuid.UUID(tenant)
            except ValueError as exc:
                raise CommandError(f"--tenant: not a tenant id: {tenant!r}") from exc
        only = tenant_id is not None or platform
        total = entry_count(tenant=tenant_id, only=only)
        progress = Progress(self.stdout, label="verify_audit_chain", total=total)
        results = verify_chains(tenant=tenant_id, only=only, chunk=max(chunk, 1), progress=progress)
        progress.finish(sum(r.entries for r in results))
        broken = [r for r in results if not r.ok]
        for result in broken:
            self.stderr.write(f"BROKEN {result.broken}")
        entries = sum(r.entries for r in results)
        if broken:
            self.stderr.write(
                f"verify_audit_chain: FAILED, {len(broken)} of {len(results)} chains broken "
                f"({entries} entries read)"
            )
            self.failed = True
            return
        self.stdout.write(
            self.style.SUCCESS(f"verify_audit_chain: OK, {len(results)} chains, {entries} entries")
        )
