"""Platform staff acting on a user's account."""

from __future__ import annotations

import uuid

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import selectors
from accounts.services import auth
from core.api import PLATFORM_STAFF, PlatformApi
from core.errors import NotFound


class UserUnlockApi(PlatformApi):
    permission_map = {"POST": PLATFORM_STAFF}

    @extend_schema(
        request=None,
        responses=inline_serializer("UnlockOutput", {"attempts_cleared": serializers.IntegerField()}),
        operation_id="platform_user_unlock",
    )
    def post(self, request: Request, user_id: uuid.UUID) -> Response:
        """Platform staff: lift a login lockout now."""
        user = selectors.user_get(user_id=user_id)
        if user is None:
            raise NotFound()
        return Response({"attempts_cleared": auth.account_unlock(user=user, actor=self.user)})
