"""Every write of billing. Split by subject: charging (single and batch), reservations (holds),
staff postings, subscriptions (new tenants, periods, included credits, plan changes), account
settings and thresholds, the price table, maintenance; idempotency and the shared pieces apart.

Import from here: `from billing import services; services.credits_charge(...)`.
"""

from billing.services.account_settings import credit_account_update, threshold_create, threshold_delete
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
from billing.services.maintenance import idempotency_records_prune
from billing.services.postings import credits_post
from billing.services.prices import model_price_add
from billing.services.reservations import (
    reservation_hold,
    reservation_release,
    reservation_settle,
    reservations_expire,
)
from billing.services.subscriptions import (
    agent_slot_check,
    billing_tenant_setup,
    credits_grant_included,
    subscription_renew,
    subscription_update,
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
