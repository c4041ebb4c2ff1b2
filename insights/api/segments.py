"""Segments over HTTP: each with its count, and one segment's members (paginated)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import TenantScopedApi
from core.errors import NotFound
from insights import services
from insights.segments import SEGMENTS, Segment

PERMISSION = "interventions:admin"


class SegmentOutput(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    target_type = serializers.CharField(help_text="What a member's id names: user, tenant or agent.")
    metric = serializers.CharField(help_text="What a member's metric is.")
    count = serializers.IntegerField()


@extend_schema_field(OpenApiTypes.STR)
class MetricField(serializers.Field):
    """A member's metric as text: ISO 8601 for a time, the exact digits for a number."""

    def to_representation(self, value: Any) -> str | None:
        if value is None:
            return None
        return value.isoformat() if isinstance(value, datetime) else str(value)


class SegmentMemberOutput(serializers.Serializer):
    member_id = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a declared field, not Field.label
    metric = MetricField(allow_null=True)


def _row(segment: Segment, count: int) -> dict[str, Any]:
    return {
        "name": segment.name,
        "description": segment.description,
        "target_type": segment.target_type,
        "metric": segment.metric,
        "count": count,
    }


class SegmentListApi(TenantScopedApi):
    """Every segment of the tenant with its member count (one query a segment)."""

    permission_map = {"GET": PERMISSION}

    @extend_schema(responses=SegmentOutput(many=True), operation_id="segments_list")
    def get(self, request: Request, tenant_id: Any) -> Response:
        rows = [_row(s, s.count(self.tenant)) for s in SEGMENTS.values()]
        return self.paginated(rows, SegmentOutput)


class SegmentMembersApi(TenantScopedApi):
    """One segment's members, in the segment's order; an unknown name is 404 `unknown_segment`.
    Recorded in the audit log (segment.viewed): segments name people."""

    permission_map = {"GET": PERMISSION}

    @extend_schema(responses=SegmentMemberOutput(many=True), operation_id="segment_members")
    def get(self, request: Request, tenant_id: Any, name: str) -> Response:
        segment = SEGMENTS.get(name)
        if segment is None:
            raise NotFound("No such segment.", code="unknown_segment")
        response = self.paginated(segment.members(self.tenant), SegmentMemberOutput)
        services.segment_view_record(tenant=self.tenant, actor=self.user, name=segment.name)
        return response
