"""The ledger's agent and session references become tenant-consistent foreign keys, and the
subscription's agent counts are kept by the database.

Billing sits below agents: its models keep plain UUID columns (billing.CreditTransaction and
billing.Reservation .agent_id / .agent_session_id) and know nothing of agents' tables. This
migration, in the app above, declares what the database must hold:

- (tenant_id, agent_id) → agents_agent (tenant_id, id): an entry names an agent of its own tenant
  (the RI check ignores row-level security, and the tenant is part of the key, so another
  tenant's agent id is refused whatever the caller can see);
- (tenant_id, agent_session_id, agent_id) → agents_agentsession (tenant_id, id, agent_id), with a
  CHECK that an entry naming a session names an agent: a session's usage carries the session's
  own agent (MATCH SIMPLE would skip the check were agent_id null).

The keys are checked at once (not deferred), so a refused reference fails the statement that
writes it and billing answers 400 (ledger_write_guard), never a failed COMMIT.

ON DELETE NO ACTION: the ledger is insert-only (a trigger refuses UPDATE and DELETE), so neither
CASCADE nor SET NULL can apply to it. An agent with billing records is never deleted:
agents.services.agent_delete refuses it first with 409 `agent_has_billing_records` (pause it
instead); the database refuses it regardless. One partial index per table serves both keys' checks
on delete (only rows naming an agent are indexed: usage without an agent, the billing bench's,
costs no index insert).

The counts: billing_subscription.allocated_agents (agents that exist) and active_agents (status
active or idle) are moved by a trigger on agents_agent, in the transaction and statement of the
insert, delete or status change, whoever writes (services, the admin, a cascade from a deleted
tenant). Deltas on the subscription's row, not recounts: concurrent changes of different agents
queue on that row's lock and each adds its own ±1, so the counts stay exact. A subscription
inserted after its tenant's agents starts from their counts (a trigger on its insert).
"""

from django.db import migrations

LEDGER_TABLES = ["billing_credittransaction", "billing_reservation"]


def _ledger_sql(table: str) -> tuple[str, str]:
    short = "credit_tx" if table == "billing_credittransaction" else "reservation"
    return (
        f"""
        ALTER TABLE {table} ADD CONSTRAINT {short}_session_has_agent
            CHECK (agent_session_id IS NULL OR agent_id IS NOT NULL);
        CREATE INDEX {short}_agent_refs_idx ON {table} (tenant_id, agent_id, agent_session_id)
            WHERE agent_id IS NOT NULL;
        ALTER TABLE {table} ADD CONSTRAINT {short}_agent_same_tenant
            FOREIGN KEY (tenant_id, agent_id) REFERENCES agents_agent (tenant_id, id);
        ALTER TABLE {table} ADD CONSTRAINT {short}_session_same_agent
            FOREIGN KEY (tenant_id, agent_session_id, agent_id)
            REFERENCES agents_agentsession (tenant_id, id, agent_id);
        """,
        f"""
        ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {short}_session_same_agent;
        ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {short}_agent_same_tenant;
        DROP INDEX IF EXISTS {short}_agent_refs_idx;
        ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {short}_session_has_agent;
        """,
    )


SESSION_KEY = (
    "ALTER TABLE agents_agentsession ADD CONSTRAINT agent_session_tenant_id_agent_unique "
    "UNIQUE (tenant_id, id, agent_id)",
    "ALTER TABLE agents_agentsession DROP CONSTRAINT IF EXISTS agent_session_tenant_id_agent_unique",
)

COUNTS = (
    """
    CREATE FUNCTION agents_agent_subscription_counts() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        d_allocated integer := 0;
        d_active integer := 0;
        t uuid;
    BEGIN
        IF TG_OP = 'INSERT' THEN
            t := NEW.tenant_id;
            d_allocated := 1;
            d_active := CASE WHEN NEW.status IN ('active', 'idle') THEN 1 ELSE 0 END;
        ELSIF TG_OP = 'DELETE' THEN
            t := OLD.tenant_id;
            d_allocated := -1;
            d_active := CASE WHEN OLD.status IN ('active', 'idle') THEN -1 ELSE 0 END;
        ELSE
            t := NEW.tenant_id;
            d_active := (CASE WHEN NEW.status IN ('active', 'idle') THEN 1 ELSE 0 END)
                      - (CASE WHEN OLD.status IN ('active', 'idle') THEN 1 ELSE 0 END);
        END IF;
        IF d_allocated <> 0 OR d_active <> 0 THEN
            UPDATE billing_subscription
               SET allocated_agents = allocated_agents + d_allocated,
                   active_agents = active_agents + d_active
             WHERE tenant_id = t;
        END IF;
        RETURN NULL;
    END $$;
    CREATE TRIGGER agents_agent_subscription_counts
        AFTER INSERT OR DELETE OR UPDATE OF status ON agents_agent
        FOR EACH ROW EXECUTE FUNCTION agents_agent_subscription_counts();
    -- A subscription made after its tenant's agents (a tenant set up outside tenant_create)
    -- starts from their counts.
    CREATE FUNCTION billing_subscription_agent_counts() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        SELECT count(*), count(*) FILTER (WHERE status IN ('active', 'idle'))
          INTO NEW.allocated_agents, NEW.active_agents
          FROM agents_agent WHERE tenant_id = NEW.tenant_id;
        RETURN NEW;
    END $$;
    CREATE TRIGGER billing_subscription_agent_counts BEFORE INSERT ON billing_subscription
        FOR EACH ROW EXECUTE FUNCTION billing_subscription_agent_counts();
    -- The counts of the agents that exist already.
    UPDATE billing_subscription s
       SET allocated_agents = c.allocated, active_agents = c.active
      FROM (SELECT tenant_id, count(*) AS allocated,
                   count(*) FILTER (WHERE status IN ('active', 'idle')) AS active
              FROM agents_agent GROUP BY tenant_id) c
     WHERE s.tenant_id = c.tenant_id;
    """,
    """
    DROP TRIGGER IF EXISTS billing_subscription_agent_counts ON billing_subscription;
    DROP FUNCTION IF EXISTS billing_subscription_agent_counts();
    DROP TRIGGER IF EXISTS agents_agent_subscription_counts ON agents_agent;
    DROP FUNCTION IF EXISTS agents_agent_subscription_counts();
    """,
)


class Migration(migrations.Migration):
    dependencies = [
        ("agents", "0004_stream"),
        ("billing", "0003_monthly_cap_agent_counts"),
    ]

    operations = [
        migrations.RunSQL(*SESSION_KEY),
        *(migrations.RunSQL(*_ledger_sql(table)) for table in LEDGER_TABLES),
        migrations.RunSQL(*COUNTS),
    ]
