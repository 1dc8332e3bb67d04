"""Settings as an operator sees them: start-up errors that name the environment variable,
and `slychat config`, the effective settings with every secret masked."""

from __future__ import annotations

import json
import re
import sys
from typing import Any
from urllib.parse import urlsplit

from pydantic import ByteSize, ValidationError
from pydantic_core import ErrorDetails
from pydantic_settings import SettingsError
from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

from slychat.config import durations
from slychat.config.settings import DURATIONS, Settings

PREFIX = "SLYCHAT_"
MASK = "***"
# Settings whose whole value is a secret (any `*_secret`, `*_token`, `*_password` too).
_SECRET_FIELDS = frozenset({"s3_access_key_id"})
_SECRET_NAME = re.compile(r"(secret|token|password|api_key)")
_SHOWN_INPUT_CHARS = 80
UNSET = "(unset)"
# The password of `scheme://user:password@host...`: up to the first `@` as SQLAlchemy reads
# a database URL, up to the last `@` before the path as urllib reads any other.
_DB_PASSWORD = re.compile(r"^([\w+]+://[^:/]*):[^@]*@")
_URL_PASSWORD = re.compile(r"^([a-zA-Z][\w+.-]*://[^:/?#]*):[^/?#]*@")


def env_name(field: str) -> str:
    return PREFIX + field.upper()


def is_secret(field: str) -> bool:
    return field in _SECRET_FIELDS or bool(_SECRET_NAME.search(field))


def load() -> Settings:
    """The settings from the environment; on a wrong value, says which and exits with
    status 2 (no traceback: it would print the values, secrets included)."""
    try:
        return Settings()
    except ValidationError as exc:
        print("slychat: invalid configuration", file=sys.stderr)
        for line in explain(exc):
            print(f"  {line}", file=sys.stderr)
        raise SystemExit(2) from None
    except SettingsError as exc:  # a value the environment source could not even decode
        print(f"slychat: invalid configuration: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def explain(exc: ValidationError) -> list[str]:
    """One line per problem, each starting with the environment variable it is about."""
    return [_explain_one(error) for error in exc.errors()]


def _explain_one(error: ErrorDetails) -> str:
    message = error["msg"].removeprefix("Value error, ")
    loc = error["loc"]
    if not loc:  # a check across settings: its message names them
        return message
    field = str(loc[0])
    if field not in Settings.model_fields:
        return f"{env_name(field)}: {message}"
    line = f"{env_name(field)}: {message}"
    value = error.get("input")
    if not is_secret(field) and isinstance(value, str | int | float) and error["type"] != "missing":
        shown = masked(field, value)
        if isinstance(shown, str) and len(shown) > _SHOWN_INPUT_CHARS:
            shown = shown[:_SHOWN_INPUT_CHARS] + "…"
        line += f" (got {shown!r})"
    return line


def masked(field: str, value: Any) -> Any:
    """`value` as it may be shown: secrets as `***` (None stays None: "not set"), and
    URLs with their password and query string as `***`."""
    if value is None:
        return None
    if is_secret(field):
        return MASK
    if isinstance(value, str) and "://" in value:
        return _mask_url(field, value)
    return value


def _mask_url(field: str, url: str) -> str:
    """`url` as written, but for its password, query string and fragment: `***` each.
    A database URL's password is found as SQLAlchemy finds it, any other as urllib does."""
    database = field == "database_url"
    try:
        has_password = (make_url(url) if database else urlsplit(url)).password is not None
    except (ArgumentError, ValueError):
        return MASK  # not a URL after all: show nothing of it
    shown = url
    if has_password:
        shown = (_DB_PASSWORD if database else _URL_PASSWORD).sub(rf"\1:{MASK}@", url, count=1)
    head, hashed, _ = shown.partition("#")
    head, question, _ = head.partition("?")
    shown = head + (f"?{MASK}" if question else "") + (f"#{MASK}" if hashed else "")
    # Whatever the URL's oddities, nothing of a password may remain.
    try:
        left = (make_url(shown) if database else urlsplit(shown)).password
    except (ArgumentError, ValueError):
        return MASK
    return shown if left in (None, MASK) else MASK


def as_text(field: str, value: Any) -> str:
    """A value as `slychat config` prints it: in the form its variable takes and the
    README's table uses (`30d`, `3MiB`, `on`, lists comma-separated), secrets as `***`."""
    value = masked(field, value)
    if value is None:
        return UNSET
    if isinstance(value, bool):
        return "on" if value else "off"
    if field in DURATIONS:
        return durations.text(value)
    if isinstance(value, ByteSize):
        return _size_text(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return str(value)


def _size_text(size: int) -> str:
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)


def effective(settings: Settings) -> list[dict[str, Any]]:
    """Every setting: its variable, its value (masked), and whether the environment set it."""
    values = settings.model_dump(mode="json")
    return [
        {
            "env": env_name(field),
            "value": masked(field, values[field]),
            "source": "environment" if field in settings.model_fields_set else "default",
        }
        for field in type(settings).model_fields
    ]


def print_settings(settings: Settings, *, as_json: bool = False) -> None:
    rows = effective(settings)
    derived = {"dev_mode": settings.dev_mode, "log_format": settings.log_renderer}
    if as_json:
        print(json.dumps({"settings": rows, "derived": derived}, indent=2))
        return
    width = max(len(row["env"]) for row in rows)
    for field, row in zip(type(settings).model_fields, rows, strict=True):
        value = as_text(field, getattr(settings, field))
        mark = "" if row["source"] == "default" else "  (set)"
        print(f"{row['env']:<{width}}  {value}{mark}")
    print(
        f"# dev mode: {'yes' if derived['dev_mode'] else 'no'}; log format: {derived['log_format']}"
    )
