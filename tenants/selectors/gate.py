"""The tenant gate's reads on the request path: the caller's credentials and, in the same
statement, their standing in the tenant of the URL (every tenant API request runs one).

Authentication reads the API key (or the session) anyway, before the view knows anything; on a
tenant route the same statement also reads the caller's membership in that tenant, with its tenant
and role, through `qm_tenant_standing` (tenants migration 0006), which sets the transaction's
row-level-security settings to that tenant and user first. So a key-authenticated tenant request
reaches its view after one round trip, BEGIN included (`core.rows.execute_first`), where it took
four: the key, the settings and the membership (pipelined, two), and BEGIN on its own. The gate
(`tenants.gate.tenant_access`) then decides from the `Standing` exactly as from `membership_for`.

The API key is still found through `qm_api_key_by_hash` (accounts migration 0006), which bypasses
row-level security for that one lookup by hash and for nothing else; the membership and the role
are read as the application reads them, under the tenant's settings.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from accounts.models import ApiKey, Role, User, UserSession
from core.access import Standing
from core.rows import Columns, execute_first, prepared_cursor, relate
from tenants.models import Membership, Tenant

_KEY, _SESSION, _USER = Columns(ApiKey, "k"), Columns(UserSession, "s"), Columns(User, "u")
# qm_tenant_standing's three columns are rows of these tables.
_TENANT = Columns(Tenant, "(g.standing_tenant)")
_MEMBERSHIP = Columns(Membership, "(g.standing_membership)")
_ROLE = Columns(Role, "(g.standing_role)")
_STANDING_SQL = f"{_TENANT.sql}, {_MEMBERSHIP.sql}, {_ROLE.sql}"
# The lateral call runs after the key (or session) and its user are read: it needs the user's id.
_STANDING_JOIN = " LEFT JOIN LATERAL qm_tenant_standing(%s, u.id) g ON true"

_KEY_SQL = (
    f"SELECT {_KEY.sql}, {_USER.sql}, {_STANDING_SQL} FROM qm_api_key_by_hash(%s) k"  # noqa: S608  # model columns
    " JOIN accounts_user u ON u.id = k.created_by_id" + _STANDING_JOIN
)
_SESSION_SQL = (
    f"SELECT {_SESSION.sql}, {_USER.sql}, {_STANDING_SQL} FROM accounts_usersession s"  # noqa: S608  # model columns
    " JOIN accounts_user u ON u.id = s.user_id" + _STANDING_JOIN + " WHERE s.id = %s"
)


def api_key_with_standing(*, key_hash: str, tenant_id: uuid.UUID) -> tuple[ApiKey, Standing] | None:
    """The API key with this SHA-256 (with its creator, across tenants, as
    `accounts.selectors.api_key_for_authentication` finds it) and its creator's standing in
    `tenant_id`, in one statement; the RLS settings are then that tenant's and the creator's.
    None for an unknown key (nothing is set then)."""
    with prepared_cursor() as cursor:
        execute_first(cursor, _KEY_SQL, [key_hash, tenant_id])
        row = cursor.fetchone()
    if row is None:
        return None
    api_key = _KEY.build(row)
    user = _USER.build(row, _KEY.width)
    relate(api_key, "created_by", user)
    return api_key, _standing(row, _KEY.width + _USER.width, user_id=user.pk, tenant_id=tenant_id)


def session_with_standing(*, session_id: object, tenant_id: uuid.UUID) -> tuple[UserSession, Standing] | None:
    """The session a JWT names, with its user (as `accounts.selectors.session_for_authentication`
    finds it), and the user's standing in `tenant_id`, in one statement; the RLS settings are
    then that tenant's and the user's. None for an unknown session."""
    try:
        session_uuid = uuid.UUID(str(session_id))
    except ValueError:
        return None  # not an id at all: no such session
    with prepared_cursor() as cursor:
        execute_first(cursor, _SESSION_SQL, [tenant_id, session_uuid])
        row = cursor.fetchone()
    if row is None:
        return None
    session = _SESSION.build(row)
    user = _USER.build(row, _SESSION.width)
    relate(session, "user", user)
    return session, _standing(row, _SESSION.width + _USER.width, user_id=user.pk, tenant_id=tenant_id)


def _standing(row: Sequence[Any], start: int, *, user_id: uuid.UUID, tenant_id: uuid.UUID) -> Standing:
    tenant = _TENANT.build(row, start) if _TENANT.present(row, start) else None
    membership: Membership | None = None
    start += _TENANT.width
    if tenant is not None and _MEMBERSHIP.present(row, start):
        # Built as membership_for builds it: the membership, its tenant and its role.
        membership = _MEMBERSHIP.build(row, start)
        relate(membership, "tenant", tenant)
        relate(membership, "role", _ROLE.build(row, start + _MEMBERSHIP.width))
    return Standing(user_id=user_id, tenant_id=tenant_id, tenant=tenant, membership=membership)
