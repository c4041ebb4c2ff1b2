"""The API's serializers refuse what they do not know.

DRF ignores fields a body carries that its serializer does not declare: a client that sends
`{"role": "admin"}` to an endpoint that takes `role_id` gets a Member invite and a 201, and a
mass-assignment attempt (`"balance"`, `"is_platform_staff"`) passes silently. Every serializer in
an `api` module derives from `StrictSerializer` instead (core/tests/test_strict_serializers.py
walks them), so such a body is a 400 naming each field, with the code `unknown_field`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail, ValidationError

UNKNOWN_FIELD = "unknown_field"


class StrictSerializer(serializers.Serializer):
    """A serializer that answers 400 (`unknown_field`) for a body field it does not accept:
    one it does not declare, or a read-only one."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            refused = sorted(str(key) for key in data if key not in writable)
            if refused:
                raise ValidationError(
                    {
                        key: [
                            ErrorDetail(
                                "This field is read-only." if key in self.fields else "Unknown field.",
                                code=UNKNOWN_FIELD,
                            )
                        ]
                        for key in refused
                    }
                )
        return super().to_internal_value(data)
