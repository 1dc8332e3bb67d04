"""Schema migrations (Alembic): the only way the schema is created or changed."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "head") -> tuple[str | None, str | None]:
    """Migrate to `revision`; the revisions before and after (None: no schema)."""
    config = alembic_config(database_url)
    command.upgrade(config, revision)
    before, after = config.attributes["revisions"]
    return before, after


def head_revisions(database_url: str) -> frozenset[str]:
    """The revisions the migration scripts lead to (reads the scripts: blocking)."""
    return frozenset(ScriptDirectory.from_config(alembic_config(database_url)).get_heads())


def current_revisions(conn: Connection) -> frozenset[str]:
    """The revisions the database is at; none before its first migration. Read on every
    /readyz: Alembic's two info lines of a new migration context ("Context impl ...",
    "Will assume ... DDL") are held back, they would repeat on each call."""
    runtime = logging.getLogger("alembic.runtime.migration")
    level = runtime.level
    runtime.setLevel(logging.WARNING)
    try:
        return frozenset(MigrationContext.configure(conn).get_current_heads())
    finally:
        runtime.setLevel(level)
