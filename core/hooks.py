"""Hooks: how a lower layer sets off something a higher one provides, without importing it.

The layers are one-way (docs/architecture.md): core knows no domain app, accounts knows no
tenant, tenants knows no billing. Where a lower layer must still trigger a higher one, it
declares a hook here or in its own `hooks.py`, and the higher app fills it in its
`AppConfig.ready()`. Every hook is declared once, named, and documented where it is declared;
nothing else reaches upward.

- `Hook`: exactly one implementation (the audit recorder, the tenant gate). Calling it before
  the providing app registered one is a configuration error, not a silent no-op.
- `Event`: any number of subscribers, called in registration order, inside the caller's
  transaction (a tenant created: billing opens its account).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, ParamSpec, TypeVar

from django.core.exceptions import ImproperlyConfigured

P = ParamSpec("P")
R = TypeVar("R")


class Hook(Generic[P, R]):
    """A function a lower layer calls and a higher app provides."""

    def __init__(self, name: str, provider: str):
        self.name = name
        self.provider = provider  # the app expected to register it, for the error message
        self._implementation: Callable[P, R] | None = None

    def register(self, implementation: Callable[P, R]) -> Callable[P, R]:
        self._implementation = implementation
        return implementation

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        if self._implementation is None:
            raise ImproperlyConfigured(
                f"Hook {self.name!r} has no implementation: {self.provider} registers it in its "
                "AppConfig.ready(); is it in INSTALLED_APPS?"
            )
        return self._implementation(*args, **kwargs)


class Event(Generic[P]):
    """Something that happened in a lower layer, which higher apps may act on."""

    def __init__(self, name: str):
        self.name = name
        self._subscribers: list[Callable[P, object]] = []

    def subscribe(self, subscriber: Callable[P, object]) -> Callable[P, object]:
        if subscriber not in self._subscribers:
            self._subscribers.append(subscriber)
        return subscriber

    def send(self, *args: P.args, **kwargs: P.kwargs) -> None:
        for subscriber in self._subscribers:
            subscriber(*args, **kwargs)


# --- core's own hooks --------------------------------------------------------------------------

# Writes one audit entry (audit.services.audit_record's signature). core records through it:
# the platform bypass, refused API requests, key rotation. Provided by the audit app.
record_audit: Hook[..., object] = Hook("record_audit", provider="audit")
