"""The system roles take the registry's alert permissions (alerts:read for everyone, alerts:write
for owners and admins).

Re-syncs owner/admin/member/viewer from accounts.permissions.SYSTEM_ROLES, as 0004 seeded them.
"""

from django.db import migrations


def sync_system_roles(apps, schema_editor):
    from accounts.permissions import SYSTEM_ROLES

    Role = apps.get_model("accounts", "Role")
    # System roles have no tenant: only the platform bypass may write them.
    schema_editor.execute("SELECT set_config('app.bypass_rls', 'on', true)")
    for slug, spec in SYSTEM_ROLES.items():
        Role.objects.filter(tenant=None, slug=slug).update(permissions=spec["permissions"])
    schema_editor.execute("SELECT set_config('app.bypass_rls', '', true)")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0014_user_operator_lock")]

    operations = [migrations.RunPython(sync_system_roles, migrations.RunPython.noop)]
