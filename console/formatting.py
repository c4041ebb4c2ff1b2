"""Numbers and times as people read them (the template filters in console/templatetags and the
charts use these). Presentation only: amounts are Decimals computed by the domain's selectors."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.utils import dateformat, timezone
from django.utils.timesince import timesince

MINUS = "\u2212"  # a real minus sign: as wide as a plus, read as "minus" by screen readers
DASH = "\u2014"  # no value
_CENT = Decimal("0.01")


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _signed(number: Decimal, body: str) -> str:
    return f"{MINUS}{body}" if number < 0 else body


def amount(value: Any) -> str:
    """Credits: two decimals with thousands separators (`12,345.60`); amounts under a hundredth
    keep their significant digits (`0.0042`), so small usage does not read as nothing."""
    number = _decimal(value)
    if number is None:
        return DASH
    size = abs(number)
    if size == 0:
        return "0"
    if size < _CENT:
        text = format(size.normalize(), "f")
        return _signed(number, text)
    return _signed(number, f"{size.quantize(_CENT, rounding=ROUND_HALF_UP):,.2f}")


def usd(value: Any) -> str:
    """Dollars: `$1,234.50`; under a cent, its significant digits (`$0.0031`)."""
    text = amount(value)
    if text == DASH:
        return text
    return f"{MINUS}${text[1:]}" if text.startswith(MINUS) else f"${text}"


def compact(value: Any) -> str:
    """A short label for a chart's axis: `950`, `1.2k`, `3.4M`."""
    number = _decimal(value)
    if number is None:
        return DASH
    size = abs(number)
    for limit, suffix in ((Decimal(1_000_000_000), "G"), (Decimal(1_000_000), "M"), (Decimal(1_000), "k")):
        if size >= limit:
            scaled = (size / limit).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP).normalize()
            return _signed(number, f"{format(scaled, 'f')}{suffix}")
    if size >= 10 or size == size.to_integral_value():
        return _signed(number, f"{size.quantize(Decimal(1), rounding=ROUND_HALF_UP):,}")
    return _signed(number, format(size.quantize(_CENT, rounding=ROUND_HALF_UP).normalize(), "f"))


def runway(value: Any) -> str:
    """Days of credits left: `12 days`, `3.5 days`, `less than a day`; none: a dash."""
    number = _decimal(value)
    if number is None:
        return DASH
    if number < 1:
        return "less than a day"
    if number >= 10:
        days = number.quantize(Decimal(1), rounding=ROUND_HALF_UP)
        return f"{days:,} days"
    days = number.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP).normalize()
    return f"{format(days, 'f')} day{'' if days == 1 else 's'}"


def when(value: datetime | None) -> str:
    """A moment in the active time zone (the tenant's on its pages): `4 Mar 2025, 14:05 CET`."""
    if value is None:
        return DASH
    return dateformat.format(timezone.localtime(value), "j M Y, H:i T")


def ago(value: datetime | None) -> str:
    """How long ago: `5 minutes ago`, `just now`."""
    if value is None:
        return DASH
    if (timezone.now() - value).total_seconds() < 60:
        return "just now"
    return f"{timesince(value, depth=1)} ago"


def wait(seconds: int) -> str:
    """A wait in words: `1 second`, `40 seconds`, `3 minutes`."""
    if seconds < 60:
        return f"{seconds} second{'' if seconds == 1 else 's'}"
    minutes = -(-seconds // 60)
    return f"{minutes} minute{'' if minutes == 1 else 's'}"
