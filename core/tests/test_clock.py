"""`core.clock`: the real time unless a caller sets it for its own context (the demo seed's
history), and the base model's stamps, the audit chain and the write gates that follow it."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from audit.chain import verify_chains
from audit.models import AuditLogEntry
from audit.services import audit_record
from core import clock, gates
from core.tenancy import platform_bypass, tenant_context
from tenants.tests.factories import TenantFactory

PAST = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)


def test_now__clock_not_set__the_real_time() -> None:
    before = timezone.now()
    assert before <= clock.now() <= timezone.now()
    assert clock.is_set() is False


def test_as_of__inside__starts_at_the_moment_runs_on_and_is_restored_after() -> None:
    with clock.as_of(PAST):
        first, second = clock.now(), clock.now()
        assert clock.is_set() is True
        assert PAST <= first <= second < PAST + timedelta(seconds=5)
        with clock.as_of(PAST + timedelta(days=3)):
            assert clock.now() >= PAST + timedelta(days=3)
        assert clock.now() < PAST + timedelta(seconds=5)  # the outer clock again
    assert clock.is_set() is False
    assert clock.now() > PAST + timedelta(days=365)


def test_as_of__another_thread__sees_the_real_time() -> None:
    seen: list[datetime] = []
    with clock.as_of(PAST):
        thread = threading.Thread(target=lambda: seen.append(clock.now()))
        thread.start()
        thread.join()
    assert seen[0] > PAST + timedelta(days=365)


def test_as_of__naive_moment__refused() -> None:
    with pytest.raises(ValueError, match="aware"), clock.as_of(datetime(2024, 3, 1)):  # the point
        pass


@pytest.mark.django_db
def test_base_model_stamps__under_as_of__created_at_is_the_moment_and_the_chain_verifies() -> None:
    tenant: Any = TenantFactory()
    with tenant_context(tenant):
        with clock.as_of(PAST):
            entry = audit_record(action="thing.changed", tenant=tenant, details={"n": 1}, system=True)
        later = audit_record(action="thing.changed", tenant=tenant, details={"n": 2}, system=True)
        stored = AuditLogEntry.objects.get(pk=entry.pk)
        assert PAST <= stored.created_at < PAST + timedelta(seconds=5)
        assert AuditLogEntry.objects.get(pk=later.pk).created_at > PAST + timedelta(days=365)
    with platform_bypass(reason="test", log=False):
        results = {r.chain: r for r in verify_chains(tenant=tenant, only=True)}
    assert results[str(tenant.pk)].ok
    assert results[str(tenant.pk)].entries == 2


def test_once_per__under_as_of__once_per_interval_of_the_set_clock() -> None:
    key = f"test:clock-gate:{PAST.timestamp()}"
    with clock.as_of(PAST):
        assert gates.once_per(key, 60) is True
        assert gates.once_per(key, 60) is False  # the same minute of the set clock
    with clock.as_of(PAST + timedelta(minutes=5)):
        assert gates.once_per(key, 60) is True  # five minutes later on that clock


def test_as_of__callers__only_the_demo_seed() -> None:
    """Production code never sets the clock: only the demo's history (and tests) may."""
    root = Path(settings.BASE_DIR)
    callers = sorted(
        str(path.relative_to(root))
        for path in root.glob("*/**/*.py")
        if ".venv" not in path.parts
        and "tests" not in path.parts
        and re.search(r"\bclock\.as_of\(|\bfrom core\.clock import\b.*\bas_of\b", path.read_text())
    )
    assert callers, "the demo seed sets the clock"
    assert all(c.startswith("console/demo/") for c in callers), callers
