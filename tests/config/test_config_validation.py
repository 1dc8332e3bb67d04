"""A wrong setting stops every command at start with a message naming its environment
variable; `slychat config` shows the effective settings and no secret."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from typing import Any

import pytest
from pydantic import ValidationError

from slychat.config.report import MASK, explain, is_secret, masked, print_settings
from slychat.config.settings import Settings
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


def _printed(capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """`slychat config`'s lines for the environment as it is now: variable -> value."""
    print_settings(Settings())
    lines = capsys.readouterr().out.splitlines()
    rows = (line.removesuffix("  (set)").partition(" ") for line in lines if line[0] != "#")
    return {name: value.strip(" ") for name, _, value in rows}


def _readme_defaults() -> dict[str, str]:
    """README.md's configuration table: variable -> its default cell."""
    readme = (ROOT / "README.md").read_text()
    table = readme.split("\n## Configuration\n", 1)[1].split("\n### ", 1)[0]
    rows = (line.split(" | ") for line in table.splitlines() if line.startswith("| `SLYCHAT_"))
    return {name: row[1] for row in rows for name in re.findall(r"`(SLYCHAT_\w+)`", row[0])}


# README defaults in italics that say what the unset value means rather than show it.
_SHOWN_FOR_UNSET = {
    "SLYCHAT_MEDIA_HOSTS": "",  # an empty list: any host
    "SLYCHAT_CONTACT_ALLOWED_HOSTS": "",  # an empty list: no host
    "SLYCHAT_S3_PREFIX": "",
    "SLYCHAT_PUBLIC_URL": "http://127.0.0.1:8000",  # derived from host and port
}


def test_config_prints_each_default_as_the_readme_writes_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [n for n in os.environ if n.startswith("SLYCHAT_")]:
        monkeypatch.delenv(name)
    printed = _printed(capsys)
    readme = _readme_defaults()
    assert set(printed) == set(readme)  # the table lists every setting, and only those
    for name, cell in readme.items():
        if cell.startswith("*("):
            assert printed[name] == _SHOWN_FOR_UNSET.get(name, "(unset)"), name
        else:
            assert f"`{printed[name]}`" == cell, name


# Values unlike the defaults, in every form the settings take; secrets only where a
# setting needs one (they are masked, so they are given again when read back).
_ROUND_TRIP = {
    "SLYCHAT_HOST": "10.0.0.5",
    "SLYCHAT_PORT": "8443",
    "SLYCHAT_DATABASE_URL": "sqlite:////var/lib/slychat/chat.db",
    "SLYCHAT_DB_POOL_TIMEOUT": "2.5",
    "SLYCHAT_JWT_SECRET": SECRET,
    "SLYCHAT_JWT_ALGORITHMS": "HS256,HS512",
    "SLYCHAT_JWT_REQUIRE_EXP": "false",
    "SLYCHAT_JWT_MAX_LIFETIME": "7d",
    "SLYCHAT_REVOCATION_POLL": "90",
    "SLYCHAT_PRESENCE_TTL": "1.5m",
    "SLYCHAT_REDIS_URL": "unix:///run/redis/redis.sock",
    "SLYCHAT_TRANSPORTS": "websocket",
    "SLYCHAT_CORS_ORIGINS": "https://a.example, https://b.example",
    "SLYCHAT_RATE_LIMITS": "off",
    "SLYCHAT_RATE_HANDSHAKES_PER_IP": "30/m:60",
    "SLYCHAT_MAX_PACKET_BYTES": "128KiB",
    "SLYCHAT_LIST_BUDGET_BYTES": "1000",
    "SLYCHAT_MEDIA_MAX_IMAGE_BYTES": "500KB",
    "SLYCHAT_MEDIA_HOSTS": "cdn.example.com,img.example.net",
    "SLYCHAT_CONTACT_POLICY": "mask",
    "SLYCHAT_CONTACT_MASK": "[hidden]",
    "SLYCHAT_CONTACT_ALLOWED_HOSTS": "shop.example.com,example.org",
    "SLYCHAT_PUBLIC_URL": "https://chat.example.com/base",
    "SLYCHAT_DEMO": "1",
    "SLYCHAT_MEDIA_SWEEP_INTERVAL": "0",
    "SLYCHAT_SYNC_RETENTION": "36h",
    "SLYCHAT_PRESENCE_GRACE": "0.5",
    "SLYCHAT_CHAT_STARTERS": "customer,vendor",
    "SLYCHAT_LOG_FORMAT": "json",
    "SLYCHAT_WEBHOOK_URL": "https://hooks.example.com/slychat",
    "SLYCHAT_WEBHOOK_SECRET": "w" * 32,
    "SLYCHAT_WEBHOOK_RETRY_FOR": "48h",
}


@pytest.mark.parametrize("env", [{}, _ROUND_TRIP], ids=["defaults", "set"])
def test_each_printed_value_read_back_gives_the_same_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], env: dict[str, str]
) -> None:
    for name in [n for n in os.environ if n.startswith("SLYCHAT_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    expected = Settings().model_dump()
    printed = _printed(capsys)
    for name, value in printed.items():
        if value == "(unset)" or MASK in value:
            continue
        monkeypatch.setenv(name, value)
    assert Settings().model_dump() == expected
    assert _printed(capsys) == printed  # and prints the same again


@pytest.mark.parametrize(
    ("field", "url", "shown"),
    [
        ("database_url", "sqlite+aiosqlite:///./slychat.db", "sqlite+aiosqlite:///./slychat.db"),
        ("database_url", "sqlite+aiosqlite:///:memory:", "sqlite+aiosqlite:///:memory:"),
        (
            "database_url",
            "postgresql+asyncpg://chat:s3cr%40t@db:5432/chat?ssl=require",
            "postgresql+asyncpg://chat:***@db:5432/chat?***",
        ),
        # SQLAlchemy reads the password up to the first @, slashes and all.
        (
            "database_url",
            "postgresql+asyncpg://u:pa/ss?#@db/chat",
            "postgresql+asyncpg://u:***@db/chat",
        ),
        ("redis_url", "unix:///run/redis.sock?password=s3cret", "unix:///run/redis.sock?***"),
        ("redis_url", "rediss://user:s3cret@cache:6380/1", "rediss://user:***@cache:6380/1"),
        ("redis_url", "redis://a@b:s3cret@cache/0", "redis://a@b:***@cache/0"),
        (
            "webhook_url",
            "https://hooks.example.com/in?token=s3cret#x",
            "https://hooks.example.com/in?***#***",
        ),
        ("redis_url", "redis://[::1:6379", MASK),  # not a URL: nothing of it
    ],
)
def test_urls_are_shown_as_written_but_for_what_is_secret(field: str, url: str, shown: str) -> None:
    assert masked(field, url) == shown
