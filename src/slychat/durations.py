"""Human durations in settings and flags: `90`, `90s`, `15m`, `1h`, `30d`."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(text: str | float) -> float:
    if isinstance(text, int | float):
        return float(text)
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"bad duration {text!r}; use e.g. 90s, 15m, 1h, 30d")
    return float(match.group(1)) * _UNITS[match.group(2)]
