"""Dev mode's secret, kept in a file beside the SQLite database.

With no key configured the server signs tokens with a secret of its own. Kept in
`<database>.dev-secret` (mode 0600), it is the same at the next start, so tokens and open
demo tabs survive a restart, and `slychat token` can mint tokens that the running dev
server accepts. Only dev mode reads or writes the file; a database that is not a SQLite
file (PostgreSQL, `:memory:`) has no such place, and the secret lives in the process.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from sqlalchemy import make_url

from slychat.config.settings import Settings

log = logging.getLogger(__name__)

SUFFIX = ".dev-secret"
# As long as the production minimum (SLYCHAT_JWT_SECRET): anything shorter is not ours.
_MIN_CHARS = 32


def path_for(settings: Settings) -> Path | None:
    """Where dev mode keeps its secret for this database; None where it keeps none."""
    if not settings.dev_mode or not settings.is_sqlite:
        return None
    database = make_url(settings.database_url).database
    if not database or database == ":memory:":
        return None
    return Path(database + SUFFIX)


def read(settings: Settings) -> str | None:
    """The kept secret, if there is a usable one."""
    path = path_for(settings)
    if path is None:
        return None
    try:
        secret = path.read_text().strip()
    except FileNotFoundError:
        return None
    return secret if len(secret) >= _MIN_CHARS else None


def kept(settings: Settings) -> str | None:
    """The secret a dev-mode server signs with: the kept one, else a new one, kept. None
    where none can be kept (the token service then makes one up for this process)."""
    path = path_for(settings)
    if path is None:
        return None
    if (secret := read(settings)) is not None:
        return secret
    secret = secrets.token_urlsafe(32)
    # Written whole under another name, then renamed: a reader never sees half a secret.
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    try:
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secret + "\n")
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        log.warning("cannot keep the dev-mode secret in %s (%s): it lasts this process", path, exc)
        return None
    return secret
