"""A month of model usage for a demo tenant: its shape (days, hours, models, tokens, keys) and
its charging through `billing.services.credits_charge_batch`, the agent runtimes' own path.

The shape is drawn from a seeded `random.Random`, so every seed has the same spend and the
balances, thresholds and refunds of the scenario fit it; only the secrets differ per run.

Usage older than `QM_BILLING_USAGE_MAX_AGE_HOURS` (a week) is refused from clients: the check
is relative to when a report *arrives*. The seed reports each event as if it arrived 30
seconds after it happened, by passing that arrival time to `billing.services.usage_event`
(its `now` argument, which is what the check measures against). A runtime reports a day's
events of one key in one batch, right after the last of them: the scenario charges each batch
under `core.clock.as_of` that moment, so the ledger's `created_at` (the posting) is then and its
`occurred_at` is the usage time, which is what spend by day and by hour reads. Raising the
window in settings for the run would have done the same more bluntly (every check of the
process, not only these events), so the seed does not.
"""

from __future__ import annotations

import ipaddress
import json
import math
import random
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.test import RequestFactory
from rest_framework.request import Request

from accounts.api_key_auth import KEYWORD, ApiKeyAuthentication
from accounts.models import ApiKey, User
from billing import selectors as billing_selectors
from billing import services as billing
from tenants.models import Tenant

# A runtime's address when its key has no allow-list (TEST-NET-1, RFC 5737).
RUNTIME_ADDRESS = "192.0.2.10"
# Arrival of a report after the usage it reports (see the module's docstring).
REPORT_DELAY = timedelta(seconds=30)
BATCH_SIZE = 500
DAYS = 30

# Per tier: (share of events, median input tokens, median output tokens).
TIERS: dict[str, tuple[float, int, int]] = {
    "haiku": (0.5, 2500, 500),
    "sonnet": (0.38, 6000, 1200),
    "opus": (0.12, 9000, 1800),
}
# How busy each local hour of a working day is (0-23); nights are quiet, not silent: agents
# run batch jobs overnight.
HOUR_WEIGHTS = (1, 1, 1, 1, 1, 2, 3, 6, 10, 12, 12, 11, 8, 10, 12, 12, 11, 9, 6, 4, 3, 2, 2, 1)
WEEKEND_FACTOR = 0.35


@dataclass(frozen=True)
class UsageProfile:
    """How a tenant uses models over the month."""

    events_per_day: int  # on a working day, at the end of the month (the month grows into it)
    token_scale: float  # multiplies every event's tokens: bigger contexts, bigger bills
    keys: tuple[tuple[str, int], ...]  # (API key name, weight)
    agents: tuple[str, ...]  # what the metadata says did the work
    first_day: int = DAYS - 1  # days ago the usage starts (29: a full month)
    last_day: int = 0  # days ago it stops (0: today)
    seed: int = 0


@dataclass(frozen=True)
class PlannedEvent:
    occurred_at: datetime
    tier: str
    input_tokens: int
    output_tokens: int
    key_name: str
    agent: str
    pick: float  # which model of the tier (ModelBook.model)


@dataclass(frozen=True)
class PlannedBatch:
    """Events of one API key, charged in one call."""

    key_name: str
    events: tuple[PlannedEvent, ...]


def _tokens(rng: random.Random, median: int, scale: float) -> int:
    # Log-normal: most calls are small, a few carry a long context.
    return max(1, int(rng.lognormvariate(math.log(median), 0.7) * scale))


def _weighted(rng: random.Random, options: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([name for name, _ in options], weights=[w for _, w in options])[0]


def plan_month(profile: UsageProfile, *, tz_name: str, now: datetime) -> list[tuple[int, PlannedEvent]]:
    """The month's events as (days ago, event), oldest first, in the tenant's working hours.

    Each day draws from its own seeded generator, so a day's events do not depend on the date
    the seed runs (only weekends move, and today holds what has happened so far).
    """
    tz = zoneinfo.ZoneInfo(tz_name)
    today = now.astimezone(tz).date()
    tiers = list(TIERS)
    tier_weights = [TIERS[t][0] for t in tiers]
    planned: list[tuple[int, PlannedEvent]] = []
    for days_ago in range(profile.first_day, profile.last_day - 1, -1):
        rng = random.Random(profile.seed * 1000 + days_ago)  # noqa: S311  # a reproducible shape, no secret
        day = today - timedelta(days=days_ago)
        growth = 0.6 + 0.4 * (DAYS - days_ago) / DAYS  # usage grows over the month
        weekend = day.weekday() >= 5
        count = max(1, round(profile.events_per_day * growth * (WEEKEND_FACTOR if weekend else 1.0)))
        for _ in range(count):
            hour = rng.choices(range(24), weights=HOUR_WEIGHTS)[0]
            local = datetime.combine(day, time(hour, rng.randrange(60), rng.randrange(60)), tzinfo=tz)
            tier = rng.choices(tiers, weights=tier_weights)[0]
            _, median_in, median_out = TIERS[tier]
            event = PlannedEvent(
                occurred_at=local.astimezone(now.tzinfo),
                tier=tier,
                input_tokens=_tokens(rng, median_in, profile.token_scale),
                output_tokens=_tokens(rng, median_out, profile.token_scale),
                key_name=_weighted(rng, profile.keys),
                agent=rng.choice(profile.agents),
                pick=rng.random(),
            )
            if event.occurred_at <= now - REPORT_DELAY:  # later today has not happened yet
                planned.append((days_ago, event))
    planned.sort(key=lambda item: item[1].occurred_at)
    return planned


def batches(events: list[PlannedEvent]) -> Iterator[PlannedBatch]:
    """The events (oldest first) grouped by day (UTC) and API key, a batch being one key's
    report, at most BATCH_SIZE events each; the batches in the order they were reported."""
    groups: dict[tuple[date, str], list[PlannedEvent]] = {}
    for event in events:
        groups.setdefault((event.occurred_at.date(), event.key_name), []).append(event)
    chunks = [
        PlannedBatch(key_name=key_name, events=tuple(chunk[start : start + BATCH_SIZE]))
        for (_day, key_name), chunk in groups.items()
        for start in range(0, len(chunk), BATCH_SIZE)
    ]
    yield from sorted(chunks, key=lambda batch: batch.events[-1].occurred_at)


class ModelBook:
    """Which model of a tier an agent calls at a given time: one of the two newest models with a
    price in force then (mostly the newest; some agents stay on the one before)."""

    def __init__(self) -> None:
        # Each model's first price row: from then on it has a price (later rows re-price it).
        first: dict[tuple[str, str], datetime] = {}
        for price in billing_selectors.price_list():
            key = (price.tier, price.model)
            first[key] = min(first.get(key, price.effective_from), price.effective_from)
        self._by_tier: dict[str, list[tuple[datetime, str]]] = {}
        for (tier, model), start in first.items():
            self._by_tier.setdefault(tier, []).append((start, model))
        for rows in self._by_tier.values():
            rows.sort(reverse=True)  # newest first

    def model(self, tier: str, at: datetime, pick: float) -> str | None:
        in_force = [model for start, model in self._by_tier.get(tier, []) if start <= at][:2]
        if not in_force:
            return None
        return in_force[1] if len(in_force) > 1 and pick < 0.2 else in_force[0]


@dataclass
class Charged:
    entry_id: str
    amount: Decimal
    model: str


@dataclass
class ChargeOutcome:
    charged: list[Charged]
    refused: int


def runtime_address(api_key: ApiKey) -> str:
    """Where the key's runtime calls from: its allow-list's first address, else one from the
    documentation range (RFC 5737)."""
    if not api_key.allowed_ips:
        return RUNTIME_ADDRESS
    return str(next(ipaddress.ip_network(api_key.allowed_ips[0]).hosts()))


def authenticate_runtime(*, tenant: Tenant, api_key: ApiKey, raw_key: str) -> None:
    """The runtime's request authenticated as the API authenticates it (`Authorization: Api-Key`,
    the allow-list, the key's rate limit), which also records the key's last use and address."""
    request = RequestFactory().post(
        f"/api/v1/tenants/{tenant.pk}/usage/batch",
        HTTP_AUTHORIZATION=f"{KEYWORD} {raw_key}",
        REMOTE_ADDR=runtime_address(api_key),
    )
    ApiKeyAuthentication().authenticate(Request(request))


def charge_batch(
    *, tenant: Tenant, batch: PlannedBatch, api_key: ApiKey, models: ModelBook, first_index: int
) -> ChargeOutcome:
    """Charge one planned batch through the runtime's service; each event keyed like a runtime
    would (`demo-<tenant>-<n>`), so a repeated seed could never charge twice."""
    items: list[billing.BatchItem] = []
    picked: list[str] = []
    for n, event in enumerate(batch.events):
        model = models.model(event.tier, event.occurred_at, event.pick)
        if model is None:
            continue
        picked.append(model)
        usage = billing.usage_event(
            model=model,
            input_tokens=event.input_tokens,
            output_tokens=event.output_tokens,
            occurred_at=event.occurred_at,
            description=f"{event.agent}: {event.tier} call",
            metadata={"agent": event.agent, "source": "demo"},
            now=event.occurred_at + REPORT_DELAY,
        )
        items.append(billing.BatchItem(key=f"demo-{tenant.slug}-{first_index + n:05d}", event=usage))
    result = billing.credits_charge_batch(tenant=tenant, items=items, api_key=api_key)
    charged: list[Charged] = []
    for (status, body, _replayed), model in zip(result.results, picked, strict=True):
        if status == 201:
            entry = _entry(body)
            charged.append(Charged(entry_id=entry["id"], amount=Decimal(entry["amount"]), model=model))
    return ChargeOutcome(charged=charged, refused=result.refused)


def charge_single(*, tenant: Tenant, user: User, key: str, model: str, tokens: tuple[int, int]) -> None:
    """One usage report of a person (a playground call from the console), through the single
    charge: the user is the actor, no API key."""
    event = billing.usage_event(
        model=model,
        input_tokens=tokens[0],
        output_tokens=tokens[1],
        description="Playground: trying a prompt",
        metadata={"source": "demo", "playground": True},
    )
    billing.credits_charge(tenant=tenant, event=event, idempotency_key=key, actor=user)


def _entry(body: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(body)
    return value
