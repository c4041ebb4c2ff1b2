"""The tenant-scoped API base refuses views that could skip its checks."""

from __future__ import annotations

import pytest
from rest_framework.permissions import AllowAny
from rest_framework.test import APIClient

from core.api import TenantScopedApi
from tenants.tests.factories import TenantFactory, member


def test_subclass__overriding_check_permissions__refused():
    with pytest.raises(TypeError, match="may not override check_permissions"):

        class Sneaky(TenantScopedApi):
            permission_map = {"GET": "teams:read"}

            def check_permissions(self, request):
                return None


def test_subclass__opening_permission_classes__refused():
    with pytest.raises(TypeError, match="may not override permission_classes"):

        class Open(TenantScopedApi):
            permission_classes = [AllowAny]
            permission_map = {"GET": "teams:read"}


def test_subclass__handler_without_a_permission__refused():
    with pytest.raises(TypeError, match="delete has no entry"):

        class Forgetful(TenantScopedApi):
            permission_map = {"GET": "teams:read"}

            def delete(self, request, tenant_id):
                return None


def test_subclass__unregistered_permission__refused():
    with pytest.raises(TypeError, match="not registered"):

        class Typo(TenantScopedApi):
            permission_map = {"GET": "team:reed"}


@pytest.mark.django_db
def test_head_request__member_who_may_read__200_without_body():
    tenant = TenantFactory.create()
    client = APIClient()
    client.force_authenticate(member(tenant, "viewer"))

    response = client.head(f"/api/v1/tenants/{tenant.pk}/teams/")

    assert response.status_code == 200
    assert response.content == b""
