"""Celery's broker: chosen from the settings, and the PostgreSQL queue of config/broker.py for real."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from kombu import Connection

from config.broker import Channel
from config.settings import celery_broker_url

BASE_DIR = Path(__file__).resolve().parents[2]
SOCKET_DB = {"USER": "quartermaster", "PASSWORD": "", "HOST": "/srv/app/.data/pg", "PORT": "", "NAME": "qm"}


def test_broker_url__celery_broker_url_set__wins_over_redis():
    url = celery_broker_url(broker_url="amqp://mq:5672//", redis_url="redis://r:6379/0", database=SOCKET_DB)

    assert url == "amqp://mq:5672//"


def test_broker_url__only_redis_url__redis():
    url = celery_broker_url(broker_url="", redis_url="redis://r:6379/0", database=SOCKET_DB)

    assert url == "redis://r:6379/0"


def test_broker_url__neither__postgres_queue_on_the_socket():
    url = celery_broker_url(broker_url="", redis_url="", database=SOCKET_DB)

    assert url == (
        "qmpg+postgresql+psycopg://quartermaster@/qm"
        "?host=%2Fsrv%2Fapp%2F.data%2Fpg&application_name=quartermaster-broker"
    )


def test_broker_url__neither_with_tcp_and_password__postgres_queue_with_quoted_credentials():
    database = {
        "USER": "qm",
        "PASSWORD": "p@ss:w/rd",
        "HOST": "db.internal",
        "PORT": 5433,
        "NAME": "quartermaster",
    }

    url = celery_broker_url(broker_url="", redis_url="", database=database)

    assert url == (
        "qmpg+postgresql+psycopg://qm:p%40ss%3Aw%2Frd@db.internal:5433/quartermaster"
        "?application_name=quartermaster-broker"
    )


def test_celery_settings__under_tests__tasks_run_eagerly_on_the_chosen_broker():
    configured = settings.CELERY_BROKER_URL
    chosen = os.environ.get("CELERY_BROKER_URL") or settings.REDIS_URL

    assert settings.CELERY_TASK_ALWAYS_EAGER is True
    if chosen:
        assert configured == chosen
    else:  # the queue in PostgreSQL (the test run renamed the database since: not compared)
        assert configured.startswith("qmpg+postgresql+psycopg://")
        assert configured.endswith("application_name=quartermaster-broker")


def _settings_value(expression: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("QM_", "PYTEST", "DJANGO_"))}
    clean.update(env)
    result = subprocess.run(  # noqa: S603  # our own interpreter and settings module
        [sys.executable, "-c", f"import config.settings as s; print({expression})"],
        cwd=BASE_DIR,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.slow
def test_public_url__unset__the_url_make_run_serves():
    shown = _settings_value("s.QM_PUBLIC_URL", QM_HOST="0.0.0.0", QM_PORT="9123")  # noqa: S104

    assert shown == "http://127.0.0.1:9123"


@pytest.mark.slow
def test_public_url__set__wins_over_host_and_port():
    shown = _settings_value(
        "s.QM_PUBLIC_URL", QM_PUBLIC_URL="https://qm.example.com", QM_HOST="127.0.0.1", QM_PORT="9123"
    )

    assert shown == "https://qm.example.com"


@pytest.fixture
def postgres_broker(db: None) -> Iterator[Connection]:
    """A kombu connection on the PostgreSQL queue, in the test database; its tables dropped after
    (failing within seconds, not hanging, should a broker connection still hold a lock on them)."""
    url = celery_broker_url(broker_url="", redis_url="", database=connection.settings_dict)
    broker = Connection(url, transport_options={"polling_interval": 0.01})
    try:
        yield broker
    finally:
        broker.release()
        engine, _ = Channel._engines.pop(url.split("+", 1)[1], (None, None))
        if engine is not None:
            with engine.begin() as conn:
                conn.exec_driver_sql("SET LOCAL lock_timeout = '5s'")
                conn.exec_driver_sql("DROP TABLE IF EXISTS kombu_message, kombu_queue")
                conn.exec_driver_sql("DROP SEQUENCE IF EXISTS message_id_sequence, queue_id_sequence")
            engine.dispose()


def test_postgres_broker__message_put__taken_once_in_order_and_gone_from_the_table(postgres_broker):
    queue_name = f"test-{uuid.uuid4().hex[:8]}"
    queue = postgres_broker.SimpleQueue(queue_name)

    queue.put({"n": 1})
    queue.put({"n": 2})
    first = queue.get(timeout=5)
    first.ack()
    second = queue.get(timeout=5)
    second.ack()
    with pytest.raises(queue.Empty):
        queue.get(timeout=0.2)
    channel = postgres_broker.default_channel
    engine, _ = channel._open()
    with engine.connect() as conn:
        left = conn.exec_driver_sql("SELECT count(*) FROM kombu_message").scalar()
    queue.close()

    assert (first.payload, second.payload) == ({"n": 1}, {"n": 2})
    assert left == 0
    assert type(channel).__module__ == "config.broker"


def test_postgres_broker__polling_interval_option__not_passed_to_sqlalchemy(postgres_broker):
    postgres_broker.ensure_connection(max_retries=1)
    channel = postgres_broker.default_channel

    engine, _ = channel._open()

    assert postgres_broker.transport.polling_interval == 0.01
    assert engine.dialect.driver == "psycopg"


def test_postgres_broker__after_put_get_and_size__no_connection_left_in_a_transaction(postgres_broker):
    queue = postgres_broker.SimpleQueue(f"test-{uuid.uuid4().hex[:8]}")
    queue.put({"n": 1})
    size = queue.qsize()
    queue.get(timeout=5).ack()
    engine, _ = postgres_broker.default_channel._open()
    with engine.connect() as conn:
        idle_in_transaction = conn.exec_driver_sql(
            "SELECT count(*), string_agg(query, ' | ') FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = 'quartermaster-broker'"
            " AND state IN ('idle in transaction', 'idle in transaction (aborted)')"
            " AND pid <> pg_backend_pid()"
        ).one()
    queue.close()

    assert size == 1
    assert idle_in_transaction[0] == 0, idle_in_transaction[1]
