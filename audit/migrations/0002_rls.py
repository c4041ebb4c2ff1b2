from django.db import migrations

from core.tenancy import EnableRowLevelSecurity


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [
        # Platform-wide entries (tenant NULL) can be written from any context, read only under
        # the platform bypass.
        EnableRowLevelSecurity("audit_auditlogentry", insert_null=True),
    ]
