"""The audit log's hash chain (issue 14): columns, the head table, the insert trigger, the
backfill of existing entries, and the archive anchors.

Why a trigger: the hash is computed in the same INSERT statement (no extra round trip for any
service), for every insert path, and the caller cannot choose its values. Why a head row locked
FOR UPDATE rather than reading the last entry under an advisory lock: the head row is both the
lock and the chain's state, one indexed row per chain, so appends to one tenant's chain are
serialised (a linear chain needs that) while different tenants' appends lock different rows and
never wait on each other. The lock is held until the writer's transaction ends, so the chain's
order is the commit order and never links to an entry that is later rolled back.
"""

import django.db.models.deletion
import django.db.models.functions.datetime
import pgtrigger.compiler
import pgtrigger.migrations
import uuid
from django.conf import settings
from django.db import migrations, models

from core.tenancy import EnableRowLevelSecurity

CHAIN_SQL = r"""
-- The entry's canonical content: jsonb's text form (keys in a fixed order, one spelling per value),
-- times in UTC with microseconds, the address without a mask.
CREATE OR REPLACE FUNCTION qm_audit_content(e audit_auditlogentry) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', e.id,
    'tenant_id', e.tenant_id,
    'seq', e.chain_seq,
    'created_at', to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'actor_type', e.actor_type,
    'actor_user_id', e.actor_user_id,
    'actor_api_key_id', e.actor_api_key_id,
    'actor_label', e.actor_label,
    'actor_role', e.actor_role,
    'action', e.action,
    'target_type', e.target_type,
    'target_id', e.target_id,
    'target_label', e.target_label,
    'severity', e.severity,
    'ip_address', host(e.ip_address),
    'user_agent', e.user_agent,
    'request_id', e.request_id,
    'details', e.details
  )::text
$$;

-- SHA-256 (hex) of the previous hash followed by the content; audit.chain.link_hash is the same in Python.
CREATE OR REPLACE FUNCTION qm_audit_hash(prev text, content text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT encode(sha256(convert_to(prev || content, 'UTF8')), 'hex')
$$;

-- Append NEW to its chain: lock the chain's head row (created on the chain's first entry), link,
-- hash, move the head. Runs as the caller, under the same row-level security as the insert.
CREATE OR REPLACE FUNCTION qm_audit_chain_append() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  k text := coalesce(NEW.tenant_id::text, 'platform');
  h_seq bigint;
  h_hash text;
BEGIN
  SELECT seq, last_hash INTO h_seq, h_hash FROM audit_auditchainhead WHERE chain = k FOR UPDATE;
  IF NOT FOUND THEN
    INSERT INTO audit_auditchainhead (chain, tenant_id, seq, last_hash, updated_at)
      VALUES (k, NEW.tenant_id, 0, repeat('0', 64), now())
      ON CONFLICT (chain) DO NOTHING;
    SELECT seq, last_hash INTO h_seq, h_hash FROM audit_auditchainhead WHERE chain = k FOR UPDATE;
  END IF;
  NEW.chain_seq := h_seq + 1;
  NEW.prev_hash := h_hash;
  NEW.hash := qm_audit_hash(NEW.prev_hash, qm_audit_content(NEW));
  UPDATE audit_auditchainhead
     SET seq = NEW.chain_seq, last_hash = NEW.hash, last_entry_id = NEW.id, updated_at = now()
   WHERE chain = k;
  RETURN NEW;
END
$$;

-- Existing entries, chain by chain in (created_at, id) order, past the insert-only trigger
-- (pgtrigger's ignore, local to this migration's transaction) and row-level security.
DO $$
DECLARE
  r audit_auditlogentry;
  k text;
  cur text := NULL;
  s bigint := 0;
  prev text;
  n bigint := 0;
BEGIN
  PERFORM set_config('app.bypass_rls', 'on', true);
  PERFORM set_config('pgtrigger.ignore',
    '{pgtrigger_audit_insert_only_fdb87,audit_auditlogentry:pgtrigger_audit_insert_only_fdb87}', true);
  FOR r IN SELECT * FROM audit_auditlogentry ORDER BY tenant_id NULLS FIRST, created_at, id LOOP
    k := coalesce(r.tenant_id::text, 'platform');
    IF cur IS DISTINCT FROM k THEN
      cur := k; s := 0; prev := repeat('0', 64);
    END IF;
    s := s + 1;
    r.chain_seq := s;
    r.prev_hash := prev;
    r.hash := qm_audit_hash(prev, qm_audit_content(r));
    UPDATE audit_auditlogentry SET chain_seq = r.chain_seq, prev_hash = r.prev_hash, hash = r.hash
     WHERE id = r.id;
    prev := r.hash;
    n := n + 1;
    IF n % 10000 = 0 THEN
      RAISE NOTICE 'audit chain backfill: % entries', n;
    END IF;
  END LOOP;
  INSERT INTO audit_auditchainhead (chain, tenant_id, seq, last_hash, last_entry_id, updated_at)
    SELECT DISTINCT ON (tenant_id) coalesce(tenant_id::text, 'platform'), tenant_id, chain_seq, hash, id, now()
      FROM audit_auditlogentry ORDER BY tenant_id, chain_seq DESC;
  PERFORM set_config('pgtrigger.ignore', NULL, true);
END
$$;

CREATE TRIGGER qm_audit_chain BEFORE INSERT ON audit_auditlogentry
  FOR EACH ROW EXECUTE FUNCTION qm_audit_chain_append();
"""

CHAIN_REVERSE_SQL = """
DROP TRIGGER IF EXISTS qm_audit_chain ON audit_auditlogentry;
DROP FUNCTION IF EXISTS qm_audit_chain_append();
DROP FUNCTION IF EXISTS qm_audit_hash(text, text);
DROP FUNCTION IF EXISTS qm_audit_content(audit_auditlogentry);
"""


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0002_rls'),
        ('tenants', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='AuditArchive',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('created_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('chain', models.CharField(max_length=36)),
                ('first_seq', models.BigIntegerField()),
                ('last_seq', models.BigIntegerField()),
                ('count', models.PositiveIntegerField()),
                ('last_hash', models.CharField(max_length=64)),
                ('before', models.DateTimeField()),
                ('file', models.CharField(max_length=500)),
                ('file_sha256', models.CharField(max_length=64)),
            ],
            options={
                'ordering': ['chain', '-last_seq'],
            },
        ),
        migrations.CreateModel(
            name='AuditChainHead',
            fields=[
                ('chain', models.CharField(max_length=36, primary_key=True, serialize=False)),
                ('tenant_id', models.UUIDField(blank=True, null=True)),
                ('seq', models.BigIntegerField(default=0)),
                ('last_hash', models.CharField(default='0000000000000000000000000000000000000000000000000000000000000000', max_length=64)),
                ('last_entry_id', models.UUIDField(blank=True, null=True)),
                ('updated_at', models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
            ],
            options={
                'verbose_name': 'audit chain head',
            },
        ),
        migrations.AddField(
            model_name='auditlogentry',
            name='actor_role',
            field=models.CharField(blank=True, default='', max_length=64),
        ),
        migrations.AddField(
            model_name='auditlogentry',
            name='chain_seq',
            field=models.BigIntegerField(default=0, editable=False),
        ),
        migrations.AddField(
            model_name='auditlogentry',
            name='hash',
            field=models.CharField(default='', editable=False, max_length=64),
        ),
        migrations.AddField(
            model_name='auditlogentry',
            name='prev_hash',
            field=models.CharField(default='', editable=False, max_length=64),
        ),
        migrations.RunSQL(CHAIN_SQL, CHAIN_REVERSE_SQL),
        migrations.AddConstraint(
            model_name='auditlogentry',
            constraint=models.UniqueConstraint(fields=('tenant', 'chain_seq'), name='audit_chain_seq_uniq', nulls_distinct=False),
        ),
        migrations.AddField(
            model_name='auditarchive',
            name='tenant',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenants.tenant'),
        ),
        migrations.AddConstraint(
            model_name='auditarchive',
            constraint=models.UniqueConstraint(fields=('chain', 'last_seq'), name='audit_archive_chain_seq_uniq'),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='auditarchive',
            trigger=pgtrigger.compiler.Trigger(name='audit_archive_insert_only', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'pgtrigger: Cannot update or delete rows from % table', TG_TABLE_NAME;", hash='af4c736f2c9fea84b7ca5b072e17b723ed3bbc7c', operation='UPDATE OR DELETE', pgid='pgtrigger_audit_archive_insert_only_48517', table='audit_auditarchive', when='BEFORE')),
        ),
        # Platform chain's head (tenant NULL): readable and movable from any context, as platform
        # entries are insertable from any context; a tenant's head only in its own context.
        EnableRowLevelSecurity("audit_auditchainhead", shared_null=True, insert_null=True),
        EnableRowLevelSecurity("audit_auditarchive", insert_null=True),
    ]
