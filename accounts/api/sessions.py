"""My sessions (one per login and device): list them, end one."""

from __future__ import annotations

import uuid

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import selectors
from accounts.authentication import request_session
from accounts.models import UserSession
from accounts.services import auth
from core.api import BaseApi
from core.errors import NotFound


class SessionOutput(serializers.ModelSerializer[UserSession]):
    current = serializers.SerializerMethodField()

    class Meta:
        model = UserSession
        fields = [
            "id",
            "device_name",
            "ip_address",
            "user_agent",
            "created_at",
            "last_used_at",
            "expires_at",
            "mfa_verified",
            "current",
        ]

    def get_current(self, obj: UserSession) -> bool:
        return obj.pk == self.context.get("current_id")


class SessionListApi(BaseApi):
    @extend_schema(responses=SessionOutput(many=True), operation_id="auth_sessions_list")
    def get(self, request: Request) -> Response:
        """My live sessions, the current one marked."""
        current = request_session(request)
        return Response(
            SessionOutput(
                selectors.session_list_live(user=self.user),
                many=True,
                context={"current_id": current.pk if current else None},
            ).data
        )


class SessionDetailApi(BaseApi):
    @extend_schema(responses={204: None}, operation_id="auth_session_revoke")
    def delete(self, request: Request, session_id: uuid.UUID) -> Response:
        """End one of my sessions (another device)."""
        session = selectors.session_get_own(user=self.user, session_id=session_id)
        if session is None:
            raise NotFound()
        auth.session_revoke(session=session, actor=self.user, reason="revoked_by_user")
        return Response(status=status.HTTP_204_NO_CONTENT)
