"""Every write of billing. Split by subject: charging, reservations, credits (staff, periods).

Import from here: `from billing import services; services.credits_charge(...)`.
"""

from billing.services.charging import (
    MAX_BATCH_EVENTS,
    BatchItem,
    BatchResult,
    UsageEvent,
    batch_item,
    credits_charge,
    credits_charge_batch,
    usage_event,
)
from billing.services.common import ApiResult
from billing.services.credits import (
    agent_slot_check,
    billing_tenant_setup,
    credit_account_update,
    credits_grant_included,
    credits_post,
    model_price_add,
    subscription_renew,
    subscription_update,
    threshold_create,
    threshold_delete,
)
from billing.services.maintenance import idempotency_records_prune
from billing.services.reservations import (
    reservation_hold,
    reservation_release,
    reservation_settle,
    reservations_expire,
)

__all__ = [
    "MAX_BATCH_EVENTS",
    "ApiResult",
    "BatchItem",
    "BatchResult",
    "UsageEvent",
    "agent_slot_check",
    "batch_item",
    "billing_tenant_setup",
    "credit_account_update",
    "credits_charge",
    "credits_charge_batch",
    "credits_grant_included",
    "credits_post",
    "idempotency_records_prune",
    "model_price_add",
    "reservation_hold",
    "reservation_release",
    "reservation_settle",
    "reservations_expire",
    "subscription_renew",
    "subscription_update",
    "threshold_create",
    "threshold_delete",
    "usage_event",
]
