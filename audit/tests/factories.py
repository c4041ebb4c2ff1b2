"""Rows of the audit app's own tables, for tests (core/tests/test_rls.py among them)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from audit.chain import chain_key
from audit.models import AuditArchive, AuditChainHead
from audit.services import audit_record
from core.tenancy import tenant_context


def make_chain_head(tenant: Any) -> AuditChainHead:
    """The tenant's chain head, made by appending an entry to its chain."""
    with tenant_context(tenant):
        audit_record(action="test.recorded", tenant=tenant, system=True)
        return AuditChainHead.objects.get(chain=chain_key(tenant))


def make_archive(tenant: Any) -> AuditArchive:
    """An archive record (anchor) of the tenant's chain."""
    with tenant_context(tenant):
        return AuditArchive.objects.create(
            tenant=tenant,
            chain=chain_key(tenant),
            first_seq=1,
            last_seq=1,
            count=1,
            last_hash="a" * 64,
            before=timezone.now() - timedelta(days=90),
            file="test.jsonl.gz",
            file_sha256="b" * 64,
        )
