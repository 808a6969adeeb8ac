"""Django's PostgreSQL backend, with a health check that costs no round trip.

Django checks a reused connection before each request's first query (`CONN_HEALTH_CHECKS`) by sending
`SELECT 1`: one PostgreSQL round trip on every request, a third of an authenticated read's. Between
requests a healthy connection has nothing to read, so this asks the socket instead: a readable socket
means the server has closed the connection or is closing it (a restart, a failover, an idle timeout
or `pg_terminate_backend` send an error message and then close), and libpq's own status catches a
connection that already failed. Either way the connection is replaced before the request uses it,
as Django's check would. A false alarm (an asynchronous message nobody asked for) costs a reconnect.
"""

import select

from django.db.backends.postgresql import base
from psycopg import pq


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        if self.connection is None or self.connection.closed or self.connection.pgconn.status != pq.ConnStatus.OK:
            return False
        poller = select.poll()  # not select.select(): it refuses descriptors above 1023
        poller.register(self.connection.fileno(), select.POLLIN)
        return not poller.poll(0)
