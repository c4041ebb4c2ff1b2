"""Row-level security on roles (system roles readable by all) and the seeded system roles."""

from django.db import migrations

from core.tenancy import EnableRowLevelSecurity


def sync_system_roles(apps, schema_editor):
    """Create or update owner/admin/member/viewer from the registry in accounts.permissions."""
    from accounts.permissions import SYSTEM_ROLES

    Role = apps.get_model("accounts", "Role")
    # System roles have no tenant: only the platform bypass may write them.
    schema_editor.execute("SELECT set_config('app.bypass_rls', 'on', true)")
    for slug, spec in SYSTEM_ROLES.items():
        Role.objects.update_or_create(
            tenant=None,
            slug=slug,
            defaults={
                "name": slug.capitalize(),
                "description": spec["description"],
                "permissions": spec["permissions"],
                "rank": spec["rank"],
            },
        )
    schema_editor.execute("SELECT set_config('app.bypass_rls', '', true)")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_role_tenant")]

    operations = [
        EnableRowLevelSecurity("accounts_role", shared_null=True),
        migrations.RunPython(sync_system_roles, migrations.RunPython.noop),
    ]
