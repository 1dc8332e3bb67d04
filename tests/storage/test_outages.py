"""Which failures mean "the database is not there right now" (503), and which do not."""

from __future__ import annotations

import sqlite3

import asyncpg
import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError

from slychat.storage import outages


def wrapped(orig: BaseException) -> DBAPIError:
    """As SQLAlchemy raises a driver's error."""
    return DBAPIError("statement", {}, orig)


@pytest.mark.parametrize(
    "exc",
    [
        asyncpg.ObjectNotInPrerequisiteStateError('database "x" is not currently accepting'),
        asyncpg.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.LockNotAvailableError("canceling statement due to lock timeout"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.InternalClientError("cannot switch to state 15"),
        ConnectionRefusedError(111, "Connection refused"),
        ConnectionResetError(104, "Connection reset by peer"),
        sqlite3.OperationalError("database is locked"),
        TimeoutError(),
    ],
)
def test_the_database_not_being_there_is_unavailable(exc: BaseException) -> None:
    assert outages.is_unavailable(exc)
    assert outages.is_unavailable(wrapped(exc))


@pytest.mark.parametrize(
    "exc",
    [
        asyncpg.UniqueViolationError("duplicate key"),
        asyncpg.UndefinedTableError('relation "messages" does not exist'),
        sqlite3.OperationalError("no such table: messages"),
        ValueError("a bug"),
    ],
)
def test_other_errors_stay_errors(exc: BaseException) -> None:
    assert not outages.is_unavailable(exc)
    assert not outages.is_unavailable(wrapped(exc))
    assert not outages.is_retryable(exc)


def test_a_lock_timeout_is_not_retried_it_waited_already() -> None:
    exc = wrapped(asyncpg.LockNotAvailableError("lock timeout"))
    assert outages.is_unavailable(exc)
    assert not outages.is_retryable(exc)
    assert outages.is_retryable(wrapped(asyncpg.SerializationError("could not serialize")))
    assert outages.is_retryable(wrapped(asyncpg.AdminShutdownError("terminating")))


def test_an_integrity_error_is_not_an_outage() -> None:
    assert not outages.is_unavailable(IntegrityError("insert", {}, Exception("dup")))
