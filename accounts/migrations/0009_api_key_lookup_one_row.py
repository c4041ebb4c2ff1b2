"""The key lookup function returns at most one row (the key hash is unique): say so to the planner.

Without it PostgreSQL assumes a set-returning function yields 1,000 rows, and the lookup's join
to the key's creator hashed the whole user table on every key-authenticated request (a
sequential scan of `accounts_user`, growing with the users) instead of one index probe.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("accounts", "0008_totp_seed_encrypted")]

    operations = [
        migrations.RunSQL(
            "ALTER FUNCTION qm_api_key_by_hash(text) ROWS 1",
            "ALTER FUNCTION qm_api_key_by_hash(text) ROWS 1000",
        )
    ]
