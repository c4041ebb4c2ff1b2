"""`manage.py rollup_analytics` and the periodic task: the days they roll up, bad input refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from billing.tests.factories import charge, fund
from core.tenancy import platform_bypass
from insights.models import DailyAnalytics
from insights.tasks import rollup_daily_analytics
from tenants.tests.factories import TenantFactory

pytestmark = pytest.mark.django_db


def stored() -> list[tuple]:
    with platform_bypass(reason="test", log=False):
        return sorted(
            (str(d), str(t), str(c))
            for d, t, c in DailyAnalytics.objects.values_list("date", "tenant_id", "credits_charged")
        )


def test_command__range__a_platform_row_per_day_and_progress_shown():
    out = StringIO()

    call_command("rollup_analytics", "--from", "2025-02-27", "--to", "2025-03-02", stdout=out)

    assert [row[0] for row in stored()] == ["2025-02-27", "2025-02-28", "2025-03-01", "2025-03-02"]
    assert "4/4" in out.getvalue()
    assert "rollup_analytics: 4 days" in out.getvalue()


def test_command__run_twice__same_rows(price):
    tenant = TenantFactory.create()
    fund(tenant, 20)
    charge(tenant, credits=3)
    today = datetime.now(UTC).date()
    args = ("--from", str(today - timedelta(days=1)), "--to", str(today))

    call_command("rollup_analytics", *args, stdout=StringIO())
    first = stored()
    call_command("rollup_analytics", *args, stdout=StringIO())

    assert stored() == first
    assert (str(today), str(tenant.pk), "3.000000") in first


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--from", "2025-02-30", "--to", "2025-03-01"), "--from"),
        (("--from", "2025-03-01", "--to", "tomorrow"), "--to"),
        (("--from", "2025-03-02", "--to", "2025-03-01"), "before"),
        (("--from", "1900-01-01", "--to", "2025-03-01"), "at most"),
    ],
)
def test_command__bad_dates__command_error_nothing_written(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("rollup_analytics", *args, stdout=StringIO())
    assert stored() == []


def test_task__yesterday_and_today_rolled_up():
    today = datetime.now(UTC).date()

    result = rollup_daily_analytics.delay().get()

    assert result == [str(today - timedelta(days=1)), str(today)]
    assert [row[0] for row in stored()] == [str(today - timedelta(days=1)), str(today)]
