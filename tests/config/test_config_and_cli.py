"""Settings and the command line, without a server."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jwt
import pytest

from slychat.cli.main import public_url_note
from slychat.config import durations
from slychat.config.settings import Settings, normalize_database_url
from tests.support import ROOT, SECRET


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgresql://u:p@db:5432/chat", "postgresql+asyncpg://u:p@db:5432/chat"),
        ("postgres://u@db/chat", "postgresql+asyncpg://u@db/chat"),
        ("sqlite:///./x.db", "sqlite+aiosqlite:///./x.db"),
        ("postgresql+asyncpg://u@db/chat", "postgresql+asyncpg://u@db/chat"),
    ],
)
def test_plain_database_urls_map_to_the_async_drivers(given: str, used: str) -> None:
    assert normalize_database_url(given) == used


def test_settings_read_lists_and_durations_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLYCHAT_CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("SLYCHAT_SYNC_RETENTION", "12h")
    monkeypatch.setenv("SLYCHAT_PRESENCE_TTL", "45s")
    monkeypatch.setenv("SLYCHAT_REDIS_TIMEOUT", "250ms")
    settings = Settings()
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.sync_retention == 12 * 3600
    assert settings.presence_ttl == 45
    assert settings.redis_timeout == 0.25
    assert durations.text(0.25) == "250ms"
    assert durations.seconds("250ms") == 0.25
    assert settings.dev_mode


def test_media_settings_take_sizes_and_durations(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLYCHAT_MEDIA_MAX_IMAGE_BYTES", "5MiB")
    monkeypatch.setenv("SLYCHAT_MEDIA_MAX_PDF_BYTES", "1000")
    monkeypatch.setenv("SLYCHAT_MEDIA_SWEEP_GRACE", "15m")
    monkeypatch.setenv("SLYCHAT_CHAT_STARTERS", "customer, vendor")
    settings = Settings()
    assert settings.media_max_image_bytes == 5 * 1024 * 1024
    assert settings.media_max_pdf_bytes == 1000
    assert settings.media_max_video_bytes == 50 * 1024 * 1024
    assert settings.media_sweep_grace == 900
    assert settings.chat_starters == ["customer", "vendor"]
    assert Settings(_env_file=None).media_max_files == 3


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("SLYCHAT_MEDIA_STORE", "ftp", "media_store"),
        ("SLYCHAT_MEDIA_MAX_IMAGE_BYTES", "lots", "media_max_image_bytes"),
        ("SLYCHAT_CHAT_STARTERS", "admin", "chat_starters"),
    ],
)
def test_bad_media_and_chat_settings_are_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, named: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=named):
        Settings()


def test_the_s3_store_needs_a_bucket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLYCHAT_MEDIA_STORE", "s3")
    with pytest.raises(ValueError, match="SLYCHAT_S3_BUCKET"):
        Settings()


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ("platform", {"data": {"id": 42}, "types": ["vendor"]}),
        ("standard", {"sub": "42", "role": "vendor"}),
    ],
)
def test_token_command_mints_with_the_configured_secret(
    shape: str, expected: dict[str, Any]
) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "slychat",
            "token",
            "--role",
            "vendor",
            "--id",
            "42",
            "--ttl",
            "15m",
            "--shape",
            shape,
        ],
        env={"SLYCHAT_JWT_SECRET": SECRET, "PATH": ""},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    claims = jwt.decode(out, SECRET, algorithms=["HS256"], options={"verify_sub": False})
    assert {k: claims[k] for k in expected} == expected
    assert claims["exp"] - claims["iat"] == 15 * 60


def test_token_command_without_a_secret_explains_why(tmp_path: Path) -> None:
    # A database no dev server has run on: no kept secret to mint with either.
    result = subprocess.run(
        [sys.executable, "-m", "slychat", "token", "--role", "customer", "--id", "1"],
        env={"PATH": "", "SLYCHAT_DATABASE_URL": f"sqlite:///{tmp_path / 'new.db'}"},
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "SLYCHAT_JWT_SECRET" in result.stderr
    # ... and where a dev server on that database would keep the secret it could use.
    assert f"{tmp_path / 'new.db'}.dev-secret" in result.stderr
    assert "make run" in result.stderr


@pytest.mark.parametrize(
    ("host", "port", "url"),
    [
        ("127.0.0.1", "8001", "http://127.0.0.1:8001"),
        ("chat.internal", "8000", "http://chat.internal:8000"),
        ("::1", "9000", "http://[::1]:9000"),
        # A wildcard bind is no address for a browser: this machine's loopback is.
        ("0.0.0.0", "80", "http://127.0.0.1:80"),
        ("::", "8000", "http://[::1]:8000"),
    ],
)
def test_the_public_url_follows_host_and_port_unless_set(
    monkeypatch: pytest.MonkeyPatch, host: str, port: str, url: str
) -> None:
    monkeypatch.setenv("SLYCHAT_HOST", host)
    monkeypatch.setenv("SLYCHAT_PORT", port)
    derived = Settings()
    assert derived.public_url == url
    assert "public_url" not in derived.model_fields_set  # `slychat config`: a default
    assert (public_url_note(derived) is not None) == (host in ("0.0.0.0", "::"))
    monkeypatch.setenv("SLYCHAT_PUBLIC_URL", "https://chat.example.com")
    assert Settings().public_url == "https://chat.example.com"
    assert public_url_note(Settings()) is None


COMMANDS = ["serve", "migrate", "config", "token", "revoke", "apikey"]


def test_help_lists_every_command_with_one_line_of_help() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "slychat", "--help"],
        env={"PATH": "", "COLUMNS": "80"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    block = shown.split("positional arguments:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert block[0].strip() == "{" + ",".join(COMMANDS) + "}"
    listed = [re.fullmatch(r" {4}(\w+) +(\S.*)", line) for line in block[1:]]
    assert all(listed), block  # no line is the rest of a wrapped one
    assert [m[1] for m in listed if m] == COMMANDS


def test_the_readme_command_table_is_one_table_naming_every_command() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Command line\n", 1)[1].split("\n## ", 1)[0]
    table = section.strip().split("\n\n", 1)[0].splitlines()
    assert all(line.startswith("|") for line in table), table
    named = {m for line in table for m in re.findall(r"`slychat (\w+)", line)}
    assert named == set(COMMANDS)
