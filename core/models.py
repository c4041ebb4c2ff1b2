"""The abstract base every Quartermaster model stands on."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import models

from core import clock


class ClockDateTimeField(models.DateTimeField):
    """A DateTimeField whose `auto_now` / `auto_now_add` stamp is `core.clock.now()`: the real
    time, or the moment the demo seed's `clock.as_of` holds in its own context.

    Migrations see a plain DateTimeField (same column, same options): only the stamp's source
    differs, and that is Python's business.
    """

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        if self.auto_now or (self.auto_now_add and add):
            value = clock.now()
            setattr(model_instance, self.attname, value)
            return value
        return super().pre_save(model_instance, add)

    def deconstruct(self) -> Any:
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.DateTimeField", args, kwargs


class BaseModel(models.Model):
    """UUID primary key and creation / update times (aware UTC)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = ClockDateTimeField(auto_now_add=True, db_index=True)
    updated_at = ClockDateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]
