"""The console's sensitive reads and refusals in the audit log: the recommendations page and a
segment's members page are recorded as the API's reads are; a refused page is recorded
(`access.denied`) at most once a minute per caller, route and tenant."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache

from audit.models import AuditLogEntry
from core import gates
from core.tenancy import platform_bypass
from insights.tests.factories import make_recommendation

pytestmark = pytest.mark.django_db


def audited(tenant: Any, action: str) -> list[AuditLogEntry]:
    with platform_bypass(reason="test", log=False):
        return list(AuditLogEntry.objects.filter(tenant=tenant, action=action).order_by("chain_seq"))


def test_recommendations_page__open_and_history__each_recorded(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    make_recommendation(tenant)
    client = signed_in(owner)

    assert client.get(f"/t/{tenant.pk}/recommendations/").status_code == 200
    assert client.get(f"/t/{tenant.pk}/recommendations/?tab=history").status_code == 200

    entries = audited(tenant, "recommendations.viewed")
    assert [e.details for e in entries] == [{"status": "open"}, {"status": "decided"}]
    assert {(e.actor_label, e.actor_role) for e in entries} == {(owner.email, "owner")}


def test_segment_page__members_recorded_the_list_of_counts_not(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    client = signed_in(owner)

    assert client.get(f"/t/{tenant.pk}/segments/").status_code == 200
    assert client.get(f"/t/{tenant.pk}/segments/agents_in_error/").status_code == 200
    assert client.get(f"/t/{tenant.pk}/segments/no_such/").status_code == 404

    [entry] = audited(tenant, "segment.viewed")
    assert (entry.target_id, entry.actor_label) == ("agents_in_error", owner.email)


def test_refused_page__viewer_again_and_again__one_entry_a_minute(
    signed_in: Any, tenant: Any, viewer: Any
) -> None:
    client = signed_in(viewer)

    for _ in range(5):
        assert client.get(f"/t/{tenant.pk}/recommendations/").status_code == 403
    [entry] = audited(tenant, "access.denied")
    gates._last.clear()  # a minute later: the gate's memory and its cache have forgotten
    cache.clear()
    assert client.get(f"/t/{tenant.pk}/recommendations/").status_code == 403

    assert entry.details == {
        "method": "GET",
        "path": f"/t/{tenant.pk}/recommendations/",
        "code": "missing_permission",
    }
    assert len(audited(tenant, "access.denied")) == 2
    assert audited(tenant, "recommendations.viewed") == []
