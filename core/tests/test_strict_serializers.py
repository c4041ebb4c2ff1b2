"""Every API serializer refuses body fields it does not accept (core.serializers)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterator

import pytest
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from core.serializers import StrictSerializer

API_PACKAGES = ["accounts.api", "tenants.api", "billing.api", "audit.api"]


def _api_serializers() -> Iterator[type]:
    """Every serializer class defined in an `api` module, nested ones (a view's InputSerializer)
    included."""
    seen: set[type] = set()
    for package_name in API_PACKAGES:
        try:
            package = importlib.import_module(package_name)
        except ModuleNotFoundError:
            continue
        modules = [package]
        if hasattr(package, "__path__"):
            modules += [
                importlib.import_module(f"{package_name}.{info.name}")
                for info in pkgutil.iter_modules(package.__path__)
            ]
        for module in modules:
            pending = [obj for obj in vars(module).values() if inspect.isclass(obj)]
            while pending:
                cls = pending.pop()
                if cls in seen or getattr(cls, "__module__", "") != module.__name__:
                    continue
                seen.add(cls)
                pending += [obj for obj in vars(cls).values() if inspect.isclass(obj)]
                if issubclass(cls, serializers.BaseSerializer):
                    yield cls


def test_api_serializers__every_plain_one__is_strict():
    found = list(_api_serializers())
    assert len(found) > 40  # the walk really reaches the views' nested serializers

    lax = [
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in found
        if not issubclass(cls, serializers.ModelSerializer) and not issubclass(cls, StrictSerializer)
    ]
    assert lax == [], "derive these from core.serializers.StrictSerializer"


def test_api_serializers__model_serializers__only_render():
    # A ModelSerializer would accept writes to model fields: the API's are outputs only.
    writers = [
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in _api_serializers()
        if issubclass(cls, serializers.ModelSerializer) and not cls.__name__.endswith("Output")
    ]
    assert writers == []


class _Sample(StrictSerializer):
    name = serializers.CharField()
    id = serializers.UUIDField(read_only=True)


def test_strict_serializer__unknown_and_read_only_fields__refused_by_name():
    serializer = _Sample(data={"name": "x", "role": "admin", "id": "00000000-0000-0000-0000-000000000000"})

    with pytest.raises(ValidationError) as raised:
        serializer.is_valid(raise_exception=True)

    assert raised.value.get_codes() == {"id": ["unknown_field"], "role": ["unknown_field"]}
    detail = raised.value.detail
    assert isinstance(detail, dict)
    assert [str(message) for message in detail["role"]] == ["Unknown field."]
    assert [str(message) for message in detail["id"]] == ["This field is read-only."]


def test_strict_serializer__known_fields__valid():
    serializer = _Sample(data={"name": "x"})

    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data == {"name": "x"}
