"""Every non-trivial read of tenants. Split by subject: tenants, memberships, teams and roles;
invites; settings; feature flags; the secret locker; with the configuration cache (the stamps
that keep `get_setting` and `is_enabled` free of queries when warm) and references apart.

Import from here: `from tenants import selectors; selectors.member_list(...)`.
"""

from tenants.selectors.cache import FLAGS, SETTINGS, bump, clear_local_cache, invalidate_on_commit, scope_of
from tenants.selectors.common import TenantRef, UserRef, id_of
from tenants.selectors.flags import (
    BUCKETS,
    FLAG_REASONS,
    FlagEvaluation,
    FlagRule,
    bucket,
    flag_list,
    flags_evaluate,
    is_enabled,
)
from tenants.selectors.gate import api_key_with_standing, session_with_standing
from tenants.selectors.invites import invite_effective_status, invite_is_past, invite_list
from tenants.selectors.secrets import (
    ALL_SECRETS,
    SecretVisibility,
    secret_get,
    secret_list,
    secret_visibility,
)
from tenants.selectors.settings import (
    MASK,
    SettingView,
    current_environment,
    get_setting,
    setting_definition,
    setting_list,
    setting_plain_value,
    setting_version_list,
    setting_view,
    version_plain_values,
)
from tenants.selectors.tenants import (
    member_list,
    membership_for,
    membership_list_for_user,
    owner_count,
    role_get,
    role_list,
    team_get,
    team_list,
    team_member_count,
    tenant_list_for_user,
    tenant_owner_candidate,
    tenants_require_mfa,
)

__all__ = [
    "ALL_SECRETS",
    "BUCKETS",
    "FLAGS",
    "FLAG_REASONS",
    "MASK",
    "SETTINGS",
    "FlagEvaluation",
    "FlagRule",
    "SecretVisibility",
    "SettingView",
    "TenantRef",
    "UserRef",
    "api_key_with_standing",
    "bucket",
    "bump",
    "clear_local_cache",
    "current_environment",
    "flag_list",
    "flags_evaluate",
    "get_setting",
    "id_of",
    "invalidate_on_commit",
    "invite_effective_status",
    "invite_is_past",
    "invite_list",
    "is_enabled",
    "member_list",
    "membership_for",
    "membership_list_for_user",
    "owner_count",
    "role_get",
    "role_list",
    "scope_of",
    "secret_get",
    "secret_list",
    "secret_visibility",
    "session_with_standing",
    "setting_definition",
    "setting_list",
    "setting_plain_value",
    "setting_version_list",
    "setting_view",
    "team_get",
    "team_list",
    "team_member_count",
    "tenant_list_for_user",
    "tenant_owner_candidate",
    "tenants_require_mfa",
    "version_plain_values",
]
