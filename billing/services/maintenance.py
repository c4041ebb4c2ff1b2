"""Housekeeping of billing's tables (periodic tasks)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from core.tenancy import platform_bypass

PRUNE_CHUNK = 5000


def idempotency_records_prune(*, days: int | None = None) -> int:
    """Forget stored responses older than the retention (QM_BILLING_IDEMPOTENCY_DAYS).

    A key older than that can no longer be replayed; it still cannot charge twice: the ledger
    keeps every entry's key, unique per account, and refuses the second entry.
    """
    cutoff = timezone.now() - timedelta(days=settings.QM_BILLING_IDEMPOTENCY_DAYS if days is None else days)
    removed = 0
    while True:
        # Short transactions in chunks: no long lock on a busy table.
        with (
            transaction.atomic(),
            platform_bypass(reason="billing: prune idempotency records", log=False),
            connection.cursor() as cursor,
        ):
            cursor.execute(
                "DELETE FROM billing_idempotencyrecord WHERE id IN ("
                " SELECT id FROM billing_idempotencyrecord WHERE created_at < %s LIMIT %s)",
                [cutoff, PRUNE_CHUNK],
            )
            count = cursor.rowcount
        removed += count
        if count < PRUNE_CHUNK:
            return removed
