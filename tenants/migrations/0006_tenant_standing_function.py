"""The tenant gate's read, in the database: a caller's standing in one tenant, RLS settings set.

`qm_tenant_standing(for_tenant, for_user)` sets the transaction's row-level-security settings to
that tenant and user (the bypass off), then reads, under them, the tenant with the user's
membership and its role: the tenant and null membership columns for a non-member, no row at all
for a tenant that does not exist. It is what `tenants.selectors.membership_for` does in two
pipelined statements, as one function, so that authentication can read the API key (or the
session) and the standing in one statement, in the request's first round trip
(`tenants.selectors.api_key_with_standing`).

Nothing is bypassed: it runs as the caller, and the membership and role are read under the
settings it has just set, as the application reads them. Plain `SELECT set_config(...)` followed
by the read in one SQL statement would not do: PostgreSQL does not promise the settings are set
before the row-level-security filters are evaluated. A PL/pgSQL function runs its statements in
order.
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION qm_tenant_standing(for_tenant uuid, for_user uuid)
RETURNS TABLE (
    standing_tenant tenants_tenant, standing_membership tenants_membership, standing_role accounts_role
)
LANGUAGE plpgsql VOLATILE ROWS 1 AS $$
BEGIN
    PERFORM set_config('app.tenant_id', coalesce(for_tenant::text, ''), true),
            set_config('app.user_id', coalesce(for_user::text, ''), true),
            set_config('app.bypass_rls', '', true);
    RETURN QUERY
        SELECT t, m, r
          FROM tenants_tenant t
          LEFT JOIN (tenants_membership m JOIN accounts_role r ON r.id = m.role_id)
                 ON m.tenant_id = t.id AND m.user_id = for_user
         WHERE t.id = for_tenant;
END
$$;
COMMENT ON FUNCTION qm_tenant_standing(uuid, uuid) IS
    'The tenant gate: set the RLS settings to this tenant and user, then read the tenant, '
    'the user''s membership and its role under them.';
"""

BACKWARD = "DROP FUNCTION IF EXISTS qm_tenant_standing(uuid, uuid);"


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0005_invite_role_set_null"),
        ("accounts", "0009_api_key_lookup_one_row"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
