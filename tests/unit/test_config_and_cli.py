"""Settings and the command line, without a server."""

from __future__ import annotations

import subprocess
import sys

import jwt
import pytest

from slychat.config import Settings, normalize_database_url
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
    settings = Settings()
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.sync_retention == 12 * 3600
    assert settings.presence_ttl == 45
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
def test_token_command_mints_with_the_configured_secret(shape: str, expected: dict) -> None:
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


def test_token_command_without_a_secret_explains_why() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "slychat", "token", "--role", "customer", "--id", "1"],
        env={"PATH": ""},
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "SLYCHAT_JWT_SECRET" in result.stderr
