"""`{% load console %}`: amounts and times for people, permission checks, accessible fields."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.forms import BoundField
from django.utils.safestring import SafeString

from console import formatting

register = template.Library()


@register.filter
def credits(value: Any) -> str:
    """`12,345.60`; under a hundredth its significant digits."""
    return formatting.amount(value)


@register.filter
def usd(value: Any) -> str:
    return formatting.usd(value)


@register.filter
def runway(value: Any) -> str:
    return formatting.runway(value)


@register.filter
def when(value: datetime | None) -> str:
    """In the active time zone: the tenant's on a tenant's pages."""
    return formatting.when(value)


@register.filter
def ago(value: datetime | None) -> str:
    return formatting.ago(value)


@register.filter
def allows(access: Any, permission: str) -> bool:
    """`{% if access|allows:"credits:admin" %}`: whether the gate's answer allows it (no
    access at all: no)."""
    return bool(access is not None and access.allows(permission))


@register.filter
def label(value: Any) -> str:
    """An action or code for reading: `credits.threshold_created` → `Credits threshold created`."""
    text = str(value or "").replace(".", " ").replace("_", " ").strip()
    return text[:1].upper() + text[1:]


@register.simple_tag
def control(field: BoundField, **attrs: Any) -> SafeString:
    """A field's input, tied to its help text and errors for assistive technology
    (`aria-describedby`, `aria-invalid`); extra attributes as keyword arguments."""
    described = []
    if field.help_text:
        described.append(f"{field.auto_id}_help")
    if field.errors:
        described.append(f"{field.auto_id}_error")
        attrs["aria-invalid"] = "true"
    if described:
        attrs["aria-describedby"] = " ".join(described)
    if field.field.required:
        attrs.setdefault("required", True)
    return field.as_widget(attrs=attrs)
