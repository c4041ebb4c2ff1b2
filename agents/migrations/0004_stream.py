"""The live stream's records: single-use stream tickets and websocket connections, both
tenant-scoped under row-level security (as migration 0001 does)."""

import uuid

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

from core.tenancy import EnableRowLevelSecurity


class Migration(migrations.Migration):
    dependencies = [
        ("agents", "0003_telemetry"),
        ("accounts", "0013_backup_codes_name"),
        ("tenants", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="StreamTicket",
            fields=[
                (
                    "id",
                    models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("digest", models.CharField(max_length=64, unique=True)),
                ("client_ip", models.GenericIPAddressField(blank=True, null=True)),
                ("origin", models.CharField(blank=True, max_length=255)),
                ("expires_at", models.DateTimeField()),
                (
                    "api_key",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="accounts.apikey",
                    ),
                ),
                (
                    "tenant",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="tenants.tenant"
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at", "-id"],
                "abstract": False,
                "indexes": [models.Index(fields=["expires_at"], name="stream_ticket_expiry_idx")],
            },
        ),
        migrations.CreateModel(
            name="WebsocketConnection",
            fields=[
                (
                    "id",
                    models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("channel_name", models.CharField(max_length=200)),
                ("stream", models.CharField(default="events", max_length=32)),
                ("client_ip", models.GenericIPAddressField(blank=True, null=True)),
                ("user_agent", models.CharField(blank=True, max_length=512)),
                ("connected_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("last_seen_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("disconnected_at", models.DateTimeField(blank=True, null=True)),
                ("close_code", models.IntegerField(blank=True, null=True)),
                (
                    "api_key",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="accounts.apikey",
                    ),
                ),
                (
                    "tenant",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="tenants.tenant"
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "websocket connection",
                "ordering": ["-connected_at", "-id"],
                "abstract": False,
                "indexes": [
                    models.Index(
                        fields=["tenant", "-connected_at"],
                        condition=models.Q(("disconnected_at__isnull", True)),
                        name="ws_conn_open_idx",
                    )
                ],
            },
        ),
        EnableRowLevelSecurity("agents_streamticket"),
        EnableRowLevelSecurity("agents_websocketconnection"),
    ]
