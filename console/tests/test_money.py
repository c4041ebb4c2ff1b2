"""A tenant's credits page (balance, the ledger with filters and cursor pages, the CSV statement,
the low-balance alerts) and audit log page (filters, cursor pages, old and new values): what
each role sees, the gate's refusals, bad input shown in place, query counts pinned."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta
from typing import Any

import pgtrigger
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditLogEntry
from audit.services import audit_record
from billing.tests.factories import fund
from console.formatting import MINUS
from console.tests.data import prices, usage_history
from console.views.money import PAGE_SIZE, entry_changes
from core.tenancy import tenant_context
from tenants import services as tenant_services
from tenants.tests.factories import member

pytestmark = pytest.mark.django_db


def _credits(tenant: Any, query: str = "") -> str:
    return f"/t/{tenant.pk}/credits/{query}"


def _audit(tenant: Any, query: str = "") -> str:
    return f"/t/{tenant.pk}/audit/{query}"


def _ledger_rows(body: str) -> list[str]:
    """The kinds of the ledger's rows, in order."""
    table = (
        body.split('data-testid="ledger"', 1)[1].split("</table>", 1)[0]
        if 'data-testid="ledger"' in body
        else ""
    )
    return re.findall(r'<span class="badge kind-(\w+)">', table)


def _entries(body: str) -> list[str]:
    """The actions of the audit page's entries, in order."""
    return re.findall(r"<dt>Action</dt><dd><code>([\w.]+)</code>", body)


def _grants(tenant: Any, count: int) -> None:
    for number in range(count):
        fund(tenant, number + 1)


# --- Credits -------------------------------------------------------------------------------------


def test_credits__owner_with_usage__balance_ledger_key_and_times_in_tenant_zone(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    prices()
    usage_history(tenant, creator=owner, days=2)  # grant 1,000; 2+1 then 3+1 credits
    body = signed_in(owner).get(_credits(tenant)).content.decode()
    assert "<h1>Credits</h1>" in body
    assert "993.00" in body
    # By when it happened: today's usage, the grant just before it, yesterday's usage (reported
    # today: its posting time shows too).
    assert _ledger_rows(body) == ["usage", "usage", "grant", "usage", "usage"]
    assert body.count('data-testid="posted"') == 2
    assert "+1,000.00" in body
    assert "key Production runtime" in body
    assert "qm_live_prod" in body
    assert re.search(r"\d{1,2} \w{3} \d{4}, \d{2}:\d{2} CES?T", body), "times in Berlin time"
    assert "times in Europe/Berlin" in body


def test_credits__empty_tenant__empty_states_say_what_to_do_next(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    body = signed_in(owner).get(_credits(tenant)).content.decode()
    assert 'data-testid="ledger-empty"' in body
    assert "platform staff can grant more" in body
    assert "No low-balance alerts. Add one" in body


def test_credits__filter_by_kind_and_model__only_matching_entries(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    prices()
    usage_history(tenant, creator=owner, days=3)
    client = signed_in(owner)
    assert _ledger_rows(client.get(_credits(tenant, "?kind=grant")).content.decode()) == ["grant"]
    body = client.get(_credits(tenant, "?kind=usage&model=test-model-large")).content.decode()
    assert _ledger_rows(body) == ["usage"] * 3
    assert body.count("<code>test-model-large</code>") == 3
    assert 'value="test-model-large"' in body  # the filter is kept in the form


def test_credits__filter_by_dates__days_in_the_tenants_zone_end_included(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    fund(tenant, 5)
    today = timezone.localtime(timezone.now(), tenant_zone(tenant)).date()
    client = signed_in(owner)
    assert _ledger_rows(client.get(_credits(tenant, f"?start={today}&end={today}")).content.decode()) == [
        "grant"
    ]
    yesterday = today - timedelta(days=1)
    body = client.get(_credits(tenant, f"?end={yesterday}")).content.decode()
    assert _ledger_rows(body) == []
    assert "No entries match these filters." in body


def test_credits__usage_reported_late__listed_and_filtered_by_when_it_happened(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    prices()
    usage_history(tenant, creator=owner, days=3)  # posted now, for today and the two days before
    zone = tenant_zone(tenant)
    two_days_ago = timezone.localtime(timezone.now(), zone).date() - timedelta(days=2)
    client = signed_in(owner)
    body = client.get(
        _credits(tenant, f"?kind=usage&start={two_days_ago}&end={two_days_ago}")
    ).content.decode()
    assert _ledger_rows(body) == ["usage", "usage"]
    assert body.count('data-testid="posted"') == 2
    assert f"{MINUS}4.00" in body  # that day's charges: 4 and 1 credits


def tenant_zone(tenant: Any) -> Any:
    import zoneinfo

    return zoneinfo.ZoneInfo(tenant.timezone)


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("?start=2025-02-30", "start", "Enter a valid date."),
        ("?start=1999-12-31", "start", "Between 1 Jan 2000 and 31 Dec 2999."),
        ("?start=2025-03-02&end=2025-03-01", "end", "The end comes on or after the start."),
        ("?kind=nonsense", "kind", "Select a valid choice."),
        (f"?model={'m' * 101}", "model", "Ensure this value has at most 100 characters"),
    ],
)
def test_credits__bad_filter__400_with_the_error_on_its_field(
    signed_in: Any, tenant: Any, owner: Any, query: str, field: str, message: str
) -> None:
    fund(tenant, 5)
    response = signed_in(owner).get(_credits(tenant, query))
    body = response.content.decode()
    assert response.status_code == 400
    assert f'id="id_{field}_error"' in body
    assert message in body
    assert _ledger_rows(body) == []


def test_credits__more_than_a_page__older_and_newer_cursor_pages(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    _grants(tenant, PAGE_SIZE + 5)
    client = signed_in(owner)
    first = client.get(_credits(tenant, "?kind=grant")).content.decode()
    assert len(_ledger_rows(first)) == PAGE_SIZE
    assert "+55.00" in first
    assert "+5.00" not in first.replace("+55.00", "")
    older = re.search(r'href="(\?kind=grant&amp;before=[^"]+)"[^>]*rel="next"', first)
    assert older, "an Older link keeping the filter"
    assert 'rel="prev"' not in first
    second = client.get(_credits(tenant, older[1].replace("&amp;", "&"))).content.decode()
    assert len(_ledger_rows(second)) == 5
    assert "+1.00" in second
    assert "+55.00" not in second
    newer = re.search(r'href="(\?kind=grant&amp;after=[^"]+)"[^>]*rel="prev"', second)
    assert newer
    assert 'rel="next"' not in second
    back = client.get(_credits(tenant, newer[1].replace("&amp;", "&"))).content.decode()
    assert _ledger_rows(back) == _ledger_rows(first)
    assert "+55.00" in back


@pytest.mark.parametrize(
    "path", ["credits/?model=gpt%00x", "audit/?action=a%00b", "credits/statement.csv?month=%00"]
)
def test_money_pages__nul_in_the_query__400_never_a_5xx(
    signed_in: Any, tenant: Any, owner: Any, path: str
) -> None:
    response = signed_in(owner).get(f"/t/{tenant.pk}/{path}")
    assert response.status_code == 400
    assert b"not allowed" in response.content


@pytest.mark.parametrize(
    "cursor",
    [
        "?before=abc",
        "?after=-1",
        "?before=" + "9" * 30,
        "?before=2025-01-01T00:00:00~5",
        "?after=2025-01-01T00:00:00%2B00:00~x",
    ],
)
def test_credits__cursor_not_ours__newest_page_with_a_notice(
    signed_in: Any, tenant: Any, owner: Any, cursor: str
) -> None:
    fund(tenant, 5)
    response = signed_in(owner).get(_credits(tenant, cursor))
    body = response.content.decode()
    assert response.status_code == 200
    assert "That page link is not one of ours" in body
    assert _ledger_rows(body) == ["grant"]


def test_credits__viewer__reads_the_ledger_without_alert_buttons(
    signed_in: Any, tenant: Any, viewer: Any
) -> None:
    fund(tenant, 42)
    body = signed_in(viewer).get(_credits(tenant)).content.decode()
    assert _ledger_rows(body) == ["grant"]
    assert "Add alert" not in body
    assert "An admin of this tenant can add one." in body
    main = body.split('<main id="main"', 1)[1].split("</main>", 1)[0]
    assert re.findall(r"<button[^>]*>([^<]*)</button>", main) == ["Filter", "Download CSV"]


def test_credits__owner__alert_panel_with_its_form(signed_in: Any, tenant: Any, owner: Any) -> None:
    body = signed_in(owner).get(_credits(tenant)).content.decode()
    assert f'action="/t/{tenant.pk}/alerts/"' in body
    assert "Add alert" in body


def test_credits__member_of_another_tenant__403_page_without_its_data(
    signed_in: Any, owner: Any, other_tenant: Any
) -> None:
    fund(other_tenant, 4242)
    response = signed_in(owner).get(_credits(other_tenant))
    body = response.content.decode()
    assert response.status_code == 403
    assert "4,242" not in body
    assert "Globex" not in body
    statement = signed_in(owner).get(_credits(other_tenant, "statement.csv?month=2025-01"))
    assert statement.status_code == 403
    assert b"opening_balance" not in statement.content


def test_credits__platform_operator_and_missing_tenant__404_page(
    signed_in: Any, platform_operator: Any
) -> None:
    response = signed_in(platform_operator).get("/t/00000000-0000-0000-0000-000000000000/credits/")
    assert response.status_code == 404
    assert "There is no such tenant." in response.content.decode()


def test_credits__signed_out__to_the_sign_in_page(tenant: Any) -> None:
    response = Client().get(_credits(tenant))
    assert response.status_code == 302
    assert response["Location"].startswith("/signin/?next=")


def test_credits__query_count__the_same_for_one_entry_and_sixty(
    signed_in: Any, tenant: Any, owner: Any, django_assert_num_queries: Any
) -> None:
    fund(tenant, 1)
    client = signed_in(owner)
    with CaptureQueriesContext(connection) as few:
        client.get(_credits(tenant))
    _grants(tenant, 60)
    with django_assert_num_queries(len(few.captured_queries)):
        body = client.get(_credits(tenant, "?kind=grant&model=&start=2020-01-01")).content.decode()
    assert len(_ledger_rows(body)) == PAGE_SIZE


# --- Statement -----------------------------------------------------------------------------------


def test_statement__this_month__csv_with_opening_entries_and_closing(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    fund(tenant, 100)
    fund(tenant, 20, kind="topup")
    month = timezone.localtime(timezone.now(), tenant_zone(tenant)).strftime("%Y-%m")
    response = signed_in(owner).get(_credits(tenant, f"statement.csv?month={month}"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f'filename="statement-{tenant.slug}-{month}-01-' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row[0] for row in rows] == ["row", "opening_balance", "entry", "entry", "closing_balance"]
    assert [row[4] for row in rows[2:4]] == ["grant", "topup"]
    assert rows[-1][6] == "120.000000"


@pytest.mark.parametrize(
    ("month", "message"),
    [("2025-13", "A month as YYYY-MM"), ("1999-12", "Between 1 Jan 2000"), ("", "This field is required.")],
)
def test_statement__bad_month__credits_page_400_with_the_error_in_place(
    signed_in: Any, tenant: Any, owner: Any, month: str, message: str
) -> None:
    response = signed_in(owner).get(_credits(tenant, f"statement.csv?month={month}"))
    body = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_month_error"' in body
    assert message in body
    assert "<h1>Credits</h1>" in body


# --- Audit log -----------------------------------------------------------------------------------


def test_audit__owner__entries_newest_first_with_old_and_new_values(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    with tenant_context(tenant):
        tenant_services.tenant_update(tenant=tenant, actor=owner, data={"name": "Acme Robotics GmbH"})
    fund(tenant, 7)
    body = signed_in(owner).get(_audit(tenant)).content.decode()
    actions = _entries(body)
    assert actions[:2] == ["credits.grant", "tenant.updated"]
    assert (
        '<th scope="row">name</th><td><code>Acme Robotics</code></td><td><code>Acme Robotics GmbH</code></td>'
        in body
    )
    assert owner.email in body
    assert re.search(r"\d{1,2} \w{3} \d{4}, \d{2}:\d{2} CES?T", body)


def test_audit__filters__actor_action_prefix_target_type(signed_in: Any, tenant: Any, owner: Any) -> None:
    with tenant_context(tenant):
        tenant_services.tenant_update(tenant=tenant, actor=owner, data={"name": "Renamed"})
    fund(tenant, 3)
    client = signed_in(owner)
    assert _entries(client.get(_audit(tenant, "?action=credits.*")).content.decode()) == ["credits.grant"]
    assert _entries(client.get(_audit(tenant, "?action=tenant.updated")).content.decode()) == [
        "tenant.updated"
    ]
    by_owner = _entries(
        client.get(_audit(tenant, f"?actor={owner.email.split('@')[0].upper()}")).content.decode()
    )
    assert by_owner == ["tenant.updated"]
    on_tenant = _entries(client.get(_audit(tenant, "?target_type=tenants.tenant")).content.decode())
    assert on_tenant == ["tenant.updated"]
    none = client.get(_audit(tenant, "?action=nothing.like.this")).content.decode()
    assert "No entries match these filters." in none


def test_audit__more_than_a_page__cursor_pages_both_ways(signed_in: Any, tenant: Any, owner: Any) -> None:
    with tenant_context(tenant):
        for number in range(PAGE_SIZE + 3):
            audit_record(action="test.event", tenant=tenant, target_label=f"event {number}", system=True)
    client = signed_in(owner)
    first = client.get(_audit(tenant, "?action=test.event")).content.decode()
    assert len(_entries(first)) == PAGE_SIZE
    older = re.search(r'href="([^"]+)"[^>]*rel="next"', first)
    assert older
    second = client.get(_audit(tenant, older[1].replace("&amp;", "&"))).content.decode()
    assert len(_entries(second)) == 3
    assert "event 0<" in second
    assert f"event {PAGE_SIZE + 2}<" not in second
    newer = re.search(r'href="([^"]+)"[^>]*rel="prev"', second)
    assert newer
    back = client.get(_audit(tenant, newer[1].replace("&amp;", "&"))).content.decode()
    assert len(_entries(back)) == PAGE_SIZE
    assert f"event {PAGE_SIZE + 2}<" in back


@pytest.mark.parametrize(
    ("query", "status", "text"),
    [
        ("?before=not-a-cursor", 200, "That page link is not one of ours"),
        ("?after=2025-01-01T00:00:00~nope", 200, "That page link is not one of ours"),
        ("?start=2025-01-40", 400, "Enter a valid date."),
    ],
)
def test_audit__bad_input__shown_in_place_never_a_5xx(
    signed_in: Any, tenant: Any, owner: Any, query: str, status: int, text: str
) -> None:
    fund(tenant, 1)
    response = signed_in(owner).get(_audit(tenant, query))
    assert response.status_code == status
    assert text in response.content.decode()


def test_audit__viewer__403_page(signed_in: Any, tenant: Any, viewer: Any) -> None:
    response = signed_in(viewer).get(_audit(tenant))
    assert response.status_code == 403
    assert "audit:read" in response.content.decode()


def test_audit__member_of_another_tenant__403_without_its_entries(
    signed_in: Any, owner: Any, other_tenant: Any
) -> None:
    fund(other_tenant, 3)
    response = signed_in(owner).get(_audit(other_tenant))
    assert response.status_code == 403
    assert "credits.grant" not in response.content.decode()


def test_audit__query_count__the_same_for_one_entry_and_sixty(
    signed_in: Any, tenant: Any, owner: Any, django_assert_num_queries: Any
) -> None:
    fund(tenant, 1)
    client = signed_in(owner)
    with CaptureQueriesContext(connection) as few:
        client.get(_audit(tenant))
    member(tenant, "member")
    with tenant_context(tenant):
        for _ in range(60):
            audit_record(
                action="test.event",
                tenant=tenant,
                details={"changes": {"x": {"old": 1, "new": 2}}},
                system=True,
            )
    with django_assert_num_queries(len(few.captured_queries)):
        body = client.get(_audit(tenant, "?action=test.*&start=2020-01-01")).content.decode()
    assert len(_entries(body)) == PAGE_SIZE


# --- htmx ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("page", "panel"), [("credits/", 'id="ledger"'), ("audit/", 'id="entries"')])
def test_money_pages__htmx_filter__the_panel_alone_and_a_history_restore_the_whole_page(
    signed_in: Any, tenant: Any, owner: Any, page: str, panel: str
) -> None:
    fund(tenant, 5)
    client = signed_in(owner)
    url = f"/t/{tenant.pk}/{page}?start=2020-01-01"
    fragment = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert fragment.lstrip().startswith('<section class="panel" aria-labelledby="')
    assert panel in fragment
    assert "<html" not in fragment
    assert 'value="2020-01-01"' in fragment
    restored = client.get(url, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in restored.content.decode()


def test_credits__htmx_bad_filter__400_panel_with_the_error(signed_in: Any, tenant: Any, owner: Any) -> None:
    response = signed_in(owner).get(_credits(tenant, "?start=nope"), headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_start_error"' in body
    assert "<html" not in body


def test_entry_changes__shapes__changes_as_rows_the_rest_as_values() -> None:
    changes, rest = entry_changes(
        {
            "changes": {"name": {"old": "A", "new": "B"}, "limits": {"old": None, "new": {"x": 1}}},
            "reason": "",
        }
    )
    assert changes == [("name", "A", "B"), ("limits", "\u2014", '{"x": 1}')]
    assert rest == [("reason", "\u2014")]
    assert entry_changes({"changes": "not a dict", "n": 3}) == ([], [("changes", "not a dict"), ("n", "3")])
    assert entry_changes(["odd"]) == ([], [("details", '["odd"]')])  # type: ignore[arg-type]


# --- Audit log: export and the hash chain ---------------------------------------------------------


def _jsonl(response: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]


def test_audit_export__owner__filtered_entries_as_json_lines_with_hashes_and_recorded(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    with tenant_context(tenant):
        tenant_services.tenant_update(tenant=tenant, actor=owner, data={"name": "Acme Robotics GmbH"})
    fund(tenant, 7)

    response = signed_in(owner).get(_audit(tenant, "export.jsonl?action=credits.*"))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/x-ndjson")
    lines = _jsonl(response)
    assert [line["action"] for line in lines] == ["credits.grant"]
    assert len(lines[0]["hash"]) == 64
    assert len(lines[0]["prev_hash"]) == 64
    with tenant_context(tenant):
        exported = AuditLogEntry.objects.filter(tenant=tenant, action="audit.exported").get()
    assert exported.details["filters"] == {"action": "credits.*"}


def test_audit_export__bad_filter__back_to_the_page_nothing_exported(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    response = signed_in(owner).get(_audit(tenant, "export.jsonl?start=not-a-day"))

    assert response.status_code == 302
    assert response["Location"].endswith("/audit/?start=not-a-day")
    with tenant_context(tenant):
        assert not AuditLogEntry.objects.filter(tenant=tenant, action="audit.exported").exists()


def test_audit_export__member_of_another_tenant__403_nothing_streamed(
    signed_in: Any, owner: Any, other_tenant: Any
) -> None:
    fund(other_tenant, 3)
    response = signed_in(owner).get(_audit(other_tenant, "export.jsonl"))
    assert response.status_code == 403
    assert "credits.grant" not in response.content.decode()


def test_audit_chain__untouched__whole_with_the_count(signed_in: Any, tenant: Any, owner: Any) -> None:
    fund(tenant, 7)

    body = signed_in(owner).get(_audit(tenant, "chain/")).content.decode()

    assert "The chain is whole" in body
    with tenant_context(tenant):
        count = AuditLogEntry.objects.filter(tenant=tenant).count()
    assert f"{count} entr" in body


def test_audit_chain__an_entry_edited_behind_the_applications_back__broken_at_that_entry(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    fund(tenant, 7)
    with tenant_context(tenant):
        entry = AuditLogEntry.objects.filter(tenant=tenant, action="credits.grant").get()
    with pgtrigger.ignore("audit.AuditLogEntry:audit_insert_only"), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('app.bypass_rls', 'on', false)")
        cursor.execute("UPDATE audit_auditlogentry SET action = 'credits.nothing' WHERE id = %s", [entry.pk])
        cursor.execute("SELECT set_config('app.bypass_rls', '', false)")

    response = signed_in(owner).get(_audit(tenant, "chain/"), HTTP_HX_REQUEST="true")

    body = response.content.decode()
    assert response.status_code == 200
    assert f"broken at entry #{entry.chain_seq}" in body
    assert "<html" not in body  # htmx: the panel alone
