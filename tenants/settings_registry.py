"""The settings registry: every configuration key the platform knows, in code.

A key has a type, a default, validation, a description, whether it is secret, and who may set
it. Values are resolved tenant → platform → this default (`tenants.selectors.get_setting`)
per environment. Values are stored as JSON; decimals as strings ("5.0"), never floats.

`platform_managed` keys are limits and prices the platform decides: tenants read them, only
platform admins set them (a tenant override of such a key is set by the platform too).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any
from urllib.parse import urlparse

from django.core.exceptions import ValidationError

from core.hygiene import decimal_or_none


class Kind(StrEnum):
    INT = "int"
    BOOL = "bool"
    STR = "str"
    DECIMAL = "decimal"
    DECIMAL_LIST = "decimal_list"


KIND_VALUES = tuple(k.value for k in Kind)


MAX_DECIMAL_PLACES = 6
MAX_DECIMAL = Decimal("1000000000000")


def _decimal(raw: Any, *, where: str = "") -> Decimal:
    # Floats are refused: 0.1 + 0.2 is not what anyone means by a price.
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise ValidationError(f'{where}Give a decimal number as a string, e.g. "5.0".')
    value = decimal_or_none(raw)
    if value is None:
        raise ValidationError(f"{where}{raw!r} is not a decimal number (digits, one point, a sign).")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MAX_DECIMAL_PLACES:
        raise ValidationError(f"{where}At most {MAX_DECIMAL_PLACES} decimal places.")
    if abs(value) > MAX_DECIMAL:
        raise ValidationError(f"{where}{raw!r} is too large.")
    return value


@dataclass(frozen=True)
class SettingDefinition:
    key: str
    kind: Kind
    default: Any  # the JSON form
    description: str
    is_secret: bool = False
    platform_managed: bool = False
    min_value: int | Decimal | None = None
    max_value: int | Decimal | None = None
    max_length: int = 2000
    max_items: int = 20
    validator: Callable[[Any], None] | None = None

    @property
    def category(self) -> str:
        return self.key.split(".", 1)[0]

    def _check_range(self, value: int | Decimal, where: str = "") -> None:
        if self.min_value is not None and value < self.min_value:
            raise ValidationError(f"{where}Must be at least {self.min_value}.")
        if self.max_value is not None and value > self.max_value:
            raise ValidationError(f"{where}Must be at most {self.max_value}.")

    def clean(self, raw: Any) -> Any:
        """Validate `raw` (from JSON) and return the value's canonical JSON form."""
        if self.kind == Kind.BOOL:
            if not isinstance(raw, bool):
                raise ValidationError("Must be true or false.")
            value: Any = raw
        elif self.kind == Kind.INT:
            if isinstance(raw, bool) or not isinstance(raw, int):
                raise ValidationError("Must be a whole number.")
            self._check_range(raw)
            value = raw
        elif self.kind == Kind.STR:
            if not isinstance(raw, str):
                raise ValidationError("Must be a string.")
            if len(raw) > self.max_length:
                raise ValidationError(f"At most {self.max_length} characters.")
            value = raw
        elif self.kind == Kind.DECIMAL:
            number = _decimal(raw)
            self._check_range(number)
            value = str(number)
        else:  # DECIMAL_LIST
            if not isinstance(raw, list):
                raise ValidationError("Must be a list of decimal numbers as strings.")
            if len(raw) > self.max_items:
                raise ValidationError(f"At most {self.max_items} entries.")
            numbers = []
            for i, item in enumerate(raw):
                number = _decimal(item, where=f"Entry {i}: ")
                self._check_range(number, where=f"Entry {i}: ")
                numbers.append(number)
            # Canonical: distinct, highest first (the order thresholds are crossed in).
            value = [str(n) for n in sorted(set(numbers), reverse=True)]
        if self.validator is not None:
            self.validator(value)
        return value

    def to_python(self, value: Any) -> Any:
        """The typed Python value of a stored (canonical JSON) value."""
        if self.kind == Kind.DECIMAL:
            return Decimal(value)
        if self.kind == Kind.DECIMAL_LIST:
            return [Decimal(v) for v in value]
        return value

    def is_empty(self, value: Any) -> bool:
        """A secret string left empty counts as not set."""
        return self.kind == Kind.STR and value == ""


def _https_url(value: str) -> None:
    if value and (urlparse(value).scheme != "https" or not urlparse(value).netloc):
        raise ValidationError("Must be an https:// URL.")


def _no_whitespace(value: str) -> None:
    if value != value.strip() or any(c.isspace() for c in value):
        raise ValidationError("Must not contain whitespace.")


REGISTRY: tuple[SettingDefinition, ...] = (
    SettingDefinition(
        "agents.max_depth",
        Kind.INT,
        5,
        "How deep agent sessions may spawn sub-sessions (a root session is depth 0).",
        platform_managed=True,
        min_value=1,
        max_value=50,
    ),
    SettingDefinition(
        "agents.max_children",
        Kind.INT,
        20,
        "How many child sessions one agent session may spawn.",
        platform_managed=True,
        min_value=1,
        max_value=1000,
    ),
    # No billing.markup_multiplier or billing.low_balance_thresholds here: a tenant's markup is
    # its subscription's override (else its plan's) and its thresholds are rows of their own
    # (billing API), read where charging reads them. A setting of the same name would be a
    # second source that charging never consults.
    SettingDefinition(
        "billing.reservation_ttl_seconds",
        Kind.INT,
        900,
        "How long a credit reservation held by an agent runtime lives before it is released.",
        platform_managed=True,
        min_value=30,
        max_value=86400,
    ),
    SettingDefinition(
        "security.require_2fa",
        Kind.BOOL,
        False,
        "Require two-factor authentication of every member, on top of the tenant's own rule.",
        platform_managed=True,
    ),
    SettingDefinition(
        "audit.retention_days",
        Kind.INT,
        90,
        "Days audit entries stay in PostgreSQL before they are archived.",
        platform_managed=True,
        min_value=7,
        max_value=3650,
    ),
    SettingDefinition(
        "console.dormant_after_days",
        Kind.INT,
        30,
        "Days without activity after which a participant counts as dormant.",
        min_value=1,
        max_value=365,
    ),
    SettingDefinition(
        "providers.openai_api_key",
        Kind.STR,
        "",
        "OpenAI API key the tenant's agents use (empty: the platform's).",
        is_secret=True,
        max_length=500,
        validator=_no_whitespace,
    ),
    SettingDefinition(
        "providers.anthropic_api_key",
        Kind.STR,
        "",
        "Anthropic API key the tenant's agents use (empty: the platform's).",
        is_secret=True,
        max_length=500,
        validator=_no_whitespace,
    ),
    SettingDefinition(
        "notifications.slack_webhook_url",
        Kind.STR,
        "",
        "Slack incoming-webhook URL for alerts (empty: no Slack alerts).",
        is_secret=True,
        max_length=500,
        validator=_https_url,
    ),
)

BY_KEY: dict[str, SettingDefinition] = {d.key: d for d in REGISTRY}


def definition(key: str) -> SettingDefinition | None:
    return BY_KEY.get(key)
