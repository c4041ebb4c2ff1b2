"""No-op DRF endpoints on the benchmark server (not in the project's URL map).

`NoopApi`: API-key authentication, one transaction, nothing else. `TenantNoopApi`: that, plus
what every tenant endpoint does (the tenant, the membership, the RLS settings, the permission
map). The usage endpoint's figures are read beside them.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from rest_framework.request import Request

from billing.api.views import _THROTTLES
from core.api import BaseApi, TenantScopedApi


class NoopApi(BaseApi):
    allow_api_keys = True
    throttle_classes = _THROTTLES

    def post(self, request: Request) -> HttpResponse:
        return HttpResponse(b"{}", status=201, content_type="application/json")


class TenantNoopApi(TenantScopedApi):
    permission_map = {"POST": "credits:write"}
    throttle_classes = _THROTTLES

    def post(self, request: Request, tenant_id: Any) -> HttpResponse:
        return HttpResponse(b"{}", status=201, content_type="application/json")
