"""An index of the ledger by tenant and occurred_at, built without locking out writes
(CREATE INDEX CONCURRENTLY, outside a transaction): the ledger is the busiest table."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("billing", "0003_monthly_cap_agent_counts")]

    operations = [
        AddIndexConcurrently(
            model_name="credittransaction",
            index=models.Index(fields=["tenant", "occurred_at", "seq"], name="credit_tx_tenant_occurred_idx"),
        ),
    ]
