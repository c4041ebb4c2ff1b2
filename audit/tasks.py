"""The audit app's periodic task: weekly archival (to be scheduled in settings.CELERY_BEAT_SCHEDULE
as "audit-archive-weekly": {"task": "audit.archive_old_entries", "schedule": crontab(...) or 604800.0}).

Idempotent: entries older than the retention are archived once; a run with nothing older writes
no file. Audited by the archival itself (`audit.archived`, and nothing when there is nothing).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import structlog
from celery import shared_task
from django.conf import settings
from django.utils import timezone

from audit.retention import archive

logger = structlog.get_logger(__name__)


def archive_dir() -> Path:
    """QM_AUDIT_ARCHIVE_DIR if configured, else .data/archive/ under the project."""
    configured = getattr(settings, "QM_AUDIT_ARCHIVE_DIR", "")
    return Path(configured) if configured else Path(settings.BASE_DIR) / ".data" / "archive"


@shared_task(name="audit.archive_old_entries")
def archive_old_entries() -> int:
    """Archive (and remove) audit entries older than QM_AUDIT_RETENTION_DAYS (90)."""
    days = int(getattr(settings, "QM_AUDIT_RETENTION_DAYS", 90))
    now = timezone.now()
    before = now - timedelta(days=days)
    out = archive_dir() / f"audit-before-{before:%Y%m%d}-{now:%Y%m%dT%H%M%S}.jsonl.gz"
    outcome = archive(before=before, out=out)
    logger.info("audit.archive_old_entries", entries=outcome.entries, file=str(outcome.file or ""))
    return outcome.entries
