"""Housekeeping of accounts: user sessions that ended long ago are removed (daily,
`accounts.clean_sessions`).

A session ends when it expires or is revoked; its row stays QM_SESSION_RETENTION_DAYS (30) more,
for whoever looks into what a device did, then goes. Logins, logouts and revocations are in the
audit log, which outlives the rows. Idempotent: a second run finds nothing and writes nothing;
a run that removed rows writes one system audit entry (`sessions.cleaned`) with the counts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from accounts.models import UserSession
from audit.services import audit_record
from core import clock

DEFAULT_SESSION_RETENTION_DAYS = 30


@dataclass(frozen=True)
class SessionsCleaned:
    expired: int  # ended by their expiry, never revoked
    revoked: int

    @property
    def total(self) -> int:
        return self.expired + self.revoked


def session_retention() -> timedelta:
    return timedelta(days=getattr(settings, "QM_SESSION_RETENTION_DAYS", DEFAULT_SESSION_RETENTION_DAYS))


@transaction.atomic
def sessions_clean(*, now: datetime | None = None) -> SessionsCleaned:
    """Remove the sessions that ended (expired or revoked) more than the retention ago."""
    cutoff = (now or clock.now()) - session_retention()
    expired = UserSession.objects.filter(revoked_at__isnull=True, expires_at__lt=cutoff)
    revoked = UserSession.objects.filter(revoked_at__lt=cutoff)
    result = SessionsCleaned(
        expired=expired.delete()[1].get(UserSession._meta.label, 0),
        revoked=revoked.delete()[1].get(UserSession._meta.label, 0),
    )
    if result.total:
        audit_record(
            action="sessions.cleaned",
            system=True,
            details={**asdict(result), "ended_before": cutoff.isoformat()},
        )
    return result
