"""`manage.py verify_ledger`: every account's balance equals the sum of its ledger entries.

Also checks that each entry's balance_after is the running sum in the order the balance moved
(seq), and that held equals the sum of the account's open reservations. Prints progress as it
goes (large ledgers take a while) and every mismatch; exits with status 1 if there is any.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import CommandParser

from billing import selectors
from billing.services.common import fmt
from core.commands import PlatformCommand


class Command(PlatformCommand):
    help = "Check that every credit account's balance equals the sum of its ledger entries."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--chunk", type=int, default=500, help="Accounts per query (default 500).")

    failed = False

    def handle(self, *args: Any, **options: Any) -> Any:
        super().handle(*args, **options)
        if self.failed:
            # After the bypass's transaction (and its audit entry) has committed.
            raise SystemExit(1)

    def handle_platform(self, *args: Any, chunk: int = 500, **options: Any) -> None:
        total = selectors.ledger_account_count()
        self.stdout.write(f"verify_ledger: {total} accounts to check")
        started = time.monotonic()
        checked = entries = 0
        bad: list[selectors.AccountCheck] = []
        for rows in selectors.ledger_check(chunk=chunk):
            for row in rows:
                checked += 1
                entries += row.entries
                if not row.ok:
                    bad.append(row)
                    self.stderr.write(
                        f"MISMATCH account {row.account_id} (tenant {row.tenant_id}): "
                        f"balance {fmt(row.balance)}, sum of {row.entries} entries {fmt(row.ledger_sum)}, "
                        f"{row.chain_breaks} entries whose "
                        f"balance_after breaks the running sum, held {fmt(row.held)} vs open holds "
                        f"{fmt(row.open_holds)}"
                    )
            self.stdout.write(
                f"verify_ledger: {checked}/{total} accounts, {entries} entries, {len(bad)} mismatches "
                f"({time.monotonic() - started:.1f}s)"
            )
        if bad:
            self.stderr.write(f"verify_ledger: FAILED, {len(bad)} of {checked} accounts do not add up")
            self.failed = True
            return
        self.stdout.write(self.style.SUCCESS(f"verify_ledger: OK, {checked} accounts, {entries} entries"))
