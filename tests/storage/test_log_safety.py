"""A database error about a row that holds message text, raised by the real engines: what
slychat's log lines and tracebacks show of it holds none of that text."""

from __future__ import annotations

import json
import logging
import secrets
import sys

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from slychat.logs.redaction import RedactQueryStrings, SafeFormatter, describe
from slychat.logs.setup import formatter
from slychat.storage.database import Database


async def _failing_write(db: Database, secret: str) -> BaseException:
    """An insert whose row (with `secret` in it) breaks a constraint."""

    async def create(conn: AsyncConnection) -> None:
        await conn.execute(text("CREATE TABLE guarded (body TEXT CHECK (length(body) < 5))"))

    async def insert(conn: AsyncConnection) -> None:
        await conn.execute(text("INSERT INTO guarded (body) VALUES (:body)"), {"body": secret})

    await db.write(create)
    with pytest.raises(IntegrityError) as caught:
        await db.write(insert)
    return caught.value


async def test_driver_errors_are_logged_without_the_values_they_quote(db: Database) -> None:
    secret = f"message-text-{secrets.token_hex(8)}"
    exc = await _failing_write(db, secret)
    assert "[parameters:" not in str(exc)  # hide_parameters on the engine
    assert secret not in describe(exc)
    assert "IntegrityError" in describe(exc)

    try:
        raise RuntimeError("the handler failed") from exc
    except RuntimeError:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    if not db.is_sqlite:  # asyncpg's DETAIL quotes the failing row: the risk is real
        assert secret in logging.Formatter("%(message)s").format(record)
    shown = SafeFormatter("%(message)s").format(record)
    assert "RuntimeError: the handler failed" in shown  # other messages stay
    assert "IntegrityError" in shown
    assert secret not in shown
    # the production line: JSON, with the same traceback as its `exception` field
    line = formatter("json").format(record)
    assert secret not in line
    assert "RuntimeError: the handler failed" in json.loads(line)["exception"]


def test_request_lines_lose_their_query_string() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/socket.io/?EIO=4&sid=abc&token=xyz", "1.1", 200),
        None,
    )
    assert RedactQueryStrings().filter(record)
    assert record.getMessage() == '127.0.0.1:5 - "GET /socket.io/?[redacted] HTTP/1.1" 200'
