"""The API-key lookup and last-use write of authentication, one round trip each.

Authentication runs before any tenant is known, and `accounts_apikey` is under row-level
security, so the lookup must see across tenants. Done from Python, that was a savepoint and
five statements around one SELECT on every key-authenticated request. These functions do the
same inside the database: each turns the bypass on for exactly one statement and puts the
setting back as it was.

- `qm_api_key_by_hash(digest)`: the key row with this exact SHA-256; it can find nothing but
  the row whose key the caller holds.
- `qm_api_key_touch(key_id, used_at, used_ip)`: writes the two last-use columns of one key.
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

CREATE FUNCTION qm_api_key_touch(key_id uuid, used_at timestamptz, used_ip inet) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    previous text := coalesce(current_setting('app.bypass_rls', true), '');
BEGIN
    PERFORM set_config('app.bypass_rls', 'on', true);
    UPDATE accounts_apikey SET last_used_at = used_at, last_used_ip = used_ip WHERE id = key_id;
    PERFORM set_config('app.bypass_rls', previous, true);
END
$$;
COMMENT ON FUNCTION qm_api_key_touch(uuid, timestamptz, inet) IS
    'API-key authentication: record the last use of one key (RLS bypassed for this one update only).';
"""

BACKWARD = """
DROP FUNCTION IF EXISTS qm_api_key_touch(uuid, timestamptz, inet);
DROP FUNCTION IF EXISTS qm_api_key_by_hash(text);
"""


class Migration(migrations.Migration):
    dependencies = [("accounts", "0005_apikey_usersession")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
