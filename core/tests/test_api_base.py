"""The tenant-scoped API base refuses views that could skip its checks."""

from __future__ import annotations

import gc

import pytest
from rest_framework.permissions import AllowAny
from rest_framework.test import APIClient

from accounts.checks import check_permission_maps
from core.api import PLATFORM_STAFF, PlatformApi, TenantScopedApi
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


def test_system_check__unregistered_permission__an_error_naming_the_view():
    class Typo(TenantScopedApi):
        permission_map = {"GET": "team:reed"}

    try:
        errors = check_permission_maps()
    finally:
        del Typo
        gc.collect()  # the class must not outlive the test in TenantScopedApi.__subclasses__()

    assert [e.id for e in errors] == ["accounts.E001"]
    assert "Typo" in errors[0].msg
    assert "'team:reed'" in errors[0].msg


def test_system_check__the_project_as_it_is__no_error():
    assert check_permission_maps() == []


def test_platform_subclass__a_tenant_permission__refused():
    with pytest.raises(TypeError, match="needs PLATFORM_STAFF or PLATFORM_ADMIN"):

        class Confused(PlatformApi):
            permission_map = {"GET": "teams:read"}


def test_platform_subclass__overriding_check_permissions__refused():
    with pytest.raises(TypeError, match="may not override check_permissions"):

        class Sneaky(PlatformApi):
            permission_map = {"GET": PLATFORM_STAFF}

            def check_permissions(self, request):
                return None


@pytest.mark.django_db
def test_head_request__member_who_may_read__200_without_body():
    tenant = TenantFactory.create()
    client = APIClient()
    client.force_authenticate(member(tenant, "viewer"))

    response = client.head(f"/api/v1/tenants/{tenant.pk}/teams/")

    assert response.status_code == 200
    assert response.content == b""
