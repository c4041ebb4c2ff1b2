"""The back office for settings, their history, flags and the secret locker: values masked,
history read-only, saves through the audited services."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import caches

from accounts.tests.factories import UserFactory
from audit.models import AuditLogEntry
from core.tenancy import platform_bypass
from tenants import selectors
from tenants.models import FeatureFlag, Secret, Setting, SettingVersion
from tenants.tests.factories import FeatureFlagFactory, SecretFactory, TenantFactory, setting_value

ADMIN = "/admin/tenants"
CANARY = "sk-admin-canary-3e9d1f70a2"


@pytest.fixture(autouse=True)
def _fresh_config_cache(settings: Any) -> Any:
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "adm"}
    }
    caches["default"].clear()
    selectors.clear_local_cache()
    yield
    selectors.clear_local_cache()


@pytest.fixture
def staff_admin() -> Any:
    return UserFactory.create(platform_admin=True)


@pytest.fixture
def staff_operator() -> Any:
    return UserFactory.create(platform_operator=True)


@pytest.fixture
def world() -> dict[str, Any]:
    tenant = TenantFactory.create(name="Acme Rockets")
    return {
        "tenant": tenant,
        "secret_setting": setting_value(tenant, "providers.openai_api_key", CANARY),
        "plain_setting": setting_value(None, "agents.max_depth", 7),
        "flag": FeatureFlagFactory.create(tenant=tenant, key="new-editor", rollout_percentage=Decimal("25")),
        "secret": SecretFactory.create(tenant=tenant, name="Slack bot", value=CANARY),
    }


def audit(action: str) -> list[AuditLogEntry]:
    with platform_bypass(reason="test", log=False):
        return list(AuditLogEntry.objects.filter(action=action).order_by("created_at"))


@pytest.mark.django_db
def test_config_admin_pages__platform_admin__load_and_never_show_a_secret_value(client, staff_admin, world):
    client.force_login(staff_admin)
    with platform_bypass(reason="test", log=False):
        version = SettingVersion.objects.filter(setting=world["secret_setting"]).earliest("version")
    pages = [
        f"{ADMIN}/setting/",
        f"{ADMIN}/setting/{world['secret_setting'].pk}/change/",
        f"{ADMIN}/setting/{world['plain_setting'].pk}/change/",
        f"{ADMIN}/setting/add/",
        f"{ADMIN}/settingversion/",
        f"{ADMIN}/settingversion/?setting__exact={world['secret_setting'].pk}",
        f"{ADMIN}/settingversion/{version.pk}/change/",
        f"{ADMIN}/featureflag/",
        f"{ADMIN}/featureflag/{world['flag'].pk}/change/",
        f"{ADMIN}/featureflag/add/",
        f"{ADMIN}/secret/",
        f"{ADMIN}/secret/{world['secret'].pk}/change/",
    ]

    responses = {page: client.get(page) for page in pages}

    assert {p: r.status_code for p, r in responses.items()} == dict.fromkeys(pages, 200)
    for page, response in responses.items():
        text = response.content.decode()
        assert CANARY not in text, page
        assert "v1:" not in text, page  # nor a ciphertext
    assert "********" in responses[f"{ADMIN}/setting/"].content.decode()
    assert "providers.openai_api_key" in responses[f"{ADMIN}/settingversion/"].content.decode()


@pytest.mark.django_db
def test_setting_admin_change__new_secret_value__set_through_the_service_versioned_and_audited(
    client, staff_admin, world
):
    client.force_login(staff_admin)
    row = world["secret_setting"]

    response = client.post(
        f"{ADMIN}/setting/{row.pk}/change/",
        {"new_value": "sk-from-the-admin-0001", "reason": "support ticket"},
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert selectors.get_setting(world["tenant"], "providers.openai_api_key") == "sk-from-the-admin-0001"
    entry = audit("setting.changed")[-1]
    assert (entry.actor_user_id, entry.details["reason"]) == (staff_admin.pk, "support ticket")
    assert entry.details["changes"]["value"] == {"old": "********", "new": "********"}


@pytest.mark.django_db
def test_setting_admin_change__blank_secret__kept_and_reset_box__reset(client, staff_admin, world):
    client.force_login(staff_admin)
    row = world["secret_setting"]

    client.post(f"{ADMIN}/setting/{row.pk}/change/", {"new_value": "", "reason": ""})
    kept = selectors.get_setting(world["tenant"], "providers.openai_api_key")
    client.post(f"{ADMIN}/setting/{row.pk}/change/", {"reset": "on", "reason": "leaked"})

    assert kept == CANARY
    assert selectors.get_setting(world["tenant"], "providers.openai_api_key") == ""
    assert audit("setting.reset")[-1].details["reason"] == "leaked"


@pytest.mark.django_db
def test_setting_admin_add__platform_default__created_through_the_service(client, staff_admin, world):
    client.force_login(staff_admin)

    response = client.post(
        f"{ADMIN}/setting/add/",
        {
            "key": "agents.max_children",
            "tenant": "",
            "environment": "development",
            "new_value": "60",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert selectors.get_setting(world["tenant"], "agents.max_children") == 60


@pytest.mark.django_db
def test_setting_admin_change__invalid_value__form_error_and_nothing_written(client, staff_admin, world):
    client.force_login(staff_admin)
    row = world["plain_setting"]

    response = client.post(f"{ADMIN}/setting/{row.pk}/change/", {"new_value": "0", "reason": ""})

    assert response.status_code == 200
    assert "at least 1" in response.content.decode()
    assert selectors.get_setting(None, "agents.max_depth") == 7


@pytest.mark.django_db
def test_setting_admin__operator__views_only(client, staff_operator, world):
    client.force_login(staff_operator)
    row = world["plain_setting"]

    page = client.get(f"{ADMIN}/setting/{row.pk}/change/")
    post = client.post(f"{ADMIN}/setting/{row.pk}/change/", {"new_value": "9"})

    assert page.status_code == 200
    assert post.status_code == 403
    assert selectors.get_setting(None, "agents.max_depth") == 7


@pytest.mark.django_db
def test_history_and_locker_admin__read_only_even_for_platform_admins(client, staff_admin, world):
    client.force_login(staff_admin)
    with platform_bypass(reason="test", log=False):
        version = SettingVersion.objects.filter(setting=world["secret_setting"]).earliest("version")
    secret = world["secret"]

    statuses = [
        client.get(f"{ADMIN}/settingversion/add/").status_code,
        client.post(f"{ADMIN}/settingversion/{version.pk}/change/", {"reason": "x"}).status_code,
        client.get(f"{ADMIN}/settingversion/{version.pk}/delete/").status_code,
        client.get(f"{ADMIN}/secret/add/").status_code,
        client.post(f"{ADMIN}/secret/{secret.pk}/change/", {"name": "renamed"}).status_code,
        client.get(f"{ADMIN}/setting/{world['plain_setting'].pk}/delete/").status_code,
    ]

    assert statuses == [403, 403, 403, 403, 403, 403]


@pytest.mark.django_db
def test_secret_admin_delete__platform_admin__through_the_service_and_audited(client, staff_admin, world):
    client.force_login(staff_admin)
    secret = world["secret"]

    response = client.post(f"{ADMIN}/secret/{secret.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    with platform_bypass(reason="test", log=False):
        assert not Secret.objects.filter(pk=secret.pk).exists()
    assert len(audit("secret.deleted")) == 1


@pytest.mark.django_db
def test_flag_admin__add_change_and_kill_switch_action__through_the_services(client, staff_admin, world):
    client.force_login(staff_admin)
    tenant = world["tenant"]

    added = client.post(
        f"{ADMIN}/featureflag/add/",
        {
            "tenant": "",
            "environment": "development",
            "key": "platform-beta",
            "description": "",
            "enabled": "on",
            "rollout_percentage": "10",
            "target_users": "",
            "target_roles": "admin",
            "target_tenants": str(tenant.pk),
        },
    )
    with platform_bypass(reason="test", log=False):
        flag = FeatureFlag.objects.get(key="platform-beta")
    changed = client.post(
        f"{ADMIN}/featureflag/{flag.pk}/change/",
        {
            "description": "now wider",
            "enabled": "on",
            "rollout_percentage": "40",
            "target_users": "",
            "target_roles": "admin",
            "target_tenants": str(tenant.pk),
        },
    )
    client.post(f"{ADMIN}/featureflag/", {"action": "disable_selected", "_selected_action": [flag.pk]})

    assert added.status_code == 302, added.content.decode()[:2000]
    assert changed.status_code == 302, changed.content.decode()[:2000]
    flag.refresh_from_db()
    assert (flag.enabled, flag.rollout_percentage, flag.target_tenants) == (False, Decimal("40"), [tenant.pk])
    assert [len(audit(a)) for a in ("flag.created", "flag.updated")] == [1, 2]
    assert not selectors.is_enabled("platform-beta", tenant=tenant)


@pytest.mark.django_db
def test_setting_admin_list__settings_of_every_tenant_and_the_platform(client, staff_admin, world):
    client.force_login(staff_admin)
    setting_value(TenantFactory.create(name="Bluebird Labs"), "console.dormant_after_days", 3)

    response = client.get(f"{ADMIN}/setting/")

    rows = {(s.key, s.tenant.name if s.tenant else None) for s in response.context["cl"].result_list}
    assert rows == {
        ("providers.openai_api_key", "Acme Rockets"),
        ("agents.max_depth", None),
        ("console.dormant_after_days", "Bluebird Labs"),
    }
    with platform_bypass(reason="test", log=False):
        assert Setting.objects.count() == 3
