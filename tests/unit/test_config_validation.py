"""A wrong setting stops every command at start with a message naming its environment
variable; `slychat config` shows the effective settings and no secret."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import pytest
from pydantic import ValidationError

from slychat.config import Settings
from slychat.config_report import MASK, explain, is_secret
from tests.support import ROOT, SECRET

PRIVATE_KEY = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----"

# (variables set, the variable the message must name)
BAD: list[tuple[dict[str, str], str]] = [
    ({"SLYCHAT_PORT": "70000"}, "SLYCHAT_PORT"),
    ({"SLYCHAT_PORT": "http"}, "SLYCHAT_PORT"),
    ({"SLYCHAT_HOST": " "}, "SLYCHAT_HOST"),
    ({"SLYCHAT_DATABASE_URL": "mysql://u@db/chat"}, "SLYCHAT_DATABASE_URL"),
    ({"SLYCHAT_DATABASE_URL": "chat.db"}, "SLYCHAT_DATABASE_URL"),
    ({"SLYCHAT_DB_POOL_SIZE": "0"}, "SLYCHAT_DB_POOL_SIZE"),
    ({"SLYCHAT_REDIS_URL": "http://127.0.0.1:6379"}, "SLYCHAT_REDIS_URL"),
    ({"SLYCHAT_REDIS_PREFIX": " "}, "SLYCHAT_REDIS_PREFIX"),
    ({"SLYCHAT_PUBLIC_URL": "chat.example.com"}, "SLYCHAT_PUBLIC_URL"),
    ({"SLYCHAT_PUBLIC_URL": "ftp://chat.example.com"}, "SLYCHAT_PUBLIC_URL"),
    ({"SLYCHAT_S3_ENDPOINT_URL": "localhost:9000"}, "SLYCHAT_S3_ENDPOINT_URL"),
    ({"SLYCHAT_S3_PUBLIC_URL": "//cdn.example.com"}, "SLYCHAT_S3_PUBLIC_URL"),
    ({"SLYCHAT_CORS_ORIGINS": "https://shop.example.com/app"}, "SLYCHAT_CORS_ORIGINS"),
    ({"SLYCHAT_CORS_ORIGINS": "shop.example.com"}, "SLYCHAT_CORS_ORIGINS"),
    ({"SLYCHAT_TRANSPORTS": "polling,carrier-pigeon"}, "SLYCHAT_TRANSPORTS"),
    ({"SLYCHAT_TRANSPORTS": ","}, "SLYCHAT_TRANSPORTS"),
    ({"SLYCHAT_LOG_LEVEL": "verbose"}, "SLYCHAT_LOG_LEVEL"),
    ({"SLYCHAT_LOG_FORMAT": "xml"}, "SLYCHAT_LOG_FORMAT"),
    ({"SLYCHAT_CLIENT_IP_HEADER": "X Real IP"}, "SLYCHAT_CLIENT_IP_HEADER"),
    ({"SLYCHAT_MEDIA_HOSTS": "https://cdn.example.com"}, "SLYCHAT_MEDIA_HOSTS"),
    ({"SLYCHAT_MEDIA_STORE": "ftp"}, "SLYCHAT_MEDIA_STORE"),
    ({"SLYCHAT_MEDIA_STORE": "s3"}, "SLYCHAT_S3_BUCKET"),
    ({"SLYCHAT_MAX_PACKET_BYTES": "huge"}, "SLYCHAT_MAX_PACKET_BYTES"),
    ({"SLYCHAT_SYNC_RETENTION": "forever"}, "SLYCHAT_SYNC_RETENTION"),
    ({"SLYCHAT_RATE_MESSAGES": "fast"}, "SLYCHAT_RATE_MESSAGES"),
    ({"SLYCHAT_RATE_LIMITS": "maybe"}, "SLYCHAT_RATE_LIMITS"),
    ({"SLYCHAT_CHAT_STARTERS": "admin"}, "SLYCHAT_CHAT_STARTERS"),
    ({"SLYCHAT_JWT_SECRET": "too-short-secret"}, "SLYCHAT_JWT_SECRET"),
    ({"SLYCHAT_JWT_ALGORITHMS": "HS257"}, "SLYCHAT_JWT_ALGORITHMS"),
    ({"SLYCHAT_JWT_ALGORITHMS": "none"}, "SLYCHAT_JWT_ALGORITHMS"),
    ({"SLYCHAT_JWT_ALGORITHMS": "RS256"}, "SLYCHAT_JWT_PUBLIC_KEY"),
    ({"SLYCHAT_JWT_PUBLIC_KEY": "not a key"}, "SLYCHAT_JWT_PUBLIC_KEY"),
    ({"SLYCHAT_JWT_PUBLIC_KEY": PRIVATE_KEY}, "SLYCHAT_JWT_PUBLIC_KEY"),
    ({"SLYCHAT_S3_ACCESS_KEY_ID": "AKIAEXAMPLE"}, "SLYCHAT_S3_SECRET_ACCESS_KEY"),
]
# What `slychat serve` is run with, for a representative set.
SERVED = [0, 3, 6, 9, 12, 14, 16, 27, 30]


def _ids(case: tuple[dict[str, str], str]) -> str:
    return "-".join(f"{k.removeprefix('SLYCHAT_')}={v[:12]}" for k, v in case[0].items())


@pytest.mark.parametrize(("env", "named"), BAD, ids=[_ids(c) for c in BAD])
def test_a_bad_value_is_refused_naming_its_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as refused:
        Settings()
    lines = explain(refused.value)
    assert any(named in line for line in lines), lines
    assert all(line.startswith("SLYCHAT_") for line in lines), lines


def test_every_problem_is_named_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLYCHAT_PORT", "-1")
    monkeypatch.setenv("SLYCHAT_LOG_LEVEL", "loud")
    with pytest.raises(ValidationError) as refused:
        Settings()
    shown = "\n".join(explain(refused.value))
    assert "SLYCHAT_PORT" in shown
    assert "SLYCHAT_LOG_LEVEL" in shown
    assert "'loud'" in shown  # a plain setting's value is shown, to find the typo


def test_a_refused_secret_is_not_repeated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLYCHAT_JWT_SECRET", "a-short-but-real-secret")
    monkeypatch.setenv("SLYCHAT_DATABASE_URL", "mysql://chat:db-password-77@db/chat")
    with pytest.raises(ValidationError) as refused:
        Settings()
    shown = "\n".join(explain(refused.value))
    assert "SLYCHAT_DATABASE_URL" in shown
    assert "a-short-but-real-secret" not in shown
    assert "db-password-77" not in shown


def test_good_values_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "SLYCHAT_DATABASE_URL": "postgres://chat:pw@db:5432/chat",
        "SLYCHAT_REDIS_URL": "rediss://:pw@cache:6380/1",
        "SLYCHAT_PUBLIC_URL": "https://chat.example.com",
        "SLYCHAT_CORS_ORIGINS": "https://shop.example.com/, http://localhost:3000",
        "SLYCHAT_TRANSPORTS": "websocket",
        "SLYCHAT_LOG_LEVEL": "DEBUG",
        "SLYCHAT_CLIENT_IP_HEADER": "X-Real-IP",
        "SLYCHAT_MEDIA_HOSTS": "cdn.example.com",
        "SLYCHAT_JWT_ALGORITHMS": "HS256,HS512",
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.cors_origins == ["https://shop.example.com", "http://localhost:3000"]
    assert settings.log_level == "debug"
    assert settings.log_renderer == "console"  # dev mode: no key configured
    monkeypatch.setenv("SLYCHAT_JWT_SECRET", SECRET)
    assert Settings().log_renderer == "json"
    monkeypatch.setenv("SLYCHAT_LOG_FORMAT", "console")
    assert Settings().log_renderer == "console"


def _slychat(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slychat", *args],
        env={"PATH": ""} | env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("case", SERVED, ids=[_ids(BAD[i]) for i in SERVED])
def test_serve_exits_at_once_naming_the_setting(case: int) -> None:
    env, named = BAD[case]
    started = time.monotonic()
    result = _slychat("serve", "--port", "0", env={"SLYCHAT_JWT_SECRET": SECRET} | env)
    assert result.returncode == 2, result.stderr
    assert time.monotonic() - started < 20
    assert named in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""  # nothing served, nothing printed


@pytest.mark.parametrize(
    "command", [["migrate"], ["config"], ["token", "--role", "vendor", "--id", "1"]]
)
def test_every_command_checks_the_settings(command: list[str]) -> None:
    result = _slychat(*command, env={"SLYCHAT_PORT": "99999"})
    assert result.returncode == 2
    assert "SLYCHAT_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def _secret_settings() -> dict[str, str]:
    """A distinct value for every secret setting (whichever exist), and URLs with
    passwords and query strings."""
    env = {
        f"SLYCHAT_{field.upper()}": f"{field}-value-{'x' * 32}"
        for field in Settings.model_fields
        if is_secret(field)
    }
    return env | {
        "SLYCHAT_DATABASE_URL": "postgresql://chat:db-password-xyz@db.internal:5432/chat",
        "SLYCHAT_REDIS_URL": "redis://:redis-password-xyz@cache:6379/0?password=query-pw-xyz",
        "SLYCHAT_PORT": "9123",
    }


def _hidden(env: dict[str, str]) -> list[str]:
    shown = ("SLYCHAT_DATABASE_URL", "SLYCHAT_REDIS_URL", "SLYCHAT_PORT")
    values = [v for k, v in env.items() if k not in shown]
    return [*values, "db-password-xyz", "redis-password-xyz", "query-pw-xyz"]


def test_config_prints_every_setting_with_secrets_masked() -> None:
    env = _secret_settings()
    result = _slychat("config", env=env)
    assert result.returncode == 0, result.stderr
    out = result.stdout + result.stderr
    for hidden in _hidden(env):
        assert hidden not in out, f"`slychat config` shows {hidden[:10]}…"
    for field in Settings.model_fields:
        assert f"SLYCHAT_{field.upper()}" in out
    assert f"{MASK}" in out
    assert "postgresql+asyncpg://chat:***@db.internal:5432/chat" in out


def test_config_json_names_each_variable_its_value_and_source() -> None:
    env = _secret_settings()
    result = _slychat("config", "--json", env=env)
    assert result.returncode == 0, result.stderr
    for hidden in _hidden(env):
        assert hidden not in result.stdout
    document: dict[str, Any] = json.loads(result.stdout)
    rows = {row["env"]: row for row in document["settings"]}
    assert set(rows) == {f"SLYCHAT_{f.upper()}" for f in Settings.model_fields}
    assert rows["SLYCHAT_PORT"] == {"env": "SLYCHAT_PORT", "value": 9123, "source": "environment"}
    assert rows["SLYCHAT_HOST"]["source"] == "default"
    assert rows["SLYCHAT_JWT_SECRET"]["value"] == MASK
    assert rows["SLYCHAT_REDIS_URL"]["value"] == "redis://:***@cache:6379/0?***"
    assert document["derived"] == {"dev_mode": False, "log_format": "json"}
