"""Every write of tenants. Split by subject: tenants (and sign-up), teams, memberships and roles,
invites, settings, feature flags, the secret locker; the shared pieces apart (common).

Import from here: `from tenants import services; services.tenant_create(...)`.
"""

from tenants.services.flags import FLAG_FIELDS, flag_create, flag_delete, flag_update
from tenants.services.invites import (
    DEFAULT_INVITE_DAYS,
    invite_accept,
    invite_accept_url,
    invite_create,
    invite_revoke,
    invite_token_hash,
)
from tenants.services.members import (
    PLATFORM_ADMIN_RANK,
    actor_permissions,
    actor_rank,
    member_remove,
    member_update,
    membership_create,
    role_check_grantable,
    role_create,
    role_delete,
    role_update,
    system_role,
)
from tenants.services.secrets import (
    SECRET_FIELDS,
    SECRET_MAX_LENGTH,
    secret_create,
    secret_delete,
    secret_reveal,
    secret_rotate,
    secret_update,
    secret_value,
)
from tenants.services.settings import setting_reset, setting_reveal, setting_rollback, setting_set
from tenants.services.teams import TEAM_FIELDS, team_create, team_delete, team_update
from tenants.services.tenants import (
    PLATFORM_ONLY_FIELDS,
    TENANT_FIELDS,
    signup,
    tenant_create,
    tenant_reactivate,
    tenant_suspend,
    tenant_update,
)

__all__ = [
    "DEFAULT_INVITE_DAYS",
    "FLAG_FIELDS",
    "PLATFORM_ADMIN_RANK",
    "PLATFORM_ONLY_FIELDS",
    "SECRET_FIELDS",
    "SECRET_MAX_LENGTH",
    "TEAM_FIELDS",
    "TENANT_FIELDS",
    "actor_permissions",
    "actor_rank",
    "flag_create",
    "flag_delete",
    "flag_update",
    "invite_accept",
    "invite_accept_url",
    "invite_create",
    "invite_revoke",
    "invite_token_hash",
    "member_remove",
    "member_update",
    "membership_create",
    "role_check_grantable",
    "role_create",
    "role_delete",
    "role_update",
    "secret_create",
    "secret_delete",
    "secret_reveal",
    "secret_rotate",
    "secret_update",
    "secret_value",
    "setting_reset",
    "setting_reveal",
    "setting_rollback",
    "setting_set",
    "signup",
    "system_role",
    "team_create",
    "team_delete",
    "team_update",
    "tenant_create",
    "tenant_reactivate",
    "tenant_suspend",
    "tenant_update",
]
