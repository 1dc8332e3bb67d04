"""Which failures mean "the database is not there right now".

Each of them is answered with 503 and `retryAfter` (never a 500 and a traceback), counted
in the database's `Outage` (one log line at its start and one at its end), and retried
where a retry may help. Anything else is a bug or a bad statement and stays an error.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import asyncpg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import InterfaceError as SqlAlchemyInterfaceError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# PostgreSQL SQLSTATEs of a database that refuses work for now:
UNAVAILABLE_SQLSTATES = frozenset(
    {
        "55000",  # object_not_in_prerequisite_state: "database does not allow connections"
        "55P03",  # lock_not_available: a lock held past lock_timeout
        "53300",  # too_many_connections
        "53400",  # configuration_limit_exceeded
        "57P01",  # admin_shutdown (pg_terminate_backend, a fast shutdown)
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now (starting up, shutting down, recovery)
    }
)
# Worth retrying at once: the next attempt usually succeeds.
_SHUTDOWN_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})
RETRY_SQLSTATES = frozenset({"40001", "40P01", *_SHUTDOWN_SQLSTATES})


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, the driver error SQLAlchemy wrapped, and their causes."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [getattr(e, "orig", None), e.__cause__, e.__context__]


def sqlstate(exc: BaseException) -> str | None:
    for e in _chain(exc):
        state = getattr(e, "sqlstate", None) or getattr(e, "pgcode", None)
        if isinstance(state, str):
            return state
    return None


def is_locked(exc: BaseException) -> bool:
    """SQLite: another process holds the write lock."""
    return any(
        isinstance(e, sqlite3.OperationalError)
        and ("database is locked" in str(e) or "database is busy" in str(e))
        for e in _chain(exc)
    )


def is_lock_timeout(exc: BaseException) -> bool:
    """PostgreSQL: a lock was held longer than lock_timeout (retrying would wait again)."""
    return sqlstate(exc) == "55P03"


def is_disconnect(exc: BaseException) -> bool:
    """The connection itself is gone or cannot be made (PostgreSQL restarted, refused,
    the link dropped): a pooled connection that saw this is discarded."""
    for e in _chain(exc):
        if isinstance(e, DBAPIError) and e.connection_invalidated:
            return True
        state = getattr(e, "sqlstate", None)
        if isinstance(state, str) and (state.startswith("08") or state in _SHUTDOWN_SQLSTATES):
            return True
        if isinstance(
            e,
            asyncpg.PostgresConnectionError
            | asyncpg.InterfaceError
            # The protocol's state went wrong under it (its backend ended mid-commit):
            # the connection is no use any more.
            | asyncpg.InternalClientError
            | SqlAlchemyInterfaceError,
        ):
            return True
        if isinstance(e, OSError):  # refused, reset, unreachable
            return True
    return False


def is_unavailable(exc: BaseException) -> bool:
    """Any state in which the database cannot do the work now but may soon."""
    if is_disconnect(exc) or is_locked(exc):
        return True
    state = sqlstate(exc)
    if state is not None and (state in UNAVAILABLE_SQLSTATES or state.startswith("08")):
        return True
    # No pooled connection came within the pool's timeout: every one is stuck.
    return any(isinstance(e, PoolTimeout | TimeoutError) for e in _chain(exc))


def from_driver(exc: BaseException) -> bool:
    """Whether `exc` came from the database's driver or pool (and not, say, from a file
    written inside a read's block)."""
    kinds = (
        DBAPIError,
        PoolTimeout,
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        asyncpg.InternalClientError,
        sqlite3.Error,
    )
    return any(isinstance(e, kinds) for e in _chain(exc))


def is_retryable(exc: BaseException) -> bool:
    """Worth a retry of the whole transaction (a lock timeout is not: it waited already)."""
    if is_lock_timeout(exc):
        return False
    state = sqlstate(exc)
    return (state is not None and state in RETRY_SQLSTATES) or is_unavailable(exc)
