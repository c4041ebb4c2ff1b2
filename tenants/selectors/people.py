"""Reads for the console's people pages: the tenant's members with what a list of people needs
in one query (user, role, team, whether two-factor authentication is on)."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, QuerySet

from accounts.models import EncryptedTOTPDevice
from tenants.models import Membership, Tenant
from tenants.selectors.tenants import member_list


def member_rows(*, tenant: Tenant, filters: dict[str, Any] | None = None) -> QuerySet[Membership]:
    """`member_list` (user, role and team; same filters and order), each membership annotated
    with `mfa_enabled`: its user has a confirmed authenticator. One query, whatever the rows."""
    confirmed = EncryptedTOTPDevice.objects.filter(user_id=OuterRef("user_id"), confirmed=True)
    return member_list(tenant=tenant, filters=filters).annotate(mfa_enabled=Exists(confirmed))
