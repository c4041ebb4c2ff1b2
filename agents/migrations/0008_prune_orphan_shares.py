"""Delete the agent shares (django-guardian object permissions) left behind before shares went
with a removed member or a deleted agent (agents.services.shares): a user's share on an agent of
a tenant they no longer belong to, and any share (user or group) on an agent that no longer
exists. Guardian keys rows by content type and the object's id as text, with no foreign key.
Runs once, across tenants, under the platform's RLS bypass; the reverse does nothing."""

from django.db import migrations

PRUNE = """
SELECT set_config('app.bypass_rls', 'on', true);
DELETE FROM guardian_userobjectpermission p
 USING django_content_type ct
 WHERE p.content_type_id = ct.id AND ct.app_label = 'agents' AND ct.model = 'agent'
   AND NOT EXISTS (
       SELECT 1 FROM agents_agent a
         JOIN tenants_membership m ON m.tenant_id = a.tenant_id AND m.user_id = p.user_id
        WHERE a.id::text = p.object_pk);
DELETE FROM guardian_groupobjectpermission p
 USING django_content_type ct
 WHERE p.content_type_id = ct.id AND ct.app_label = 'agents' AND ct.model = 'agent'
   AND NOT EXISTS (SELECT 1 FROM agents_agent a WHERE a.id::text = p.object_pk);
SELECT set_config('app.bypass_rls', '', true);
"""


def prune(apps, schema_editor):
    schema_editor.execute(PRUNE)


class Migration(migrations.Migration):
    dependencies = [
        ("agents", "0007_stream_sessions"),
        ("guardian", "0001_initial"),
        ("tenants", "0001_initial"),
    ]

    operations = [migrations.RunPython(prune, migrations.RunPython.noop)]
