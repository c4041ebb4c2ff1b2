"""The back office's insights pages: read-only lists, and reversal through the service."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from accounts.tests.factories import UserFactory
from core.tenancy import platform_bypass
from insights.models import Intervention
from insights.tests.factories import DailyAnalyticsFactory, make_intervention
from tenants.models import FeatureFlag

pytestmark = pytest.mark.django_db

ADMIN = "/admin/insights"


@pytest.fixture
def staff():
    return UserFactory.create(platform_operator=True)


def test_changelists__platform_staff__load_rows_no_add(client, staff, tenant):
    make_intervention(tenant)
    DailyAnalyticsFactory.create(tenant=tenant, date=datetime.now(UTC).date())
    client.force_login(staff)

    for model in ("intervention", "recommendation", "dailyanalytics"):
        response = client.get(f"{ADMIN}/{model}/")
        assert response.status_code == 200, model
        assert client.get(f"{ADMIN}/{model}/add/").status_code == 403
    assert "disable_flag" in client.get(f"{ADMIN}/intervention/").content.decode()


def test_reverse_action__reason_given__flag_restored_and_recorded(client, staff, tenant):
    pk = make_intervention(tenant)
    client.force_login(staff)
    body = {"action": "reverse_selected", "_selected_action": [str(pk)]}

    ask = client.post(f"{ADMIN}/intervention/", body)
    done = client.post(f"{ADMIN}/intervention/", {**body, "apply": "1", "reason": "false alarm"})

    assert ask.status_code == 200
    assert 'name="reason"' in ask.content.decode()
    assert done.status_code == 302
    with platform_bypass(reason="test", log=False):
        intervention = Intervention.objects.get(pk=pk)
        flag = FeatureFlag.objects.get(pk=intervention.target_ids[0])
    assert intervention.reversed_by == staff
    assert intervention.reversal_reason == "false alarm"
    assert flag.enabled is True


def test_reverse_action__no_reason__asks_again_nothing_reversed(client, staff, tenant):
    pk = make_intervention(tenant)
    client.force_login(staff)

    again = client.post(
        f"{ADMIN}/intervention/",
        {"action": "reverse_selected", "_selected_action": [str(pk)], "apply": "1", "reason": "  "},
    )

    assert again.status_code == 200
    with platform_bypass(reason="test", log=False):
        assert Intervention.objects.get(pk=pk).reversed_at is None
