"""`qm_api_key_by_hash(digest)`: the API-key lookup of authentication, in one round trip.

Authentication runs before any tenant is known, and `accounts_apikey` is under row-level
security, so the lookup must see across tenants. Done from Python, that was a savepoint and
five statements around one SELECT on every key-authenticated request. This function does the
same inside the database: it turns the bypass on for exactly one statement, a lookup by the
exact SHA-256 of a key, and puts the setting back as it was. It can find nothing but the row
whose key the caller holds.
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION qm_api_key_by_hash(digest text) RETURNS SETOF accounts_apikey
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    previous text := coalesce(current_setting('app.bypass_rls', true), '');
BEGIN
    PERFORM set_config('app.bypass_rls', 'on', true);
    RETURN QUERY SELECT * FROM accounts_apikey WHERE key_hash = digest;
    PERFORM set_config('app.bypass_rls', previous, true);
END
$$;
COMMENT ON FUNCTION qm_api_key_by_hash(text) IS
    'API-key authentication: the key row with this SHA-256, across tenants (RLS bypassed for this one lookup only).';
"""

BACKWARD = "DROP FUNCTION IF EXISTS qm_api_key_by_hash(text);"


class Migration(migrations.Migration):
    dependencies = [("accounts", "0005_apikey_usersession")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
