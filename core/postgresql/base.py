"""Django's PostgreSQL backend, with a health check that does not query (ENGINE "core.postgresql").

With `CONN_HEALTH_CHECKS` Django checks a persistent connection before the first query of every
request (and of every Celery task) by sending `SELECT 1`: a round trip, and a statement for the
database to run, on every API request. Here the check asks the operating system instead: a
connection at rest has nothing to read. When PostgreSQL ends a session (a restart, a failover,
`pg_terminate_backend`, an idle-session timeout) it sends the client a FATAL error and closes the
socket, and when the server process dies the kernel closes it: either way the socket becomes
readable. So an idle connection whose socket has nothing to read is alive as far as anyone can
tell without asking, and one that has something gets Django's real check (`SELECT 1`, which
also reads and discards an innocent message), and is replaced if that fails. A database
restart therefore costs each worker one reconnection, not a failed request, as before.

What neither check can see: a connection that breaks between the check and the first query,
or a peer gone silent (a network partition) that sends nothing; there the first query fails,
as it would after `SELECT 1`, and Django drops the connection at the end of that request.
"""

from __future__ import annotations

import select
from typing import Any

import psycopg
from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    # Django's, untyped in its stubs.
    health_check_enabled: bool
    health_check_done: bool

    def close_if_health_check_failed(self) -> None:
        if (
            self.connection is None
            or not self.health_check_enabled
            or self.health_check_done
            or self.pool is not None  # a pool checks its connections itself
        ):
            super().close_if_health_check_failed()
            return
        if _at_rest(self.connection):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()  # something to read: SELECT 1, or reconnect


def _at_rest(connection: psycopg.Connection[Any]) -> bool:
    """True when the connection is open and its socket has nothing to read."""
    if connection.closed or connection.broken:
        return False
    try:
        poller = select.poll()
        poller.register(connection.pgconn.socket, select.POLLIN)
        return not poller.poll(0)  # POLLIN, POLLHUP or POLLERR: something happened
    except (OSError, ValueError, psycopg.Error):
        return False
