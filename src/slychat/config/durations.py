"""Human durations in settings and flags: `90`, `100ms`, `90s`, `15m`, `1h`, `30d`."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|[smhd]?)$")
_UNITS = {"": 1, "ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(text: str | float) -> float:
    if isinstance(text, int | float):
        return float(text)
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"bad duration {text!r}; use e.g. 100ms, 90s, 15m, 1h, 30d")
    return float(match.group(1)) * _UNITS[match.group(2)]


def text(value: float) -> str:
    """Seconds written back in the largest unit that holds them whole: `30d`, `90s`, `0.5s`
    (what `seconds` reads)."""
    for unit in ("d", "h", "m"):
        count = value / _UNITS[unit]
        if count >= 1 and count.is_integer():
            return f"{int(count)}{unit}"
    if 0 < value < 1 and (value * 1000).is_integer():
        return f"{int(value * 1000)}ms"
    return f"{int(value) if value.is_integer() else value}s"
