"""The participant graph over HTTP: the graph ready to draw, participants (paginated, filtered by
stage and kind), one participant with its relationships. Under interventions:admin, the operator's
permission (the graph names every person and agent of a tenant and how they relate). The graph
and a participant's detail are sensitive reads: each view writes an audit entry."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import TenantScopedApi
from core.serializers import StrictSerializer
from insights.models import LifecycleStage, Participant, ParticipantKind, Relationship
from insights.services import graph

PERMISSION = "interventions:admin"


class NodeOutput(serializers.Serializer):
    id = serializers.UUIDField()
    # The metaclass takes declared fields off the class, so `label` does not shadow Field.label.
    label = serializers.CharField()  # type: ignore[assignment]
    kind = serializers.CharField()
    stage = serializers.CharField()
    x = serializers.FloatField(help_text="Position in a 1000 by 1000 square (a deterministic layout).")
    y = serializers.FloatField()


class EdgeOutput(serializers.Serializer):
    # `from` is a Python keyword: the field is declared below under its JSON name.
    to = serializers.UUIDField(source="target")
    type = serializers.CharField()
    confidence = serializers.DecimalField(max_digits=3, decimal_places=2)


EdgeOutput._declared_fields["from"] = serializers.UUIDField(source="source")


class GraphOutput(serializers.Serializer):
    nodes = NodeOutput(many=True)
    edges = EdgeOutput(many=True)
    truncated = serializers.BooleanField(help_text=f"More than {graph.MAX_GRAPH_NODES} participants.")


class ParticipantOutput(serializers.ModelSerializer[Participant]):
    class Meta:
        model = Participant
        fields = [
            "id",
            "kind",
            "user_id",
            "agent_id",
            "email",
            "display_name",
            "role",
            "team_id",
            "origin",
            "lifecycle_stage",
            "joined_at",
            "last_activity_at",
            "created_at",
        ]


class RelationshipOutput(serializers.ModelSerializer[Relationship]):
    from_participant = serializers.UUIDField(source="from_participant_id")
    from_label = serializers.CharField(source="from_participant.display_name")
    to_participant = serializers.UUIDField(source="to_participant_id")
    to_label = serializers.CharField(source="to_participant.display_name")

    class Meta:
        model = Relationship
        fields = [
            "id",
            "from_participant",
            "from_label",
            "to_participant",
            "to_label",
            "type",
            "source",
            "confidence_score",
            "created_at",
        ]


class ParticipantDetailOutput(ParticipantOutput):
    relationships = serializers.SerializerMethodField()

    class Meta(ParticipantOutput.Meta):
        fields = [*ParticipantOutput.Meta.fields, "relationships"]

    def get_relationships(self, obj: Participant) -> list[dict[str, Any]]:
        return RelationshipOutput(self.context["relationships"], many=True).data  # type: ignore[return-value]  # ReturnList is a list


class GraphApi(TenantScopedApi):
    """The tenant's graph: nodes (id, label, kind, stage, position) and edges (from, to, type,
    confidence). Recorded in the audit log (graph.viewed)."""

    permission_map = {"GET": PERMISSION}

    @extend_schema(responses=GraphOutput, operation_id="graph_get")
    def get(self, request: Request, tenant_id: Any) -> Response:
        data = graph.graph_get(tenant=self.tenant)
        graph.graph_view_record(tenant=self.tenant, actor=self.user)
        return Response(GraphOutput(data).data)


class ParticipantListApi(TenantScopedApi):
    """The tenant's participants by name; `stage` and `kind` filter."""

    permission_map = {"GET": PERMISSION}

    class ParticipantFilter(StrictSerializer):
        stage = serializers.ChoiceField(choices=LifecycleStage.choices, required=False)
        kind = serializers.ChoiceField(choices=ParticipantKind.choices, required=False)

    @extend_schema(
        responses=ParticipantOutput(many=True),
        parameters=[
            OpenApiParameter("stage", str, enum=LifecycleStage.values, description="Only this stage."),
            OpenApiParameter("kind", str, enum=ParticipantKind.values, description="Only this kind."),
        ],
        operation_id="participants_list",
    )
    def get(self, request: Request, tenant_id: Any) -> Response:
        raw = {k: request.query_params[k] for k in ("stage", "kind") if k in request.query_params}
        data = self.ParticipantFilter(data=raw)
        data.is_valid(raise_exception=True)
        qs = graph.participant_list(
            tenant=self.tenant, stage=data.validated_data.get("stage"), kind=data.validated_data.get("kind")
        )
        return self.paginated(qs, ParticipantOutput)


class ParticipantDetailApi(TenantScopedApi):
    """One participant with every relationship touching it. Recorded (participant.viewed)."""

    permission_map = {"GET": PERMISSION}

    @extend_schema(responses=ParticipantDetailOutput, operation_id="participant_get")
    def get(self, request: Request, tenant_id: Any, participant_id: Any) -> Response:
        participant = self.get_or_404(graph.participant_list(tenant=self.tenant), pk=participant_id)
        relationships = graph.participant_relationships(participant=participant)
        graph.graph_view_record(tenant=self.tenant, actor=self.user, participant=participant)
        return Response(ParticipantDetailOutput(participant, context={"relationships": relationships}).data)
