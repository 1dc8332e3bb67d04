"""The log line formats (JSON and console) and the check every test server's log passes."""

from __future__ import annotations

import io
import json
import logging
import re
import secrets
import sys
from typing import Any

import pytest
from structlog.contextvars import bound_contextvars

from slychat.logs.context import enter_socket, leave_socket, socket_id, start_task
from slychat.logs.redaction import RedactQueryStrings
from slychat.logs.setup import formatter
from tests.log_check import line_problem
from tests.support import SECRET, token


def _render(record: logging.LogRecord, fmt: str = "json") -> str:
    """`record` as the process's one handler writes it (filters, then the formatter)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter(fmt))
    handler.addFilter(RedactQueryStrings())
    handler.handle(record)
    return stream.getvalue()


def _record(name: str, msg: str, *args: Any, exc_info: Any = None) -> logging.LogRecord:
    return logging.LogRecord(name, logging.INFO, __file__, 1, msg, args, exc_info)


def test_a_json_line_says_when_what_where_and_for_which_socket() -> None:
    with bound_contextvars(socket="0a1b2c3d4e5f"):
        line = _render(_record("slychat.sockets.chat", "stored %d messages", 3))
    assert line.endswith("\n")
    assert line.count("\n") == 1
    record = json.loads(line)
    assert list(record)[:4] == ["timestamp", "level", "logger", "event"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", record["timestamp"])
    assert record["level"] == "info"
    assert record["logger"] == "slychat.sockets.chat"
    assert record["event"] == "stored 3 messages"
    assert record["socket"] == "0a1b2c3d4e5f"
    assert "task" not in record
    assert line_problem(line.strip()) is None


def test_a_line_outside_any_request_names_a_task() -> None:
    assert json.loads(_render(_record("uvicorn.error", "Started")))["task"] == "server"
    with bound_contextvars(task="media_sweep"):
        assert json.loads(_render(_record("slychat.app", "swept")))["task"] == "media_sweep"


def test_a_request_line_loses_its_query_string_as_text_and_as_fields() -> None:
    args = ("127.0.0.1:5", "GET", "/socket.io/?EIO=4&sid=abc&token=xyz", "1.1", 200)
    with bound_contextvars(request_id="r-1"):
        record = json.loads(_render(_record("uvicorn.access", '%s - "%s %s HTTP/%s" %d', *args)))
    assert record["event"] == '127.0.0.1:5 - "GET /socket.io/?[redacted] HTTP/1.1" 200'
    assert (record["method"], record["path"], record["status"]) == (
        "GET",
        "/socket.io/?[redacted]",
        200,
    )
    assert record["request_id"] == "r-1"


WROTE = f"what-a-user-wrote-{secrets.token_hex(4)}"


def _failure() -> Any:
    from sqlalchemy.exc import IntegrityError

    detail = f"DETAIL: (text)=({WROTE})"  # (a traceback shows the source line)
    try:
        raise IntegrityError("INSERT", {}, ValueError(detail))
    except IntegrityError:
        return sys.exc_info()


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_an_exception_is_shown_without_the_values_a_driver_quotes(fmt: str) -> None:
    line = _render(_record("slychat.app", "handler failed", exc_info=_failure()), fmt)
    assert WROTE not in line
    assert "IntegrityError" in line
    if fmt == "json":
        record = json.loads(line)
        assert record["event"] == "handler failed"
        assert record["exception"].startswith("Traceback (most recent call last)")
        assert "message withheld" in record["exception"]
    else:
        assert "handler failed" in line
        assert "Traceback (most recent call last)" in line


def test_console_lines_are_readable() -> None:
    with bound_contextvars(request_id="abc"):
        line = _render(_record("slychat.app", "hello"), "console")
    assert "[info" in line
    assert "hello" in line
    assert "request_id=abc" in line
    assert line_problem(line.strip()) == "is not JSON"


def test_socket_ids_are_stable_short_and_tell_nothing_of_the_session_id() -> None:
    sid = "ViEarLZsb_770SAdAAAA"
    assert socket_id(sid) == socket_id(sid)
    assert socket_id(sid) != socket_id("ViEarLZsb_770SAdAAAB")
    assert re.fullmatch(r"[0-9a-f]{12}", socket_id(sid))
    token = enter_socket(sid)
    try:
        line = _render(_record("slychat.sockets.chat", "handler failed"))
    finally:
        leave_socket(token)
    assert json.loads(line)["socket"] == socket_id(sid)
    assert sid not in line
    assert "socket" not in json.loads(_render(_record("slychat.sockets.chat", "after")))


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("INFO: Started server process", "is not JSON"),
        ("[1, 2]", "is not a JSON object"),
        ('{"level": "info", "logger": "x", "event": "e", "task": "t"}', "has no timestamp"),
        ('{"timestamp": "t", "level": "info", "logger": "x", "event": "e"}', "says neither"),
        (json.dumps({"event": token("customer", 1)}), "holds a JWT"),
        (json.dumps({"event": f"secret {SECRET}"}), "holds the test secret"),
        (json.dumps({"event": "key slyk_0123456789"}), "holds an API key"),
    ],
)
def test_the_session_log_check_refuses_bad_lines(line: str, problem: str) -> None:
    found = line_problem(line)
    assert found is not None
    assert found.startswith(problem), found


async def test_a_detached_task_says_its_name_not_who_started_it() -> None:
    async def work() -> str:
        return _render(_record("slychat.storage.group_commit", "a batch failed"))

    token = enter_socket("ViEarLZsb_770SAdAAAA")
    try:
        with bound_contextvars(request_id="r-2"):
            line = json.loads(await start_task("group_commit", work()))
    finally:
        leave_socket(token)
    assert line["task"] == "group_commit"
    assert "socket" not in line
    assert "request_id" not in line


def test_a_logged_traceback_lets_go_of_what_its_frames_held() -> None:
    """An exception that stays referenced after it is logged (a future's result, a pool's
    last error) must not keep its frames' locals alive: a node logging an outage's errors
    grew by megabytes per run when it did."""
    import gc
    import weakref

    from slychat.logs.redaction import safe_traceback

    class Buffer:
        pass

    held: list[weakref.ref[Buffer]] = []

    def fails(buffer: Buffer) -> None:
        held.append(weakref.ref(buffer))  # (reading f_locals would pin them)
        raise ConnectionRefusedError("the database is away")

    def outer() -> None:
        buffer = Buffer()
        try:
            fails(buffer)
        except ConnectionRefusedError as exc:
            raise RuntimeError("the send failed") from exc

    try:
        outer()
    except RuntimeError as exc:
        kept = exc  # stays referenced, as a future's result would
        text = safe_traceback((type(exc), exc, exc.__traceback__))
    assert "the send failed" in text
    gc.collect()
    assert kept.__cause__ is not None
    assert held[0]() is None, "a logged exception kept its frames' locals"
