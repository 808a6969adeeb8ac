"""Django's PostgreSQL backend, with a health check that costs no round trip, and prepared statements
that survive a migration.

Django checks a reused connection before each request's first query (`CONN_HEALTH_CHECKS`) by sending
`SELECT 1`: one PostgreSQL round trip on every request, a third of an authenticated read's. Between
requests a healthy connection has nothing to read, so this asks the socket instead: a readable socket
means the server has closed the connection or is closing it (a restart, a failover, an idle timeout
or `pg_terminate_backend` send an error message and then close), and libpq's own status catches a
connection that already failed. Either way the connection is replaced before the request uses it,
as Django's check would. A false alarm (an asynchronous message nobody asked for) costs a reconnect.

With prepared statements (`DB_PREPARED_STATEMENTS`), a migration that changes a column's type (a
wider `max_length` is one) makes every statement prepared before it that returns the column fail
with "cached plan must not change result type", on every connection, until the connection is
replaced. `StalePlanRetryingCursor` answers that: a statement run on its own (autocommit, as
nearly every statement of a request is) had no effect when it failed, so the connection's prepared
statements are dropped (`DEALLOCATE ALL`, which psycopg also takes as its cue to forget them) and
the statement is run again, once. Inside a transaction a failed statement cannot be run again (the
transaction is aborted), so statements there are never prepared: they cannot go stale.
"""

import select

from django.db.backends.postgresql import base
from psycopg import errors, pq

STALE_PLAN_MESSAGE = "cached plan must not change result type"


def is_stale_plan(error: Exception) -> bool:
    return isinstance(error, errors.FeatureNotSupported) and STALE_PLAN_MESSAGE in str(error)


class StalePlanRetryingCursor(base.ServerBindingCursor):
    def execute(self, query, params=None, *, prepare=None, binary=None):
        if not self.connection.autocommit:
            # In a transaction (Django's atomic): a stale plan would abort it, with nothing to re-run.
            return super().execute(query, params, prepare=False, binary=binary)
        try:
            return super().execute(query, params, prepare=prepare, binary=binary)
        except errors.FeatureNotSupported as error:
            if not is_stale_plan(error) or self.connection.info.transaction_status != pq.TransactionStatus.IDLE:
                raise
        # The statement's own transaction was rolled back: it did nothing, so it may run again.
        self.connection.execute("DEALLOCATE ALL")
        return super().execute(query, params, prepare=prepare, binary=binary)


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self):
        params = super().get_connection_params()
        if params.get("cursor_factory") is base.ServerBindingCursor:
            params["cursor_factory"] = StalePlanRetryingCursor
        return params

    def is_usable(self) -> bool:
        if self.connection is None or self.connection.closed or self.connection.pgconn.status != pq.ConnStatus.OK:
            return False
        poller = select.poll()  # not select.select(): it refuses descriptors above 1023
        poller.register(self.connection.fileno(), select.POLLIN)
        return not poller.poll(0)
