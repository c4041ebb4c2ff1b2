"""What agents sets off in the apps above it (core.hooks explains the pattern).

- `agent_changed`: sent with `tenant_id` inside the transaction that created, updated or
  deleted an agent (not on every status change a runtime reports).
- `session_spawned`: sent with `session` (the new child) inside session_spawn's transaction.
Insights subscribes to both: the participant graph follows (insights.services.graph).
"""

from __future__ import annotations

from core.hooks import Event

agent_changed: Event[...] = Event("agent_changed")
session_spawned: Event[...] = Event("session_spawned")
