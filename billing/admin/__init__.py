"""The back office for billing, by subject: the catalogue (plans, prices, subscriptions), the
credits (accounts with their grant/adjust actions, the ledger, holds, low-balance thresholds),
the tenant page's billing panel, and the admin's dashboard (its index). Importing the package
registers every admin.

The ledger is insert-only in the database, and so in the admin: money moves only through the
services (credits_post, audited, with a reason). Requests run under the platform bypass
(core.admin_bypass). Platform admins change things; platform operators only look.
"""

from billing.admin import catalogue, ledger, tenants

__all__ = ["catalogue", "ledger", "tenants"]
