"""Row locks of billing's slow paths (staff operations, periodic tasks).

The hot paths (charges, holds, settlements) lock nothing ahead: their single statements take
the account's row lock themselves (billing/services/_sql.py). The slow paths lock first and
re-read after, in this order when they need several: subscription, then account; never two
accounts in one transaction.
"""

from __future__ import annotations

from typing import Any

from billing.models import CreditAccount, Subscription
from billing.types import TenantRef


def credit_account_lock(*, account_id: Any) -> CreditAccount:
    """Lock the account row and return it as it is now (read after the lock was granted)."""
    return CreditAccount.objects.select_for_update().get(pk=account_id)


def subscription_lock(*, tenant: TenantRef) -> Subscription | None:
    """Lock the tenant's subscription row (its plan comes along, unlocked: `of=("self",)`)."""
    return (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("plan")
        .filter(tenant=tenant)
        .first()
    )
