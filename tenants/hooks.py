"""What tenants set off in the apps above it (core.hooks explains the pattern).

- `tenant_created`: sent by `tenant_create` inside its transaction, in the new tenant's context,
  with `tenant`, `actor` and `owner` (None, or the user who became its first owner). Billing
  subscribes: the credit account, the subscription on `tenant.plan`, the first included credits.
- `people_changed`: sent with `tenant_id` inside the transaction of every change to a tenant's
  memberships or invites (added, updated, removed; invited, revoked, accepted, expired).
  Insights subscribes: the participant graph follows (insights.services.graph).
- `member_removed`: sent by `member_remove` inside its transaction, after the membership's row is
  deleted, with `tenant_id`, `user_id` and `actor`. Agents subscribes: the agents of the tenant
  shared with that user are unshared (agents.services.shares), so shares do not come back if
  they are added again.
"""

from __future__ import annotations

from core.hooks import Event

tenant_created: Event[...] = Event("tenant_created")
people_changed: Event[...] = Event("people_changed")
member_removed: Event[...] = Event("member_removed")
