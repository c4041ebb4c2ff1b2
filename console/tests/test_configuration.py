"""The configuration pages: settings (typed edit, versions, rollback, reveal), feature flags
(switch, rollout, targeting, evaluate) and the secret locker (store, rotate, reveal with a
reason, delete). What each role sees and may press, the gate's refusals, errors in place, the
audit entries the services write, and query counts that do not grow with the rows."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditLogEntry
from console.forms_configuration import SettingForm
from core.tenancy import platform_bypass
from tenants import selectors as tenant_selectors
from tenants.models import FeatureFlag, Secret, Setting
from tenants.settings_registry import Kind, SettingDefinition
from tenants.tests.factories import FeatureFlagFactory, SecretFactory, TeamFactory, member, setting_value

pytestmark = pytest.mark.django_db

CANARY = "sk-live-canary-console-7f3a9c21"
SECRET_SETTING = "providers.openai_api_key"
DORMANT = "console.dormant_after_days"
ENV = {"environment": settings.QM_ENVIRONMENT}


def _url(tenant: Any, rest: str = "") -> str:
    return f"/t/{tenant.pk}/{rest}"


def _main(response: Any) -> str:
    """The page's own content, without the header and its menus."""
    return response.content.decode().split('<main id="main"')[1].split("</main>")[0]


def _audit(tenant: Any, action: str) -> list[AuditLogEntry]:
    with platform_bypass(reason="test", log=False):
        return list(AuditLogEntry.objects.filter(tenant=tenant, action=action).order_by("created_at"))


def _setting_value(tenant: Any, key: str) -> Any:
    """The tenant's own stored value (None: none), read from the row, past any cache."""
    with platform_bypass(reason="test", log=False):
        row = Setting.objects.filter(tenant=tenant, key=key, environment=settings.QM_ENVIRONMENT).first()
        return tenant_selectors.setting_plain_value(row) if row is not None else None


def _flag(flag: Any) -> FeatureFlag:
    with platform_bypass(reason="test", log=False):
        return FeatureFlag.objects.get(pk=flag.pk)


def _secrets(tenant: Any) -> list[Secret]:
    with platform_bypass(reason="test", log=False):
        return list(Secret.objects.filter(tenant=tenant).order_by("name"))


def _statements(captured: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in (q["sql"] or "")]


def _count_twice(client: Any, url: str, add_rows: Any) -> tuple[int, int]:
    """Statements of one GET of `url`, before and after `add_rows()` (warmed up first)."""
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    add_rows()
    client.get(url)  # the configuration caches refill once after a change
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200
    assert len(_statements(many)) == len(_statements(few)), "\n".join(_statements(many))
    return len(_statements(few)), len(_statements(many))


# --- Settings ---------------------------------------------------------------------------------


def test_settings__owner__every_setting_with_value_source_and_secrets_masked(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    setting_value(tenant, DORMANT, 12)
    setting_value(tenant, SECRET_SETTING, CANARY)
    response = signed_in(owner).get(_url(tenant, "settings/"))
    body = _main(response)
    assert response.status_code == 200
    dormant = body.split(f'data-key="{DORMANT}"')[1].split("</tr>")[0]
    assert "<td>12</td>" in dormant
    assert "This tenant" in dormant
    assert "v1" in dormant
    secret = body.split(f'data-key="{SECRET_SETTING}"')[1].split("</tr>")[0]
    assert tenant_selectors.MASK in secret
    assert CANARY not in response.content.decode()
    depth = body.split('data-key="agents.max_depth"')[1].split("</tr>")[0]
    assert "<td>5</td>" in depth
    assert "Built-in default" in depth
    assert "set by the platform" in depth
    assert body.count("<tr data-key=") == len(
        tenant_selectors.setting_list(tenant=None, environment="staging")
    )


def test_settings__unknown_environment__400_with_the_error_on_the_selector(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    response = signed_in(owner).get(_url(tenant, "settings/"), {"environment": "moonbase"})
    assert response.status_code == 400
    assert "No environment of that name" in response.content.decode()
    assert 'aria-invalid="true"' in response.content.decode()


def test_setting_detail__unknown_key__404_page(signed_in: Any, tenant: Any, owner: Any) -> None:
    response = signed_in(owner).get(_url(tenant, "settings/no.such_key/"))
    assert response.status_code == 404
    assert "There is no such setting." in response.content.decode()


def test_setting_set__admin__saved_versioned_audited_and_back_on_the_page(
    signed_in: Any, tenant: Any
) -> None:
    admin = member(tenant, "admin")
    client = signed_in(admin)
    response = client.post(
        _url(tenant, f"settings/{DORMANT}/set/?environment={settings.QM_ENVIRONMENT}"),
        {"value": "14", "reason": "Quarterly review"},
    )
    assert response.status_code == 302
    assert response["Location"] == _url(tenant, f"settings/{DORMANT}/?environment={settings.QM_ENVIRONMENT}")
    assert _setting_value(tenant, DORMANT) == 14
    (entry,) = _audit(tenant, "setting.changed")
    assert entry.actor_user_id == admin.pk
    assert entry.details["changes"] == {"value": {"old": None, "new": 14}}
    page = client.get(response["Location"]).content.decode()
    assert f"Saved {DORMANT}." in page
    history = page.split('data-testid="versions"')[1]
    assert "Quarterly review" in history
    assert admin.email in history
    assert re.search(r"\d{1,2} \w{3} \d{4}, \d{2}:\d{2} CES?T", history), "changed_at in Berlin time"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "Must be at least 1."),  # the service's range check, shown on the field
        ("366", "Must be at most 365."),
        ("twelve", "Enter a whole number."),
        ("9" * 5000, "Enter a whole number."),
        ("1\x002", "Enter a whole number."),
        ("", "This field is required."),
    ],
)
def test_setting_set__bad_value__error_in_place_and_nothing_written(
    signed_in: Any, tenant: Any, owner: Any, value: str, message: str
) -> None:
    response = signed_in(owner).post(_url(tenant, f"settings/{DORMANT}/set/"), {"value": value})
    body = response.content.decode()
    assert response.status_code == 400
    assert message in body
    assert 'id="id_value_error"' in body
    assert 'aria-invalid="true"' in body
    assert _setting_value(tenant, DORMANT) is None
    assert _audit(tenant, "setting.changed") == []


def test_setting_set__unknown_environment_in_the_action__400_page(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    response = signed_in(owner).post(
        _url(tenant, f"settings/{DORMANT}/set/?environment=mars"), {"value": "3"}
    )
    assert response.status_code == 400
    assert "Unknown environment." in response.content.decode()
    assert _setting_value(tenant, DORMANT) is None


def test_setting_set__platform_managed_key_by_tenant_admin__no_form_and_refusal_in_place(
    signed_in: Any, tenant: Any
) -> None:
    admin = member(tenant, "admin")
    client = signed_in(admin)
    page = client.get(_url(tenant, "settings/agents.max_depth/")).content.decode()
    assert 'data-testid="setting-form"' not in page
    assert "The platform sets this one" in page
    response = client.post(_url(tenant, "settings/agents.max_depth/set/"), {"value": "7"})
    assert response.status_code == 403
    assert "agents.max_depth is managed by the platform" in response.content.decode()
    assert 'data-testid="setting-form"' not in response.content.decode()
    assert _setting_value(tenant, "agents.max_depth") is None


def test_setting_set__platform_admin_and_a_bool__typed_form_sets_true(signed_in: Any, tenant: Any) -> None:
    from accounts.tests.factories import UserFactory

    staff = UserFactory.create(platform_admin=True)
    client = signed_in(staff)
    page = client.get(_url(tenant, "settings/security.require_2fa/")).content.decode()
    assert '<option value="false" selected>Off</option>' in page
    response = client.post(_url(tenant, "settings/security.require_2fa/set/"), {"value": "true"})
    assert response.status_code == 302
    assert _setting_value(tenant, "security.require_2fa") is True
    refused = client.post(_url(tenant, "settings/security.require_2fa/set/"), {"value": "maybe"})
    assert refused.status_code == 400
    assert "Select a valid choice." in refused.content.decode()


def test_setting_form__decimal_list__commas_and_spaces_become_a_list_of_strings() -> None:
    definition = SettingDefinition("x.levels", Kind.DECIMAL_LIST, [], "Levels.")
    form = SettingForm({"value": "100, 50 10.5,,"}, definition=definition)
    assert form.is_valid(), form.errors
    assert form.json_value() == ["100", "50", "10.5"]
    assert definition.clean(form.json_value()) == ["100", "50", "10.5"]


def test_setting__viewer__reads_values_and_history_no_buttons_and_403_on_every_write(
    signed_in: Any, tenant: Any, viewer: Any
) -> None:
    setting_value(tenant, DORMANT, 10)
    setting_value(tenant, DORMANT, 20)
    client = signed_in(viewer)
    listing = client.get(_url(tenant, "settings/"))
    page = client.get(_url(tenant, f"settings/{DORMANT}/"))
    assert listing.status_code == page.status_code == 200
    assert "<button" not in _main(page).split("</form>", 1)[1]  # only the environment selector's
    assert "Roll back" not in _main(page)
    assert "Your role can read settings, not change them." in _main(page)
    assert "10" in _main(page).split('data-testid="versions"')[1]
    for action, data in (("set", {"value": "3"}), ("reset", {}), ("rollback", {"version": "1"})):
        response = client.post(_url(tenant, f"settings/{DORMANT}/{action}/"), data)
        assert response.status_code == 403, action
        assert "This needs the settings:write permission." in response.content.decode()
    assert _setting_value(tenant, DORMANT) == 20


def test_setting_rollback__to_the_first_version__value_returns_as_a_new_version_audited(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    client = signed_in(owner)
    for value in ("10", "20"):
        client.post(_url(tenant, f"settings/{DORMANT}/set/"), {"value": value})
    assert _setting_value(tenant, DORMANT) == 20
    page = client.get(_url(tenant, f"settings/{DORMANT}/")).content.decode()
    assert 'aria-label="Roll back to version 1"' in page
    assert 'aria-label="Roll back to version 2"' not in page  # the current one

    response = client.post(
        _url(tenant, f"settings/{DORMANT}/rollback/"), {"version": "1", "reason": "Too long"}
    )
    assert response.status_code == 302
    assert _setting_value(tenant, DORMANT) == 10
    (entry,) = _audit(tenant, "setting.rolled_back")
    assert entry.details["rolled_back_to"] == 1
    page = client.get(response["Location"]).content.decode()
    assert f"Rolled {DORMANT} back to version 1." in page
    newest = page.split('data-testid="versions"')[1].split("<tbody>")[1].split("</tr>")[0]
    assert "rolled back to v1" in newest
    assert "Too long" in newest


def test_setting_rollback__version_that_does_not_exist__error_in_place(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    setting_value(tenant, DORMANT, 10)
    response = signed_in(owner).post(_url(tenant, f"settings/{DORMANT}/rollback/"), {"version": "99"})
    assert response.status_code == 404
    assert "No such version of this setting." in response.content.decode()
    assert "<h1><code>console.dormant_after_days</code></h1>" in response.content.decode()


def test_setting_reset__own_value__default_applies_again(signed_in: Any, tenant: Any, owner: Any) -> None:
    setting_value(tenant, DORMANT, 12)
    client = signed_in(owner)
    response = client.post(_url(tenant, f"settings/{DORMANT}/reset/"), {"reset-reason": "Back to normal"})
    assert response.status_code == 302
    assert _setting_value(tenant, DORMANT) is None
    assert [e.details["reason"] for e in _audit(tenant, "setting.reset")] == ["Back to normal"]
    page = _main(client.get(response["Location"]))
    assert "Built-in default" in page.split('data-testid="setting-value"')[1].split("</section>")[0]


def test_setting_secret__versions_masked__reveal_with_a_reason_shown_once_no_store_audited(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    setting_value(tenant, SECRET_SETTING, "sk-old-value-000000")
    setting_value(tenant, SECRET_SETTING, CANARY)
    client = signed_in(owner)
    page = client.get(_url(tenant, f"settings/{SECRET_SETTING}/")).content.decode()
    assert CANARY not in page
    assert "sk-old-value" not in page
    history = page.split('data-testid="versions"')[1]
    assert history.count(tenant_selectors.MASK) == 3  # v1: not set → mask; v2: mask → mask
    assert 'type="password"' in page

    response = client.post(
        _url(tenant, f"settings/{SECRET_SETTING}/reveal/"), {"reveal-reason": "Rotating at the provider"}
    )
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert CANARY in response.content.decode().split('data-testid="revealed"')[1]
    (entry,) = _audit(tenant, "setting.revealed")
    assert entry.details["reason"] == "Rotating at the provider"
    assert CANARY not in str(entry.details)
    assert CANARY not in client.get(_url(tenant, f"settings/{SECRET_SETTING}/")).content.decode()


def test_setting_reveal__without_a_reason__400_and_not_revealed(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    setting_value(tenant, SECRET_SETTING, CANARY)
    response = signed_in(owner).post(
        _url(tenant, f"settings/{SECRET_SETTING}/reveal/"), {"reveal-reason": ""}
    )
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert CANARY not in response.content.decode()
    assert _audit(tenant, "setting.revealed") == []


def test_setting_reveal__member_without_settings_admin__no_reveal_form_and_403(
    signed_in: Any, tenant: Any
) -> None:
    setting_value(tenant, SECRET_SETTING, CANARY)
    client = signed_in(member(tenant, "member"))
    assert "Reveal" not in _main(client.get(_url(tenant, f"settings/{SECRET_SETTING}/")))
    response = client.post(_url(tenant, f"settings/{SECRET_SETTING}/reveal/"), {"reveal-reason": "curious"})
    assert response.status_code == 403
    assert CANARY not in response.content.decode()
    assert _audit(tenant, "setting.revealed") == []


def test_settings__member_of_another_tenant__403_page_with_none_of_its_data(
    signed_in: Any, owner: Any, other_tenant: Any
) -> None:
    setting_value(other_tenant, DORMANT, 77)
    client = signed_in(owner)
    for rest in ("settings/", f"settings/{DORMANT}/", "flags/", "secrets/"):
        response = client.get(_url(other_tenant, rest))
        assert response.status_code == 403, rest
        assert "Globex" not in response.content.decode()
    response = client.post(_url(other_tenant, f"settings/{DORMANT}/set/"), {"value": "3"})
    assert response.status_code == 403
    assert _setting_value(other_tenant, DORMANT) == 77


def test_settings_pages__query_count__does_not_grow_with_settings_or_versions(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    client = signed_in(owner)
    setting_value(tenant, DORMANT, 2)

    def more() -> None:
        for value in range(3, 12):
            setting_value(tenant, DORMANT, value)
        setting_value(tenant, SECRET_SETTING, CANARY + str(value))

    few, _ = _count_twice(client, _url(tenant, "settings/"), more)
    # The Django session; the console session with its user; the gate (the row-level-security
    # settings, the membership); the settings; the header's switcher.
    assert few == 6
    few, _ = _count_twice(client, _url(tenant, f"settings/{DORMANT}/"), more)
    assert few == 7  # ... and the versions


# --- Feature flags ----------------------------------------------------------------------------


def test_flags__owner__each_flag_with_state_rollout_and_targets(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    FeatureFlagFactory.create(tenant=tenant, key="new-planner", rollout_percentage=Decimal("12.5"))
    FeatureFlagFactory.create(
        tenant=tenant, key="beta-ui", enabled=False, target_roles=["admin"], target_users=[owner.pk]
    )
    body = _main(signed_in(owner).get(_url(tenant, "flags/")))
    planner = body.split('data-key="new-planner"')[1].split("</tr>")[0]
    assert "Enabled" in planner
    assert 'value="12.50"' in planner
    beta = body.split('data-key="beta-ui"')[1].split("</tr>")[0]
    assert "Disabled" in beta
    assert ">Enable</button>" in beta
    assert "1 member; roles admin" in beta
    assert "Add a flag" in body


def test_flags__none__empty_state_says_what_to_do(
    signed_in: Any, tenant: Any, owner: Any, viewer: Any
) -> None:
    assert "No flags yet. Add one below" in _main(signed_in(owner).get(_url(tenant, "flags/")))
    assert "An admin of this tenant can add them." in _main(signed_in(viewer).get(_url(tenant, "flags/")))


def test_flag_create__admin__created_audited_and_listed(signed_in: Any, tenant: Any) -> None:
    admin = member(tenant, "admin")
    client = signed_in(admin)
    response = client.post(
        _url(tenant, "flags/new/"),
        {"key": "agents.fast-path", "environment": "staging", "rollout_percentage": "25", "enabled": "on"},
    )
    assert response.status_code == 302
    with platform_bypass(reason="test", log=False):
        flag = FeatureFlag.objects.get(tenant=tenant)
    assert (flag.key, flag.environment, flag.enabled, flag.rollout_percentage) == (
        "agents.fast-path",
        "staging",
        True,
        Decimal("25"),
    )
    assert [e.actor_user_id for e in _audit(tenant, "flag.created")] == [admin.pk]
    assert "Added the flag agents.fast-path (staging)." in client.get(response["Location"]).content.decode()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"key": "Bad Key!"}, "key", "Lower-case letters, digits"),
        ({"key": "ok", "rollout_percentage": "150"}, "rollout_percentage", "less than or equal to 100"),
        ({"key": "ok", "rollout_percentage": "1e999"}, "rollout_percentage", "no more than 5 digits"),
        ({"key": "ok", "rollout_percentage": "NaN"}, "rollout_percentage", "Enter a number."),
        ({"key": "ok", "environment": "mars"}, "environment", "Select a valid choice."),
        ({"key": "ok\x00"}, "key", "Null characters are not allowed."),
    ],
)
def test_flag_create__bad_input__error_in_place_nothing_written(
    signed_in: Any, tenant: Any, owner: Any, data: dict[str, str], field: str, message: str
) -> None:
    body = {"environment": "development", "rollout_percentage": "0", **data}
    response = signed_in(owner).post(_url(tenant, "flags/new/"), body)
    assert response.status_code == 400
    assert message in response.content.decode().split(f'id="id_{field}_error"')[1]
    with platform_bypass(reason="test", log=False):
        assert not FeatureFlag.objects.filter(tenant=tenant).exists()


def test_flag_create__key_taken__the_services_refusal_on_the_key(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    FeatureFlagFactory.create(tenant=tenant, key="taken", environment="development")
    FeatureFlagFactory.create(tenant=None, key="platform-wide", environment="development")
    client = signed_in(owner)
    for key, status, message in (
        ("taken", 400, "A flag with this key exists in this environment."),
        ("platform-wide", 409, "A platform flag has this key"),
    ):
        response = client.post(
            _url(tenant, "flags/new/"), {"key": key, "environment": "development", "rollout_percentage": "0"}
        )
        assert response.status_code == status
        assert message in response.content.decode().split('id="id_key_error"')[1]


def test_flag_toggle__htmx__the_row_comes_back_switched_and_audited(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    flag = FeatureFlagFactory.create(tenant=tenant, key="kill-me", enabled=True)
    response = signed_in(owner).post(
        _url(tenant, f"flags/{flag.pk}/switch/"), {"enabled": "false"}, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith(f'<tr id="flag-{flag.pk}"')
    assert "<html" not in body
    assert "kill-me is off for everyone." in body
    assert ">Enable</button>" in body
    assert _flag(flag).enabled is False
    (entry,) = _audit(tenant, "flag.updated")
    assert entry.details["changes"] == {"enabled": {"old": True, "new": False}}
    assert entry.severity == "warning"


def test_flag_toggle__without_htmx__back_to_the_list_with_a_message(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    flag = FeatureFlagFactory.create(tenant=tenant, key="dark-mode", enabled=False)
    client = signed_in(owner)
    response = client.post(_url(tenant, f"flags/{flag.pk}/switch/"), {"enabled": "true"})
    assert response.status_code == 302
    assert _flag(flag).enabled is True
    assert "dark-mode is on." in client.get(response["Location"]).content.decode()


def test_flag_rollout__set_and_refused__row_error_in_place(signed_in: Any, tenant: Any, owner: Any) -> None:
    flag = FeatureFlagFactory.create(tenant=tenant, key="gradual")
    client = signed_in(owner)
    field = f"f{flag.pk.hex[:8]}-rollout_percentage"
    ok = client.post(_url(tenant, f"flags/{flag.pk}/rollout/"), {field: "33.25"}, HTTP_HX_REQUEST="true")
    assert ok.status_code == 200
    assert "gradual rolls out to 33.25% of subjects." in ok.content.decode()
    assert _flag(flag).rollout_percentage == Decimal("33.25")
    for value, message in (("101", "less than or equal to 100"), ("0.001", "no more than 2 decimal places")):
        bad = client.post(_url(tenant, f"flags/{flag.pk}/rollout/"), {field: value}, HTTP_HX_REQUEST="true")
        assert bad.status_code == 400
        assert message in bad.content.decode()
        assert bad.content.decode().lstrip().startswith("<tr")
        plain = client.post(_url(tenant, f"flags/{flag.pk}/rollout/"), {field: value})
        assert plain.status_code == 400
        assert message in plain.content.decode().split('data-key="gradual"')[1]
        assert "<h1>Feature flags</h1>" in plain.content.decode()
    assert _flag(flag).rollout_percentage == Decimal("33.25")
    assert len(_audit(tenant, "flag.updated")) == 1


def test_flag_update__targeting__roles_and_members_saved(signed_in: Any, tenant: Any, owner: Any) -> None:
    flag = FeatureFlagFactory.create(tenant=tenant, key="targeted")
    someone = member(tenant, "member", user__email="sam@acme.example")
    client = signed_in(owner)
    page = client.get(_url(tenant, f"flags/{flag.pk}/")).content.decode()
    assert "sam@acme.example" in page
    response = client.post(
        _url(tenant, f"flags/{flag.pk}/edit/"),
        {
            "description": "The new planner",
            "enabled": "on",
            "rollout_percentage": "5",
            "target_roles": ["admin", "viewer"],
            "target_users": [str(someone.pk)],
        },
    )
    assert response.status_code == 302
    saved = _flag(flag)
    assert saved.target_roles == ["admin", "viewer"]
    assert saved.target_users == [someone.pk]
    assert saved.description == "The new planner"
    page = client.get(response["Location"]).content.decode()
    assert "Saved the flag targeted." in page
    assert "sam@acme.example" in page.split('data-testid="flag-facts"')[1].split("</dl>")[0]


def test_flag_update__another_tenants_member__refused_in_place(
    signed_in: Any, tenant: Any, owner: Any, other_tenant: Any
) -> None:
    flag = FeatureFlagFactory.create(tenant=tenant, key="targeted")
    stranger = member(other_tenant, "member")
    response = signed_in(owner).post(
        _url(tenant, f"flags/{flag.pk}/edit/"),
        {"rollout_percentage": "0", "target_users": [str(stranger.pk)]},
    )
    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()
    assert _flag(flag).target_users == []


def test_flag__another_tenants_flag_id__404_and_untouched(
    signed_in: Any, tenant: Any, owner: Any, other_tenant: Any
) -> None:
    theirs = FeatureFlagFactory.create(tenant=other_tenant, key="theirs", enabled=True)
    client = signed_in(owner)
    for method, rest, data in (
        ("get", "", {}),
        ("post", "switch/", {"enabled": "false"}),
        ("post", "rollout/", {}),
        ("post", "edit/", {}),
        ("post", "delete/", {}),
    ):
        response = getattr(client, method)(_url(tenant, f"flags/{theirs.pk}/{rest}"), data)
        assert response.status_code == 404, rest
        assert "There is no such flag." in response.content.decode()
        assert "theirs" not in response.content.decode()
    assert _flag(theirs).enabled is True


def test_flag_delete__admin__gone_and_audited(signed_in: Any, tenant: Any, owner: Any) -> None:
    flag = FeatureFlagFactory.create(tenant=tenant, key="old-flag")
    response = signed_in(owner).post(_url(tenant, f"flags/{flag.pk}/delete/"))
    assert response.status_code == 302
    with platform_bypass(reason="test", log=False):
        assert not FeatureFlag.objects.filter(pk=flag.pk).exists()
    assert [e.details["flag_key"] for e in _audit(tenant, "flag.deleted")] == ["old-flag"]


def test_flags__viewer__reads_and_evaluates_no_buttons_and_403_on_writes(
    signed_in: Any, tenant: Any, viewer: Any
) -> None:
    flag = FeatureFlagFactory.create(tenant=tenant, key="look-only", rollout_percentage=100)
    client = signed_in(viewer)
    body = _main(client.get(_url(tenant, "flags/")))
    assert 'method="post"' not in body
    assert "Add a flag" not in body
    assert "100.00%" in body
    detail = _main(client.get(_url(tenant, f"flags/{flag.pk}/")))
    assert 'method="post"' not in detail
    assert "Your role can see flags, not change them." in detail
    evaluated = client.get(
        _url(tenant, "flags/"), {"eval-subject": "agent-7", "eval-environment": "development"}
    )
    assert "Rollout" in evaluated.content.decode().split('data-testid="evaluation"')[1]
    for rest, data in (
        ("new/", {"key": "x"}),
        (f"{flag.pk}/switch/", {"enabled": "false"}),
        (f"{flag.pk}/delete/", {}),
    ):
        response = client.post(_url(tenant, f"flags/{rest}"), data)
        assert response.status_code == 403
        assert "This needs the flags:write permission." in response.content.decode()
    assert _flag(flag).enabled is True


def test_flags_evaluate__subject_and_role__result_and_reason_per_flag(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    FeatureFlagFactory.create(tenant=tenant, key="everyone", rollout_percentage=100)
    FeatureFlagFactory.create(tenant=tenant, key="nobody", rollout_percentage=0)
    FeatureFlagFactory.create(tenant=tenant, key="admins", target_roles=["admin"])
    FeatureFlagFactory.create(tenant=tenant, key="killed", enabled=False, rollout_percentage=100)
    FeatureFlagFactory.create(tenant=None, key="platform-thing", rollout_percentage=100)
    client = signed_in(owner)
    query = {"eval-subject": "agent-42", "eval-role": "admin", "eval-environment": settings.QM_ENVIRONMENT}
    response = client.get(_url(tenant, "flags/"), query, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section class="panel" aria-labelledby="evaluate-title" id="evaluation"')
    results = dict(re.findall(r"<td><code>([\w.-]+)</code></td>\s*<td><span[^>]*>(On|Off)</span></td>", body))
    assert results == {
        "admins": "On",
        "everyone": "On",
        "killed": "Off",
        "nobody": "Off",
        "platform-thing": "On",
    }
    assert "Targeted role" in body
    assert "Not in rollout" in body
    assert "Disabled" in body
    assert "the platform" in body


def test_flags_evaluate__subject_too_long__error_in_place(signed_in: Any, tenant: Any, owner: Any) -> None:
    response = signed_in(owner).get(
        _url(tenant, "flags/"), {"eval-subject": "x" * 201, "eval-environment": "staging"}
    )
    assert response.status_code == 400
    assert "Ensure this value has at most 200 characters" in response.content.decode()


def test_flags_pages__query_count__does_not_grow_with_flags_or_members(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    flag = FeatureFlagFactory.create(tenant=tenant, key="first", target_users=[owner.pk])
    client = signed_in(owner)

    def more() -> None:
        for _ in range(6):
            FeatureFlagFactory.create(tenant=tenant, target_roles=["admin"])
            member(tenant, "member")

    query = f"?eval-subject={owner.pk}&eval-environment={settings.QM_ENVIRONMENT}"
    few, _ = _count_twice(client, _url(tenant, "flags/" + query), more)
    # The sessions (2), the gate (2), the flags, the roles (the evaluation's rules are cached), the
    # switcher.
    assert few == 7
    few, _ = _count_twice(client, _url(tenant, f"flags/{flag.pk}/"), more)
    assert few == 8  # the sessions (2), the gate (2), the flag, roles, members, the switcher


# --- The secret locker ------------------------------------------------------------------------


def test_secrets__admin__names_providers_last_four_never_values(signed_in: Any, tenant: Any) -> None:
    SecretFactory.create(tenant=tenant, name="OpenAI production", value=CANARY)
    SecretFactory.create(tenant=tenant, name="Short one", value="tiny")
    response = signed_in(member(tenant, "admin")).get(_url(tenant, "secrets/"))
    body = response.content.decode()
    assert response.status_code == 200
    assert CANARY not in body
    assert "OpenAI production" in body
    assert f"…{CANARY[-4:]}" in body
    assert "tiny" not in body
    assert "Store a secret" in body


def test_secrets__empty__says_what_to_do(signed_in: Any, tenant: Any, owner: Any) -> None:
    assert "The locker is empty. Store a provider key below" in _main(
        signed_in(owner).get(_url(tenant, "secrets/"))
    )


def test_secret_create__owner__stored_encrypted_audited_value_never_echoed(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    team = TeamFactory.create(tenant=tenant, name="Research")
    client = signed_in(owner)
    response = client.post(
        _url(tenant, "secrets/new/"),
        {"name": "Anthropic", "provider": "anthropic", "value": CANARY, "team": str(team.pk)},
    )
    assert response.status_code == 302
    (secret,) = _secrets(tenant)
    assert (secret.name, secret.team_id, secret.last_four) == ("Anthropic", team.pk, CANARY[-4:])
    assert CANARY not in secret.ciphertext
    assert response["Location"] == _url(tenant, f"secrets/{secret.pk}/")
    assert [e.details["name"] for e in _audit(tenant, "secret.created")] == ["Anthropic"]
    page = client.get(response["Location"]).content.decode()
    assert "Stored the secret Anthropic." in page
    assert CANARY not in page


def test_secret_create__bad_input__errors_in_place_and_the_value_not_echoed(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    SecretFactory.create(tenant=tenant, name="Taken")
    client = signed_in(owner)
    for data, field, message in (
        ({"name": "New", "provider": "Open AI", "value": CANARY}, "provider", "Lower-case letters"),
        ({"name": "New", "provider": "openai", "value": ""}, "value", "This field is required."),
        ({"name": "Taken", "provider": "openai", "value": CANARY}, "name", "A secret with this name exists."),
        (
            {"name": "New", "provider": "openai", "value": CANARY, "team": "not-a-team"},
            "team",
            "valid choice",
        ),
    ):
        response = client.post(_url(tenant, "secrets/new/"), data)
        body = response.content.decode()
        assert response.status_code == 400, data
        assert message in body.split(f'id="id_{field}_error"')[1], data
        assert CANARY not in body
        assert response["Cache-Control"] == "no-store"
    assert [s.name for s in _secrets(tenant)] == ["Taken"]


def test_secret_rotate__new_value__last_four_and_rotated_at_change_audited(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    secret = SecretFactory.create(
        tenant=tenant, name="Slack", provider="slack", value="xoxb-old-000000000000"
    )
    client = signed_in(owner)
    response = client.post(_url(tenant, f"secrets/{secret.pk}/rotate/"), {"value": CANARY})
    assert response.status_code == 302
    (stored,) = _secrets(tenant)
    assert stored.last_four == CANARY[-4:]
    assert stored.rotated_at is not None
    (entry,) = _audit(tenant, "secret.rotated")
    assert entry.details["previous_last_four"] == "0000"
    page = client.get(response["Location"]).content.decode()
    assert "Rotated Slack" in page
    assert re.search(r"Last rotated</dt><dd>\d{1,2} \w{3} \d{4}, \d{2}:\d{2} CES?T", page)


def test_secret_reveal__with_a_reason__value_once_no_store_audited_with_the_reason(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    secret = SecretFactory.create(tenant=tenant, name="OpenAI", value=CANARY)
    client = signed_in(owner)
    page = client.get(_url(tenant, f"secrets/{secret.pk}/")).content.decode()
    assert CANARY not in page
    response = client.post(
        _url(tenant, f"secrets/{secret.pk}/reveal/"), {"reason": "Provider support ticket"}
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert CANARY in body.split('data-testid="revealed"')[1]
    assert body.count(CANARY) == 1
    (entry,) = _audit(tenant, "secret.revealed")
    assert entry.details["reason"] == "Provider support ticket"
    assert entry.actor_user_id == owner.pk
    assert CANARY not in str(entry.details)
    again = client.get(_url(tenant, f"secrets/{secret.pk}/")).content.decode()
    assert CANARY not in again
    assert "Never" not in again.split('data-testid="last-revealed"')[1].split("</dd>")[0]


def test_secret_reveal__htmx__only_the_reveal_panel(signed_in: Any, tenant: Any, owner: Any) -> None:
    secret = SecretFactory.create(tenant=tenant, value=CANARY)
    response = signed_in(owner).post(
        _url(tenant, f"secrets/{secret.pk}/reveal/"), {"reason": "debugging"}, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<section class="panel" aria-labelledby="reveal-title" id="reveal">')
    assert CANARY in body
    assert '<dd id="last-revealed" data-testid="last-revealed" hx-swap-oob="true">' in body
    assert response["Cache-Control"] == "no-store"


def test_secret_reveal__no_reason__400_in_place_not_revealed_nor_audited(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    secret = SecretFactory.create(tenant=tenant, value=CANARY)
    response = signed_in(owner).post(_url(tenant, f"secrets/{secret.pk}/reveal/"), {"reason": "   "})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode().split('id="id_reason_error"')[1]
    assert CANARY not in response.content.decode()
    assert _audit(tenant, "secret.revealed") == []


def test_secret__member__sees_the_locker_no_buttons_and_403_on_reveal_rotate_delete(
    signed_in: Any, tenant: Any
) -> None:
    secret = SecretFactory.create(tenant=tenant, name="Shared", value=CANARY)
    client = signed_in(member(tenant, "member"))
    listing = _main(client.get(_url(tenant, "secrets/")))
    assert "Shared" in listing
    assert 'method="post"' not in listing
    assert "An admin of this tenant can store" not in listing  # not empty: the list shows
    detail = _main(client.get(_url(tenant, f"secrets/{secret.pk}/")))
    assert 'method="post"' not in detail
    for rest, data, permission in (
        ("reveal/", {"reason": "x"}, "secrets:admin"),
        ("rotate/", {"value": "new-value-123456"}, "secrets:write"),
        ("delete/", {}, "secrets:write"),
    ):
        response = client.post(_url(tenant, f"secrets/{secret.pk}/{rest}"), data)
        assert response.status_code == 403, rest
        assert f"This needs the {permission} permission." in response.content.decode()
        assert CANARY not in response.content.decode()
    assert len(_secrets(tenant)) == 1
    assert _audit(tenant, "secret.revealed") == []


def test_secrets__viewer__no_secrets_read__403_page(signed_in: Any, tenant: Any, viewer: Any) -> None:
    SecretFactory.create(tenant=tenant, name="Hidden from viewers")
    response = signed_in(viewer).get(_url(tenant, "secrets/"))
    assert response.status_code == 403
    assert "Hidden from viewers" not in response.content.decode()


def test_secret__another_tenants_or_another_teams__404_alike(
    signed_in: Any, tenant: Any, owner: Any, other_tenant: Any
) -> None:
    theirs = SecretFactory.create(tenant=other_tenant, name="Theirs", value=CANARY)
    red, blue = TeamFactory.create(tenant=tenant, name="Red"), TeamFactory.create(tenant=tenant, name="Blue")
    blue_secret = SecretFactory.create(tenant=tenant, name="Blue only", team=blue, value=CANARY)
    red_member = member(tenant, "member", team=red)
    for user, secret in ((owner, theirs), (red_member, blue_secret)):
        client = signed_in(user)
        for method, rest in (("get", ""), ("post", "reveal/"), ("post", "rotate/"), ("post", "delete/")):
            response = getattr(client, method)(_url(tenant, f"secrets/{secret.pk}/{rest}"), {"reason": "x"})
            assert response.status_code in (403, 404), rest
            assert CANARY not in response.content.decode()
            if user is owner:
                assert response.status_code == 404
                assert "There is no such secret." in response.content.decode()
    assert "Blue only" not in _main(signed_in(red_member).get(_url(tenant, "secrets/")))
    assert len(_secrets(other_tenant)) == 1


def test_secret_delete__owner__gone_and_audited(signed_in: Any, tenant: Any, owner: Any) -> None:
    secret = SecretFactory.create(tenant=tenant, name="Old key")
    client = signed_in(owner)
    response = client.post(_url(tenant, f"secrets/{secret.pk}/delete/"))
    assert response.status_code == 302
    assert _secrets(tenant) == []
    assert [e.details["name"] for e in _audit(tenant, "secret.deleted")] == ["Old key"]
    assert "Deleted the secret Old key." in client.get(response["Location"]).content.decode()


def test_secrets_pages__query_count__does_not_grow_with_secrets_or_teams(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    secret = SecretFactory.create(tenant=tenant, name="First")
    client = signed_in(owner)

    def more() -> None:
        for _ in range(5):
            team = TeamFactory.create(tenant=tenant)
            SecretFactory.create(tenant=tenant, team=team, created_by=owner)

    few, _ = _count_twice(client, _url(tenant, "secrets/"), more)
    assert few == 7  # the sessions (2), the gate (2), the secrets, the teams, the switcher
    few, _ = _count_twice(client, _url(tenant, f"secrets/{secret.pk}/"), more)
    assert few == 6  # the sessions (2), the gate (2), the secret, the switcher
