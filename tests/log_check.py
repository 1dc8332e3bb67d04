"""What the logs of production-mode test servers must be: JSON lines, each saying what it
belongs to, none holding a token, the test secret or an API key."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.support import SECRET

CONTEXT_KEYS = ("request_id", "socket", "task")
FORBIDDEN = {
    "a JWT": re.compile(r"eyJ[A-Za-z0-9_-]+\.eyJ"),
    "the test secret": re.compile(re.escape(SECRET)),
    "an API key": re.compile(r"slyk_"),
}


def line_problem(line: str) -> str | None:
    """Why `line` may not stand in a production log, if it may not."""
    for what, pattern in FORBIDDEN.items():
        if pattern.search(line):
            return f"holds {what}"
    try:
        record = json.loads(line)
    except ValueError:
        return "is not JSON"
    if not isinstance(record, dict):
        return "is not a JSON object"
    missing = [key for key in ("timestamp", "level", "logger", "event") if key not in record]
    if missing:
        return f"has no {', '.join(missing)}"
    if not any(record.get(key) for key in CONTEXT_KEYS):
        return "says neither its request, its socket nor its task"
    return None


def problems(log_dir: Path) -> list[str]:
    """Every bad line of every production server log in `log_dir` (dev-mode servers'
    logs are `dev-server-*.log`, readable lines with a banner of tokens by design)."""
    found = []
    for path in sorted(log_dir.glob("server-*.log")):
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            problem = line_problem(line)
            if problem is not None:
                # Never the line itself: it may be the very secret being reported.
                found.append(f"{path.name}:{number} {problem}")
    return found
