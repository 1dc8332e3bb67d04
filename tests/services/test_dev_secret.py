"""Where dev mode keeps its secret, and that it keeps one only in dev mode."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

from slychat.config.settings import Settings
from slychat.services import dev_secret
from tests.support import SECRET


def _sqlite(path: Path, **values: Any) -> Settings:
    return Settings(database_url=f"sqlite+aiosqlite:///{path}", **values)


def test_dev_mode_keeps_one_secret_beside_the_database(tmp_path: Path) -> None:
    settings = _sqlite(tmp_path / "chat.db")
    kept = tmp_path / "chat.db.dev-secret"
    assert dev_secret.path_for(settings) == kept
    assert dev_secret.read(settings) is None
    secret = dev_secret.kept(settings)
    assert secret is not None
    assert len(secret) >= 32
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert dev_secret.kept(settings) == dev_secret.read(settings) == secret
    assert [p.name for p in tmp_path.iterdir()] == ["chat.db.dev-secret"]  # nothing half-written


def test_a_file_that_holds_no_usable_secret_is_replaced(tmp_path: Path) -> None:
    settings = _sqlite(tmp_path / "chat.db")
    (tmp_path / "chat.db.dev-secret").write_text("short\n")
    assert dev_secret.read(settings) is None
    secret = dev_secret.kept(settings)
    assert secret is not None
    assert dev_secret.read(settings) == secret


def test_no_secret_is_kept_outside_dev_mode_or_without_a_database_file(tmp_path: Path) -> None:
    for settings in (
        _sqlite(tmp_path / "chat.db", jwt_secret=SECRET),
        Settings(database_url="sqlite+aiosqlite:///:memory:"),
        Settings(database_url="postgresql://chat@db.internal/chat"),
    ):
        assert dev_secret.path_for(settings) is None
        assert dev_secret.kept(settings) is None
    assert list(tmp_path.iterdir()) == []
