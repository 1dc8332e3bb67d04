"""Every log line through structlog: JSON lines in production, readable lines in dev mode.

slychat's modules and the libraries keep logging with `logging.getLogger(__name__)`; one
root handler renders their records with structlog's `ProcessorFormatter`, after the
redactions of `logs/redaction.py` (query strings, session ids, driver messages). uvicorn gets
the same configuration as its `log_config`, so that its worker processes (`serve
--workers`, started afresh) log the same way.
"""

from __future__ import annotations

import logging
import logging.config
import sys
from typing import Any

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from slychat.logs.context import CONTEXT_KEYS, SOCKET_ID, UNBOUND_TASK, socket_field
from slychat.logs.redaction import safe_traceback

# Names a setting may take, and the numbers logging uses (uvicorn's own `trace` is 5).
LEVELS = {"critical": 50, "error": 40, "warning": 30, "info": 20, "debug": 10, "trace": 5}
FORMATS = ("json", "console")
# The libraries that name connections by session id in their own lines: errors only,
# through `RedactSessionIds`.
_SESSION_LOGGERS = ("engineio.server", "socketio.server")
_FIRST = ("timestamp", "level", "logger", "event", *CONTEXT_KEYS)


def _safe_exception(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
    """`exc_info` -> an `exception` field holding the traceback that `safe_traceback`
    allows (driver, SQLAlchemy and Redis messages withheld)."""
    exc_info = event.pop("exc_info", None)
    if exc_info is True:
        exc_info = sys.exc_info()
    elif isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    if isinstance(exc_info, tuple) and exc_info[0] is not None:
        event["exception"] = safe_traceback(exc_info)
    return event


def _socket(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
    """The id of the connection whose event is being handled (`log_context.enter_socket`)."""
    if SOCKET_ID not in event:
        socket = socket_field()
        if socket is not None:
            event[SOCKET_ID] = socket
    return event


def _some_context(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
    """A line outside any request, socket or named task (uvicorn's start and stop)."""
    if not any(key in event for key in CONTEXT_KEYS):
        event["task"] = UNBOUND_TASK
    return event


def _request_fields(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
    """uvicorn's request lines as fields too (`method`, `path`, `status`), the path
    already without its query string (`RedactQueryStrings` ran on the record)."""
    args = event.pop("positional_args", None)
    record = event.get("_record")
    access = record is not None and record.name == "uvicorn.access"
    if access and isinstance(args, tuple) and len(args) == 5:
        # client, method, path, HTTP version, status
        event.update(method=args[1], path=args[2], status=args[4])
    return event


def _ordered(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
    """The fields every line has first, whatever else it carries after them."""
    first = {key: event.pop(key) for key in _FIRST if key in event}
    first.update(event)
    return first


def _shared_chain() -> list[Processor]:
    """What both slychat's structlog loggers and stdlib records go through first."""
    return [
        structlog.contextvars.merge_contextvars,
        _socket,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
    ]


def formatter(fmt: str = "json") -> logging.Formatter:
    """The root handler's formatter (named by `dict_config`, hence a factory)."""
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_shared_chain(), _request_fields],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _safe_exception,
            _some_context,
            _ordered,
            renderer,
        ],
        pass_foreign_args=True,
    )


def dict_config(level: str, fmt: str) -> dict[str, Any]:
    """A `logging.config.dictConfig` for the process (and uvicorn's `log_config`)."""
    number = LEVELS[level.lower()]
    # uvicorn's `trace` dumps every ASGI scope, headers and query strings included.
    server_level = max(number, logging.DEBUG)
    # uvicorn's loggers hand their records to the root handler, and own none.
    uvicorn = {"level": server_level, "handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "queries": {"()": "slychat.logs.redaction.RedactQueryStrings"},
            "sessions": {"()": "slychat.logs.redaction.RedactSessionIds"},
        },
        "formatters": {"structlog": {"()": "slychat.logs.setup.formatter", "fmt": fmt}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "structlog",
                "filters": ["queries"],
            }
        },
        "root": {"level": number, "handlers": ["stderr"]},
        "loggers": {
            "uvicorn": uvicorn,
            "uvicorn.error": uvicorn,
            "uvicorn.access": uvicorn,
            **{name: {"level": "ERROR", "filters": ["sessions"]} for name in _SESSION_LOGGERS},
        },
    }


def configure(level: str, fmt: str) -> None:
    """Log through structlog from now on, at `level`, as `fmt` (json or console)."""
    if level.lower() == "trace":
        logging.addLevelName(LEVELS["trace"], "TRACE")
    logging.config.dictConfig(dict_config(level, fmt))
    logging.captureWarnings(True)  # Python's warnings become log lines too
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_chain(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
