"""Logging that never carries secrets or what users wrote.

- Request lines (uvicorn's access log, and its websocket lines) keep their path and lose
  their query string: Socket.IO puts the engine.io session id there (`sid=`, which lets
  anyone holding it read and write that connection), and clients may put their token.
- Errors of the database drivers, SQLAlchemy and Redis are shown as their kind only,
  in slychat's own lines (`describe`) and in tracebacks (`SafeFormatter`): their messages
  may quote the values of a statement (a PostgreSQL DETAIL shows the failing row, message
  text included; a Redis pipeline error quotes the command, payload included).
- Session ids are masked in python-engineio's and python-socketio's own lines.

`logs/setup.py` puts these filters and tracebacks on the process's one log handler.
"""

from __future__ import annotations

import logging
import re
import traceback
from types import TracebackType

# Modules whose exception messages may quote statement values or command payloads.
_WITHHELD_MODULES = ("asyncpg", "sqlalchemy", "redis")

# engine.io and Socket.IO session ids: 20 characters of base64url.
_SESSION_ID = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{20}(?![A-Za-z0-9_-])")

_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


def describe(exc: BaseException) -> str:
    """An exception as a log line may show it."""
    kind = type(exc).__name__
    if not _withheld(type(exc)):
        return f"{kind}: {exc}"
    state = getattr(exc, "sqlstate", None) or getattr(getattr(exc, "orig", None), "sqlstate", None)
    orig = getattr(exc, "orig", None)
    if orig is not None:  # SQLAlchemy's wrapper: name the driver's error too
        kind = f"{kind} ({type(orig).__name__})"
    return f"{kind} [SQLSTATE {state}]" if isinstance(state, str) else kind


def _withheld(kind: type[BaseException]) -> bool:
    return kind.__module__.split(".")[0] in _WITHHELD_MODULES


def _without_query(value: object) -> object:
    if isinstance(value, str) and value.startswith("/") and "?" in value:
        return value.split("?", 1)[0] + "?[redacted]"
    return value


class RedactQueryStrings(logging.Filter):
    """Request paths in log records keep no query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(_without_query(arg) for arg in record.args)
        return True


class RedactSessionIds(logging.Filter):
    """python-engineio and python-socketio write session ids into their lines ("Invalid
    session ..."); whoever holds a long-polling session id may act on that connection."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _SESSION_ID.sub("[sid]", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class SafeFormatter(logging.Formatter):
    """Tracebacks with the messages of driver, SQLAlchemy and Redis errors withheld."""

    def format(self, record: logging.LogRecord) -> str:
        record.exc_text = None  # another formatter may have cached its own traceback
        return super().format(record)

    def formatException(self, ei: _ExcInfo) -> str:
        return safe_traceback(ei)


def safe_traceback(ei: _ExcInfo) -> str:
    """A traceback with the messages of driver, SQLAlchemy and Redis errors withheld."""
    kind, value, tb = ei
    if kind is None or value is None:
        return ""
    te = traceback.TracebackException(kind, value, tb)
    _withhold(te, set())
    _clear_frames(value, set())
    return "".join(te.format()).rstrip("\n")


def _clear_frames(exc: BaseException, seen: set[int]) -> None:
    """Drop the local variables of the finished frames of `exc` and of the exceptions it
    links to, once its traceback is text: an exception that stays referenced (a future's
    result, a pool's last error, a `__context__` chain) otherwise keeps every frame's
    locals alive, connections and buffers included. Frames still running are left
    alone (`traceback.clear_frames` skips them)."""
    if id(exc) in seen:
        return
    seen.add(id(exc))
    traceback.clear_frames(exc.__traceback__)
    for linked in (exc.__cause__, exc.__context__, *(getattr(exc, "exceptions", None) or ())):
        if isinstance(linked, BaseException):
            _clear_frames(linked, seen)


def _withhold(te: traceback.TracebackException, seen: set[int]) -> None:
    if id(te) in seen:
        return
    seen.add(id(te))
    if te.exc_type is not None and _withheld(te.exc_type):
        # `_str` is what `format` prints after the type; the one way to change it.
        te._str = "(message withheld: it may quote stored values)"  # type: ignore[attr-defined]
    for linked in (te.__cause__, te.__context__, *(getattr(te, "exceptions", None) or ())):
        if linked is not None:
            _withhold(linked, seen)
