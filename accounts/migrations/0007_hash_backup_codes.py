"""Backup codes stored before this migration were plaintext (10 hex characters); they become
the keyed hash that accounts.services.mfa.backup_code_digest stores for new codes (16 hex
characters, HMAC-SHA256 under the SECRET_KEY). Codes already hashed are left alone."""

from django.conf import settings
from django.db import migrations
from django.utils.crypto import salted_hmac

PLAINTEXT_LENGTH = 10


def hash_plaintext_codes(apps, schema_editor):
    StaticToken = apps.get_model("otp_static", "StaticToken")
    for token in StaticToken.objects.all().iterator():
        if len(token.token) == PLAINTEXT_LENGTH:
            # The same function as backup_code_digest, written out: a migration keeps its own copy.
            token.token = salted_hmac(
                "qm.auth.backup-code", token.token, secret=settings.SECRET_KEY, algorithm="sha256"
            ).hexdigest()[:16]
            token.save(update_fields=["token"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_api_key_lookup_function"),
        ("otp_static", "0003_add_timestamps"),
    ]

    operations = [migrations.RunPython(hash_plaintext_codes, migrations.RunPython.noop)]
