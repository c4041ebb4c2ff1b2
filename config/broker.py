"""Celery's broker in PostgreSQL, for machines without Redis (docs/architecture.md, "Background work").

kombu's SQLAlchemy transport, with three changes that matter on PostgreSQL:

- A worker takes a message with one statement, `DELETE ... WHERE id = (SELECT ... FOR UPDATE
  SKIP LOCKED) RETURNING payload`: workers never wait on each other's row locks, and a taken
  message leaves the table. (kombu's own transport marks it invisible and keeps it forever, so
  its table only grows; an invisible row is never delivered again either, so deleting it loses
  nothing.) A task that is taken and then lost with its worker (kill -9) is not run again:
  `acks_late` cannot bring it back on this transport, as on kombu's.
- `polling_interval` (and kombu's other transport options) are not handed to
  `sqlalchemy.create_engine`, which refuses unknown arguments.
- A message is put with one INSERT, and the queue's id is looked up once per channel, not on
  every put and poll; no statement goes through kombu's ORM session, which would leave its
  connection idle in a transaction (holding a lock on the queue table) after a lookup.

Selected by a broker URL starting `qmpg+postgresql+psycopg://` (config/settings.py builds it from
DATABASE_URL when neither CELERY_BROKER_URL nor REDIS_URL is set; config/celery.py registers the
alias). The tables (`kombu_queue`, `kombu_message`) are kombu's, created on first use.
"""

from __future__ import annotations

from json import dumps, loads
from queue import Empty
from types import SimpleNamespace
from typing import Any

from kombu.transport import sqlalchemy as kombu_sqla
from kombu.utils.encoding import bytes_to_str
from sqlalchemy import create_engine, text

ALIAS = "qmpg"

# Transport options that are kombu's or Celery's, not SQLAlchemy's engine arguments.
_KOMBU_OPTIONS = frozenset(
    {
        "queue_tablename",
        "message_tablename",
        "callback",
        "errback",
        "max_retries",
        "interval_start",
        "interval_step",
        "interval_max",
        "retry_errors",
        "polling_interval",
        "confirm_publish",
    }
)


class Channel(kombu_sqla.Channel):
    """kombu's SQLAlchemy channel, taking messages with SKIP LOCKED and deleting them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._queue_ids: dict[str, int] = {}
        super().__init__(*args, **kwargs)

    def _engine_from_config(self) -> Any:
        conninfo: Any = self.connection.client
        engine_options = {
            key: value for key, value in conninfo.transport_options.items() if key not in _KOMBU_OPTIONS
        }
        # A connection dropped by a database restart is replaced, not handed to the next poll.
        engine_options.setdefault("pool_pre_ping", True)
        return create_engine(conninfo.hostname, **engine_options)

    def _queue_id(self, queue: str) -> int:
        """The queue's row id, looked up (or created) once per channel, each time in a short
        transaction of its own. kombu's ORM session would leave its connection idle in a
        transaction after the lookup, holding a lock on the queue table for as long as the
        worker lives (a DROP or ALTER of it, and a test database's teardown, would wait forever)."""
        if queue not in self._queue_ids:
            table = self.queue_tablename
            select = text(f"SELECT id FROM {table} WHERE name = :name")  # noqa: S608  # our own table name
            insert = text(
                f"INSERT INTO {table} (id, name) VALUES (nextval('queue_id_sequence'), :name)"  # noqa: S608
                " ON CONFLICT (name) DO NOTHING"
            )
            engine, _ = self._open()
            with engine.begin() as conn:
                queue_id = conn.execute(select, {"name": queue}).scalar()
                if queue_id is None:
                    conn.execute(insert, {"name": queue})  # another worker may have just made it
                    queue_id = conn.execute(select, {"name": queue}).scalar_one()
            self._queue_ids[queue] = int(queue_id)
        return self._queue_ids[queue]

    def _get_or_create(self, queue: str) -> Any:
        # What kombu's own methods (_new_queue, _purge's query) read of the queue: its id and name.
        return SimpleNamespace(id=self._queue_id(queue), name=queue)

    def _size(self, queue: str) -> int:
        statement = text(
            f"SELECT count(*) FROM {self.message_tablename} WHERE queue_id = :queue_id AND visible"  # noqa: S608
        )
        queue_id = self._queue_id(queue)
        engine, _ = self._open()
        with engine.connect() as conn:
            return int(conn.execute(statement, {"queue_id": queue_id}).scalar_one())

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        queue_id = self._queue_id(queue)
        table = self.message_tablename
        statement = text(
            f"DELETE FROM {table} WHERE id = ("  # noqa: S608  # the table name is our own option
            f" SELECT id FROM {table} WHERE queue_id = :queue_id AND visible"
            " ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"
            ") RETURNING payload"
        )
        engine, _ = self._open()
        with engine.begin() as conn:
            payload = conn.execute(statement, {"queue_id": queue_id}).scalar()
        if payload is None:
            raise Empty()
        return loads(bytes_to_str(payload))

    # kombu's SQLAlchemy channel names the argument `payload`, its stubs' virtual one `message`.
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        # One INSERT in its own transaction (kombu's ORM session looks the queue up and reloads
        # it around every message): what a request that queues a task pays.
        statement = text(
            f"INSERT INTO {self.message_tablename} (id, queue_id, visible, timestamp, payload, version)"  # noqa: S608  # our own table name
            " VALUES (nextval('message_id_sequence'), :queue_id, true, now(), :payload, 1)"
        )
        queue_id = self._queue_id(queue)
        engine, _ = self._open()
        with engine.begin() as conn:
            conn.execute(statement, {"queue_id": queue_id, "payload": dumps(payload)})

    def _purge(self, queue: str) -> int:
        self._queue_ids.pop(queue, None)
        return int(super()._purge(queue))


class Transport(kombu_sqla.Transport):
    """The transport behind the `qmpg+` broker URLs."""

    Channel = Channel
    # Not kombu's 1 s: a task queued by a request starts within about this many seconds.
    polling_interval = 0.1
