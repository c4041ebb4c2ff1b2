"""A credit account's settings (unlimited, overdraft) and its low-balance thresholds."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from accounts.models import User
from audit.models import Severity
from audit.services import audit_record, changes
from billing import locks
from billing.errors import invalid
from billing.models import CreditAccount, LowBalanceThreshold
from billing.services.common import ensure_account, fmt, parse_amount
from billing.types import TenantRef, tenant_id_of
from core.errors import Conflict

MAX_THRESHOLDS = 10


@transaction.atomic
def credit_account_update(
    *, tenant: TenantRef, actor: User | None, unlimited: bool | None = None, overdraft_limit: Any = None
) -> CreditAccount:
    """Platform admins: make an account unlimited (or not), change its overdraft; audited."""
    account_id = ensure_account(tenant_id_of(tenant))[0]
    account = locks.credit_account_lock(account_id=account_id)
    before = {"unlimited": account.unlimited, "overdraft_limit": fmt(account.overdraft_limit)}
    if unlimited is not None:
        account.unlimited = unlimited
    if overdraft_limit is not None:
        limit = parse_amount(overdraft_limit, "overdraft_limit")
        if limit < 0:
            raise invalid("overdraft_limit", "Cannot be negative.")
        if account.balance < -limit:
            raise Conflict(
                f"The balance is {fmt(account.balance)}: "
                f"the overdraft cannot be less than {fmt(-account.balance)}.",
                code="overdraft_below_balance",
            )
        account.overdraft_limit = limit
    account.save(update_fields=["unlimited", "overdraft_limit", "updated_at"])
    diff = changes(before, {"unlimited": account.unlimited, "overdraft_limit": fmt(account.overdraft_limit)})
    if diff:
        audit_record(
            action="credits.account_updated",
            tenant=account.tenant_id,
            target=account,
            severity=Severity.WARNING,
            details={"changes": diff},
            actor=actor,
        )
    return account


@transaction.atomic
def threshold_create(*, tenant: TenantRef, actor: User | None, threshold: Any) -> LowBalanceThreshold:
    """Alert the tenant when its balance falls below `threshold` (once per crossing)."""
    value = parse_amount(threshold, "threshold")
    if value < 0:
        raise invalid("threshold", "Cannot be negative.")
    account_id = ensure_account(tenant_id_of(tenant))[0]
    account = locks.credit_account_lock(account_id=account_id)
    if LowBalanceThreshold.objects.filter(account=account).count() >= MAX_THRESHOLDS:
        raise Conflict(f"An account has at most {MAX_THRESHOLDS} thresholds.", code="too_many_thresholds")
    # Already below it: that is the state, not a crossing; the next crossing alerts.
    row = LowBalanceThreshold(
        tenant_id=account.tenant_id, account=account, threshold=value, below=account.balance < value
    )
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        raise Conflict("This threshold exists already.", code="threshold_exists") from None
    audit_record(
        action="credits.threshold_created",
        tenant=account.tenant_id,
        target=row,
        details={"threshold": fmt(value), "below": row.below},
        actor=actor,
    )
    return row


@transaction.atomic
def threshold_delete(*, threshold: LowBalanceThreshold, actor: User | None) -> None:
    audit_record(
        action="credits.threshold_deleted",
        tenant=threshold.tenant_id,
        target=threshold,
        details={"threshold": fmt(threshold.threshold)},
        actor=actor,
    )
    threshold.delete()
