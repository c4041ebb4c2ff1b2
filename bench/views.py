"""Reference endpoints on the benchmark server (not in the project's URL map).

`NoopApi`: API-key authentication, one transaction, nothing else. `TenantNoopApi`: that, plus
what every tenant endpoint does (the tenant, the membership, the RLS settings, the permission
map). `NaiveChargeApi`: the issue's "naive ORM charge endpoint": no authentication, no
idempotency, `select_for_update()` then ORM writes, so the row lock is held across Python
round trips. The usage endpoint's figures are read beside them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.http import HttpResponse
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from core.api import BaseApi, TenantScopedApi


class NoopApi(BaseApi):
    dangerously_allow_api_keys = True

    def post(self, request: Request) -> HttpResponse:
        return HttpResponse(b"{}", status=201, content_type="application/json")


class TenantNoopApi(TenantScopedApi):
    permission_map = {"POST": "credits:write"}

    def post(self, request: Request, tenant_id: Any) -> HttpResponse:
        return HttpResponse(b"{}", status=201, content_type="application/json")


class NaiveChargeApi(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []

    def post(self, request: Request, tenant_id: Any) -> HttpResponse:
        from billing.models import CreditAccount, CreditTransaction
        from core.tenancy import tenant_context

        debit = Decimal("0.010000")
        data: dict[str, Any] = request.data if isinstance(request.data, dict) else {}
        with transaction.atomic(), tenant_context(tenant_id):
            account = CreditAccount.objects.select_for_update().get(tenant_id=tenant_id)
            if account.balance - account.held < debit:
                return HttpResponse(b'{"code":"insufficient_credits"}', status=402)
            account.balance -= debit
            account.save(update_fields=["balance", "updated_at"])
            entry = CreditTransaction.objects.create(
                tenant_id=tenant_id,
                account=account,
                kind="usage",
                amount=-debit,
                balance_after=account.balance,
                model=data.get("model", ""),
                input_tokens=data.get("input_tokens", 0),
                output_tokens=data.get("output_tokens", 0),
            )
        body = f'{{"id":"{entry.pk}","balance_after":"{account.balance}"}}'
        return HttpResponse(body.encode(), status=201, content_type="application/json")
