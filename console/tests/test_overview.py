"""A tenant's overview and its low-balance alerts: what each caller sees, the tenant gate's
refusals (no data of another tenant), the alerts' forms with and without htmx, the query count."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import UserFactory
from alerts.services import alert_acknowledge, alert_resolve
from alerts.tests.factories import make_alert
from audit.models import AuditLogEntry
from billing.models import LowBalanceThreshold
from billing.tests.factories import fund
from console.tests.data import prices, usage_history
from core.tenancy import platform_bypass, tenant_context
from tenants.models import TenantStatus
from tenants.tests.factories import TenantFactory, member

pytestmark = pytest.mark.django_db


def _url(tenant: Any, rest: str = "") -> str:
    return f"/t/{tenant.pk}/{rest}"


def _thresholds(tenant: Any) -> list[Decimal]:
    with platform_bypass(reason="test", log=False):
        return sorted(row.threshold for row in LowBalanceThreshold.objects.filter(tenant=tenant))


def _audit_actions(tenant: Any) -> list[str]:
    with platform_bypass(reason="test", log=False):
        return list(AuditLogEntry.objects.filter(tenant=tenant).values_list("action", flat=True))


def test_overview__owner_with_usage__every_panel_with_its_figures(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    prices()
    usage_history(tenant, creator=owner, days=3)  # 2+3+4 credits of the test model, 3 of the large one
    body = signed_in(owner).get(_url(tenant)).content.decode()
    assert "<h1>Acme Robotics</h1>" in body
    assert "988.00" in body  # 1,000 granted, 12 used
    assert re.search(r"\d+ days</p>", body)  # the runway
    assert 'role="img" aria-labelledby="spend-chart-title spend-chart-desc"' in body
    assert "test-model-large" in body
    assert "Production runtime" in body
    assert "Recent activity" in body
    assert "times in Europe/Berlin" in body
    assert 'data-testid="kpi-members"' in body


def test_overview__empty_tenant__empty_states_say_what_to_do_next(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    body = signed_in(owner).get(_url(tenant)).content.decode()
    assert "No usage in the last 30 days." in body
    assert f"POST /api/v1/tenants/{tenant.pk}/usage" in body
    assert "No credits yet" in body
    assert "No low-balance alerts. Add one" in body
    assert "No model used yet." in body


def test_overview__open_alerts__counted_with_the_acknowledged_and_linked_to_the_alerts_page(
    signed_in: Any, tenant: Any, owner: Any, other_tenant: Any
) -> None:
    fund(tenant, 5)
    make_alert(tenant, title="Container c-1 is unhealthy")
    make_alert(tenant)
    acknowledged, resolved = make_alert(tenant), make_alert(tenant)
    make_alert(other_tenant)
    make_alert(None)  # a platform alert: never a tenant's
    with tenant_context(tenant):
        alert_acknowledge(alert=acknowledged, actor=owner)
        alert_resolve(alert=resolved, actor=owner)
    viewer = member(tenant, "viewer")

    body = signed_in(viewer).get(_url(tenant)).content.decode()

    kpi = body.split('data-testid="kpi-alerts"')[1].split("</div>")[0]
    assert '<p class="kpi-value">2</p>' in kpi
    assert "1 more acknowledged." in kpi
    assert f'href="/t/{tenant.pk}/alerts/inbox/"' in kpi


def test_overview__no_alerts__says_nothing_to_look_at(signed_in: Any, tenant: Any, owner: Any) -> None:
    body = signed_in(owner).get(_url(tenant)).content.decode()
    kpi = body.split('data-testid="kpi-alerts"')[1].split("</div>")[0]
    assert '<p class="kpi-value">0</p>' in kpi
    assert "Nothing to look at." in kpi


def test_overview__viewer__no_audit_no_key_names_no_alert_form(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    prices()
    usage_history(tenant, creator=owner, days=1)
    viewer = member(tenant, "viewer")
    body = signed_in(viewer).get(_url(tenant)).content.decode()
    assert "997.00" in body  # the balance is a viewer's to see (credits:read)
    assert "Recent activity" not in body
    assert "Production runtime" not in body  # api_keys:read is not a viewer's
    assert "Add alert" not in body
    assert "An admin of this tenant can add one." in body
    assert "<button" not in body.split('<main id="main"')[1].split("</main>")[0]


def test_overview__time_shown__in_the_tenants_time_zone(signed_in: Any, tenant: Any, owner: Any) -> None:
    fund(tenant, 5)
    body = signed_in(owner).get(_url(tenant)).content.decode()
    assert re.search(r'title="\d{1,2} \w{3} \d{4}, \d{2}:\d{2} CES?T"', body), "audit times in Berlin time"


def test_overview__member_of_another_tenant__403_page_with_none_of_its_data_and_audited(
    signed_in: Any, owner: Any, other_tenant: Any
) -> None:
    fund(other_tenant, 4242)
    response = signed_in(owner).get(_url(other_tenant))
    body = response.content.decode()
    assert response.status_code == 403
    assert "You are not a member of this tenant." in body
    assert "Globex" not in body
    assert "4,242" not in body
    assert "access.denied" in _audit_actions(other_tenant)


def test_overview__tenant_that_does_not_exist__same_403_as_not_a_member(signed_in: Any, owner: Any) -> None:
    response = signed_in(owner).get("/t/00000000-0000-0000-0000-000000000000/")
    assert response.status_code == 403
    assert "You are not a member of this tenant." in response.content.decode()


def test_overview__platform_operator__any_tenant_read_only_and_404_for_none(
    signed_in: Any, tenant: Any, platform_operator: Any
) -> None:
    client = signed_in(platform_operator)
    body = client.get(_url(tenant)).content.decode()
    assert "viewing as platform staff" in body
    assert "Add alert" not in body
    assert "Recent activity" in body  # operators read everything
    missing = client.get("/t/00000000-0000-0000-0000-000000000000/")
    assert missing.status_code == 404
    assert "There is no such tenant." in missing.content.decode()


def test_overview__not_signed_in__asks_to_sign_in_and_comes_back(tenant: Any) -> None:
    response = Client().get(_url(tenant))
    assert response.status_code == 302
    assert response["Location"] == f"/signin/?next=%2Ft%2F{tenant.pk}%2F"


def test_overview__post__405_after_the_gate(
    signed_in: Any, tenant: Any, owner: Any, other_tenant: Any
) -> None:
    client = signed_in(owner)
    assert client.post(_url(tenant)).status_code == 405
    assert client.post(_url(other_tenant)).status_code == 403  # outsiders learn nothing from it


def _many_rows(tenant: Any, owner: Any) -> None:
    """More of everything the overview lists: members, models, keys, alerts, audit entries."""
    from billing import services

    for role in ("admin", "member", "viewer", "viewer"):
        member(tenant, role)
    usage_history(tenant, creator=owner, days=5, key_name="Second key")
    usage_history(tenant, creator=owner, days=2, key_name="Third key")
    with tenant_context(tenant):
        for value in ("10", "20", "5000"):
            services.threshold_create(tenant=tenant, actor=owner, threshold=value)
    for n in range(4):
        raised = make_alert(tenant, severity="critical" if n else "info")
        if n % 2:
            with tenant_context(tenant):
                alert_acknowledge(alert=raised, actor=owner)


def _statements(captured: CaptureQueriesContext) -> list[str]:
    """The statements a page ran (savepoints aside: the test's own transaction adds them)."""
    return [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]


def test_overview__query_count__does_not_grow_with_the_rows(signed_in: Any, tenant: Any, owner: Any) -> None:
    prices()
    usage_history(tenant, creator=owner, days=1)
    client = signed_in(owner)
    client.get(_url(tenant))  # warm: the configuration cache, the session
    with CaptureQueriesContext(connection) as few:
        assert client.get(_url(tenant)).status_code == 200
    _many_rows(tenant, owner)
    with CaptureQueriesContext(connection) as many:
        assert client.get(_url(tenant)).status_code == 200
    assert len(_statements(many)) == len(_statements(few)), "\n".join(_statements(many))
    # The Django session; the accounts session with its user; the gate (the RLS settings and
    # the membership, one round trip); the credit summary (account, subscription, burn,
    # thresholds); spend by day, by model, by key; the open alerts' counts; members; audit; the
    # header's switcher.
    assert len(_statements(few)) == 15, "\n".join(q[:150] for q in _statements(few))


def test_alert_create__admin_without_htmx__created_audited_and_back_to_the_overview(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    client = signed_in(owner)
    response = client.post(_url(tenant, "alerts/"), {"threshold": "250.5"})
    assert response.status_code == 302
    assert response["Location"] == _url(tenant)
    assert _thresholds(tenant) == [Decimal("250.5")]
    assert "credits.threshold_created" in _audit_actions(tenant)
    page = client.get(_url(tenant)).content.decode()
    assert "Added: you will be alerted when the balance falls below 250.50 credits." in page


def test_alert_create__htmx__only_the_panel_comes_back_with_a_notice(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    response = signed_in(owner).post(_url(tenant, "alerts/"), {"threshold": "40"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section class="panel" id="alerts"')
    assert "<html" not in body
    assert "Added: you will be alerted when the balance falls below 40.00 credits." in body
    assert "Balance below it" in body  # no credits yet: below it from the start


@pytest.mark.parametrize(
    ("value", "status", "message"),
    [
        ("-1", 400, "Ensure this value is greater than or equal to 0."),
        ("lots", 400, "Enter a number."),
        ("1e999", 400, "Ensure that there are no more than 20 digits in total."),
        ("", 400, "This field is required."),
    ],
)
def test_alert_create__bad_value__error_in_place_and_nothing_written(
    signed_in: Any, tenant: Any, owner: Any, value: str, status: int, message: str
) -> None:
    client = signed_in(owner)
    plain = client.post(_url(tenant, "alerts/"), {"threshold": value})
    assert plain.status_code == status
    assert message in plain.content.decode()
    assert "<h1>Acme Robotics</h1>" in plain.content.decode()  # the whole page, form kept
    partial = client.post(_url(tenant, "alerts/"), {"threshold": value}, HTTP_HX_REQUEST="true")
    assert partial.status_code == status
    assert 'aria-invalid="true"' in partial.content.decode()
    assert _thresholds(tenant) == []


def test_alert_create__same_threshold_twice__conflict_shown_on_the_field(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    client = signed_in(owner)
    client.post(_url(tenant, "alerts/"), {"threshold": "100"})
    response = client.post(_url(tenant, "alerts/"), {"threshold": "100"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 409
    assert "This threshold exists already." in response.content.decode()
    assert _thresholds(tenant) == [Decimal("100")]


def test_alert_create__viewer__403_and_nothing_written(signed_in: Any, tenant: Any) -> None:
    response = signed_in(member(tenant, "viewer")).post(_url(tenant, "alerts/"), {"threshold": "10"})
    assert response.status_code == 403
    assert "This needs the credits:admin permission." in response.content.decode()
    assert _thresholds(tenant) == []


def test_alert_create__suspended_tenant__refused_even_for_its_owner(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    with platform_bypass(reason="test", log=False):
        type(tenant).objects.filter(pk=tenant.pk).update(
            status=TenantStatus.SUSPENDED, suspended_at=timezone.now()
        )
    client = signed_in(owner)
    page = client.get(_url(tenant)).content.decode()
    assert "This tenant is suspended" in page
    assert "Add alert" not in page
    response = client.post(_url(tenant, "alerts/"), {"threshold": "10"})
    assert response.status_code == 403
    assert _thresholds(tenant) == []


def test_alert_delete__own_alert__removed_and_audited(signed_in: Any, tenant: Any, owner: Any) -> None:
    client = signed_in(owner)
    client.post(_url(tenant, "alerts/"), {"threshold": "75"})
    with platform_bypass(reason="test", log=False):
        row = LowBalanceThreshold.objects.get(tenant=tenant)
    response = client.post(_url(tenant, f"alerts/{row.pk}/delete/"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "Removed the alert below 75.00 credits." in response.content.decode()
    assert _thresholds(tenant) == []
    assert "credits.threshold_deleted" in _audit_actions(tenant)


def test_alert_delete__another_tenants_alert__left_alone(
    signed_in: Any, tenant: Any, owner: Any, other_tenant: Any
) -> None:
    from billing import services

    with tenant_context(other_tenant):
        theirs = services.threshold_create(tenant=other_tenant, actor=None, threshold="30")
    response = signed_in(owner).post(_url(tenant, f"alerts/{theirs.pk}/delete/"))
    assert response.status_code == 302
    assert _thresholds(other_tenant) == [Decimal("30")]


def test_tenant_list__member__only_their_tenants_and_search(
    signed_in: Any, tenant: Any, owner: Any, other_tenant: Any
) -> None:
    second = TenantFactory.create(name="Zeta Industries", slug="zeta")
    member(second, "viewer", user=owner)
    client = signed_in(owner)
    body = client.get("/tenants/").content.decode()
    assert "Acme Robotics" in body
    assert "Zeta Industries" in body
    assert "Globex" not in body
    found = client.get("/tenants/", {"q": "zeta"}).content.decode()
    assert "Zeta Industries" in found
    assert "Acme Robotics" not in found.split("<main")[1]


def test_tenant_list__platform_staff__every_tenant(signed_in: Any, tenant: Any, other_tenant: Any) -> None:
    staff = UserFactory.create(platform_admin=True)
    body = signed_in(staff).get("/tenants/").content.decode()
    assert "Acme Robotics" in body
    assert "Globex Secret Projects" in body


def test_tenant_list__no_tenants__says_how_to_get_one(signed_in: Any) -> None:
    body = signed_in(UserFactory.create()).get("/tenants/").content.decode()
    assert "You are not in any tenant yet" in body
    assert "invite" in body


def test_header_switcher__lists_the_users_tenants_and_marks_the_current_one(
    signed_in: Any, tenant: Any, owner: Any, other_tenant: Any
) -> None:
    second = TenantFactory.create(name="Zeta Industries")
    member(second, "viewer", user=owner)
    body = signed_in(owner).get(_url(tenant)).content.decode()
    switcher = body.split('class="menu switcher"')[1].split("</details>")[0]
    assert f'href="/t/{tenant.pk}/" aria-current="page">Acme Robotics' in switcher
    assert f'href="/t/{second.pk}/">Zeta Industries' in switcher
    assert "Globex" not in switcher
