"""Settings as an operator sees them: start-up errors that name the environment variable,
and `slychat config`, the effective settings with every secret masked."""

from __future__ import annotations

import json
import re
import sys
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from pydantic_settings import SettingsError

from slychat.config import Settings

PREFIX = "SLYCHAT_"
MASK = "***"
# Settings whose whole value is a secret (any `*_secret`, `*_token`, `*_password` too).
_SECRET_FIELDS = frozenset({"s3_access_key_id"})
_SECRET_NAME = re.compile(r"(secret|token|password|api_key)")
_SHOWN_INPUT_CHARS = 80


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
    URLs without their password or query string."""
    if value is None:
        return None
    if is_secret(field):
        return MASK
    if isinstance(value, str) and "://" in value:
        return _mask_url(value)
    return value


def _mask_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            user, _, host = netloc.rpartition("@")
            netloc = f"{user.split(':', 1)[0]}:{MASK}@{host}"
        query = MASK if parts.query else ""
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return MASK  # not a URL after all: show nothing of it


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


def _as_text(value: Any) -> str:
    """A value as it would be written in the environment (lists comma-separated)."""
    if value is None:
        return "(unset)"
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return value if isinstance(value, str) else json.dumps(value)


def print_settings(settings: Settings, *, as_json: bool = False) -> None:
    rows = effective(settings)
    derived = {"dev_mode": settings.dev_mode, "log_format": settings.log_renderer}
    if as_json:
        print(json.dumps({"settings": rows, "derived": derived}, indent=2))
        return
    width = max(len(row["env"]) for row in rows)
    for row in rows:
        value = _as_text(row["value"])
        mark = "" if row["source"] == "default" else "  (set)"
        print(f"{row['env']:<{width}}  {value}{mark}")
    print(
        f"# dev mode: {'yes' if derived['dev_mode'] else 'no'}; log format: {derived['log_format']}"
    )
