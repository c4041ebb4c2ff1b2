"""TOTP seeds encrypted at rest (issue 10, finding 15).

django-otp stored each device's seed in the clear, as hex, in otp_totp_totpdevice.key. From here
on the seed lives in accounts_totpseed (one row per device, its primary key the device's id),
encrypted with the key ring of QM_ENCRYPTION_KEYS (core.crypto, AES-256-GCM) and bound to the
device row and its `key` field; the `key` column holds only a placeholder, and a check
constraint refuses anything else there, so no code path can store a seed in the clear again.

Existing seeds are encrypted here, rows already converted are skipped. Reversible: going back
decrypts each seed into the `key` column again (it needs the key ring that encrypted them).
Neither table has row-level security (neither holds a tenant id), so this runs as the
application's role, which is neither superuser nor BYPASSRLS.
"""

import django.db.models.deletion
from django.db import migrations, models

from core import crypto

# Copies of accounts.models' constants and context: a migration keeps its own.
PLACEHOLDER = "encrypted: see accounts_totpseed"
DEVICE_TABLE = "otp_totp_totpdevice"
CONSTRAINT = "otp_totp_totpdevice_key_encrypted_elsewhere"


def _context(device_id):
    return crypto.Context(tenant_id=None, table=DEVICE_TABLE, field="key", row_id=device_id)


def encrypt_plaintext_seeds(apps, schema_editor):
    TOTPDevice = apps.get_model("otp_totp", "TOTPDevice")
    TOTPSeed = apps.get_model("accounts", "TOTPSeed")
    unreadable = []
    for device in TOTPDevice.objects.exclude(key=PLACEHOLDER).order_by("pk").iterator():
        try:
            seed = bytes.fromhex(device.key)
        except ValueError:
            unreadable.append(device.pk)
            continue
        TOTPSeed.objects.update_or_create(
            device_id=device.pk, defaults={"ciphertext": crypto.encrypt(seed, context=_context(device.pk))}
        )
        TOTPDevice.objects.filter(pk=device.pk).update(key=PLACEHOLDER)
    if unreadable:
        # django-otp itself could not have used these (its bin_key unhexlifies the column).
        raise RuntimeError(
            f"TOTP devices {unreadable} have a key that is not hexadecimal; delete them (their users "
            "enrol again) or repair the key, then migrate again."
        )


def decrypt_seeds(apps, schema_editor):
    TOTPDevice = apps.get_model("otp_totp", "TOTPDevice")
    TOTPSeed = apps.get_model("accounts", "TOTPSeed")
    for sealed in TOTPSeed.objects.order_by("pk").iterator():
        seed = crypto.decrypt(sealed.ciphertext, context=_context(sealed.device_id))
        TOTPDevice.objects.filter(pk=sealed.device_id).update(key=seed.hex())


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_hash_backup_codes"),
        ("otp_totp", "0003_add_timestamps"),
    ]

    operations = [
        migrations.CreateModel(
            name="TOTPSeed",
            fields=[
                (
                    "device",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="encrypted_seed",
                        serialize=False,
                        to="otp_totp.totpdevice",
                    ),
                ),
                ("ciphertext", models.TextField()),
            ],
        ),
        migrations.CreateModel(
            name="EncryptedTOTPDevice",
            fields=[],
            options={
                "verbose_name": "TOTP device",
                "proxy": True,
                "indexes": [],
                "constraints": [],
            },
            bases=("otp_totp.totpdevice",),
        ),
        migrations.RunPython(encrypt_plaintext_seeds, decrypt_seeds),
        # On django-otp's table, so in SQL: Django's model state of that table stays django-otp's.
        migrations.RunSQL(
            f"ALTER TABLE {DEVICE_TABLE} ADD CONSTRAINT {CONSTRAINT} CHECK (key = '{PLACEHOLDER}')",
            f"ALTER TABLE {DEVICE_TABLE} DROP CONSTRAINT {CONSTRAINT}",
        ),
    ]
