from django.db import migrations

from core.tenancy import EnableRowLevelSecurity


class Migration(migrations.Migration):
    dependencies = [("tenants", "0001_initial")]

    operations = [
        EnableRowLevelSecurity("tenants_team"),
        # A user sees their own memberships in every tenant ("my tenants") and nobody else's.
        EnableRowLevelSecurity("tenants_membership", own_user_rows=True),
    ]
