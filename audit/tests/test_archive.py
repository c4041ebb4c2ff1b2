"""Retention: archive_audit_logs writes, verifies, removes; chains still verify afterwards."""

from __future__ import annotations

import gzip
import json
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from freezegun import freeze_time

from audit import archive as archive_module
from audit.chain import PLATFORM_CHAIN, link_hash, verify_chains
from audit.models import AuditArchive, AuditLogEntry
from audit.services import audit_record
from audit.tests.test_chain import _tamper
from core.tenancy import platform_bypass, tenant_context
from tenants.tests.factories import TenantFactory

NOW = timezone.now()


def _entries_at(tenant: Any, days_ago: int, n: int) -> None:
    with freeze_time(NOW - timedelta(days=days_ago)), tenant_context(tenant):
        for i in range(n):
            audit_record(action="old.thing", tenant=tenant, details={"i": i, "days": days_ago}, system=True)


def _all(**filters: Any) -> list[AuditLogEntry]:
    with platform_bypass(reason="test", log=False):
        return list(AuditLogEntry.objects.filter(**filters).order_by("tenant_id", "chain_seq"))


def _verify() -> dict[str, Any]:
    with platform_bypass(reason="test", log=False):
        return {r.chain: r for r in verify_chains()}


def _archive(out: Path, before: Any = None) -> tuple[str, str]:
    stdout, stderr = StringIO(), StringIO()
    cut = (before or (NOW - timedelta(days=90))).date().isoformat()
    call_command("archive_audit_logs", "--before", cut, "--out", str(out), stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


def _read(path: Path) -> list[str]:
    with gzip.open(path, "rt") as f:
        return f.read().splitlines()


@pytest.fixture
def two_tenants_with_old_and_new():
    a, b = TenantFactory.create(), TenantFactory.create()
    _entries_at(a, 200, 3)
    _entries_at(a, 10, 2)
    _entries_at(b, 150, 2)
    _entries_at(b, 100, 1)
    _entries_at(b, 5, 1)
    return a, b


@pytest.mark.django_db
def test_archive__old_entries__written_verified_removed_and_chains_still_verify(
    two_tenants_with_old_and_new, tmp_path
):
    a, b = two_tenants_with_old_and_new
    out = tmp_path / "audit-old.jsonl.gz"
    before_a = [e.hash for e in _all(tenant=a)]

    stdout, _ = _archive(out)

    assert "6 entries of 2 chains archived" in stdout
    lines = [json.loads(x) for x in _read(out)]
    assert [(x["chain"], x["seq"]) for x in lines] == sorted(
        [(str(a.pk), s) for s in (1, 2, 3)] + [(str(b.pk), s) for s in (1, 2, 3)]
    )
    for line in lines:  # the file stands on its own: every hash from its content
        assert link_hash(line["prev_hash"], line["content"]) == line["hash"]
        assert json.loads(line["content"])["id"] == line["id"]
    remaining_a = _all(tenant=a)
    assert [e.chain_seq for e in remaining_a] == [4, 5]
    assert remaining_a[0].prev_hash == before_a[2]  # links to the archive's last hash
    assert [e.chain_seq for e in _all(tenant=b)] == [4]
    with platform_bypass(reason="test", log=False):
        anchors = {x.chain: x for x in AuditArchive.objects.all()}
        (record,) = AuditLogEntry.objects.filter(action="audit.archived")
    assert anchors[str(a.pk)].last_hash == before_a[2]
    assert (anchors[str(a.pk)].first_seq, anchors[str(a.pk)].last_seq, anchors[str(a.pk)].count) == (1, 3, 3)
    assert record.details["entries"] == 6
    assert record.details["file_sha256"] == anchors[str(a.pk)].file_sha256
    results = _verify()
    assert all(r.ok for r in results.values()), [str(r.broken) for r in results.values() if not r.ok]


@pytest.mark.django_db
def test_archive__run_again__nothing_to_archive_and_no_file(two_tenants_with_old_and_new, tmp_path):
    _archive(tmp_path / "first.jsonl.gz")

    stdout, _ = _archive(tmp_path / "second.jsonl.gz")

    assert "nothing to archive" in stdout
    assert not (tmp_path / "second.jsonl.gz").exists()
    assert len(_all(action="audit.archived")) == 1


@pytest.mark.django_db
def test_archive__twice_with_later_cut_off__second_anchors_on_the_first(
    two_tenants_with_old_and_new, tmp_path
):
    a, _ = two_tenants_with_old_and_new
    _archive(tmp_path / "first.jsonl.gz", before=NOW - timedelta(days=120))

    _archive(tmp_path / "second.jsonl.gz", before=NOW - timedelta(days=1))

    assert [e.chain_seq for e in _all(tenant=a)] == []
    results = _verify()
    assert results[str(a.pk)].ok
    assert all(r.ok for r in results.values())


@pytest.mark.django_db
def test_archive__every_tenant_entry_archived__chain_goes_on_from_the_anchor(tmp_path):
    tenant = TenantFactory.create()
    _entries_at(tenant, 200, 2)
    _archive(tmp_path / "a.jsonl.gz")

    _entries_at(tenant, 0, 1)

    (entry,) = _all(tenant=tenant)
    assert entry.chain_seq == 3
    assert _verify()[str(tenant.pk)].ok


@pytest.mark.django_db
def test_archive__tampered_entry__file_does_not_verify_and_nothing_removed(
    two_tenants_with_old_and_new, tmp_path
):
    a, _ = two_tenants_with_old_and_new
    victim = _all(tenant=a)[1]
    _tamper(f"UPDATE audit_auditlogentry SET details = '{{}}' WHERE id = '{victim.pk}'")
    out = tmp_path / "bad.jsonl.gz"

    with pytest.raises(SystemExit) as exit_info:
        _archive(out)

    assert exit_info.value.code == 1
    assert len(_all(tenant=a)) == 5  # nothing removed
    assert not out.exists()
    with platform_bypass(reason="test", log=False):
        assert not AuditArchive.objects.exists()


@pytest.mark.django_db
def test_archive__out_file_exists__refused_not_overwritten(two_tenants_with_old_and_new, tmp_path):
    out = tmp_path / "exists.jsonl.gz"
    out.write_text("keep me")

    with pytest.raises(SystemExit):
        _archive(out)

    assert out.read_text() == "keep me"
    assert len(_all(action="old.thing")) == 9


@pytest.mark.django_db
def test_verify_file__line_altered__reported(two_tenants_with_old_and_new, tmp_path):
    with platform_bypass(reason="test", log=False):
        slices = archive_module.plan(before=NOW - timedelta(days=90))
        out = tmp_path / "x.jsonl.gz"
        archive_module.write_file(out, slices)
    lines = _read(out)
    line = json.loads(lines[1])
    line["content"] = line["content"].replace('"i": 1', '"i": 7')
    lines[1] = json.dumps(line)
    with gzip.open(out, "wt") as f:
        f.write("\n".join(lines) + "\n")

    check = archive_module.verify_file(out, slices)

    assert not check.ok
    assert "hash does not match its content" in check.problems[0]


def test_archive__only_path_around_the_insert_only_trigger():
    """Only audit.services.audit_archive_remove names the audit log's insert-only trigger outside
    its definition and the migrations (the test suite's flush ignores every trigger)."""
    root = Path(__file__).resolve().parents[2]
    users = sorted(
        str(p.relative_to(root))
        for p in root.glob("*/**/*.py")
        if ".venv" not in p.parts
        and "tests" not in p.parts
        and "audit_insert_only" in p.read_text(errors="ignore")
    )

    assert users == [
        "audit/migrations/0001_initial.py",
        "audit/migrations/0003_audit_chain.py",
        "audit/models.py",
        "audit/services.py",
    ]


@pytest.mark.django_db
def test_archive__platform_chain_entries__archived_too(tmp_path):
    with freeze_time(NOW - timedelta(days=200)):
        audit_record(action="platform.old", system=True)

    stdout, _ = _archive(tmp_path / "p.jsonl.gz")

    assert "archived" in stdout
    assert _all(action="platform.old") == []
    assert _verify()[PLATFORM_CHAIN].ok


@pytest.mark.django_db
def test_archive_task__configured_dir__archives_old_entries_once(tmp_path, settings):
    from audit.tasks import archive_old_entries

    settings.QM_AUDIT_ARCHIVE_DIR = str(tmp_path / "archive")
    tenant = TenantFactory.create()
    _entries_at(tenant, 120, 2)
    _entries_at(tenant, 1, 1)

    first, second = archive_old_entries.delay().get(), archive_old_entries.delay().get()

    assert (first, second) == (2, 0)
    files = list((tmp_path / "archive").glob("audit-before-*.jsonl.gz"))
    assert len(files) == 1
    assert len(_read(files[0])) == 2
    assert _verify()[str(tenant.pk)].ok
