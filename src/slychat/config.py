"""Settings, read once from the environment (``SLYCHAT_*``) and passed down."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from slychat import durations

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./slychat.db"


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def normalize_database_url(url: str) -> str:
    """Map plain driver-less URLs onto the async drivers slychat runs on."""
    for plain, async_url in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return async_url + url[len(plain) :]
    return url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SLYCHAT_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    database_url: str = DEFAULT_DATABASE_URL
    db_pool_size: int = Field(default=10, ge=1)
    db_pool_timeout: float = Field(default=30.0, gt=0)
    db_retries: int = Field(default=3, ge=0, le=10)

    jwt_secret: str | None = None
    jwt_algorithms: Annotated[list[str], NoDecode] = ["HS256"]
    jwt_public_key: str | None = None

    redis_url: str | None = None
    redis_prefix: str = "slychat"
    presence_ttl: float = Field(default=30.0, ge=2)
    transports: Annotated[list[str], NoDecode] = ["polling", "websocket"]

    cors_origins: Annotated[list[str], NoDecode] = ["*"]
    media_dir: str = "./media"
    public_url: str = "http://127.0.0.1:8000"

    max_text_length: int = Field(default=5000, ge=1)
    page_size: int = Field(default=50, ge=1, le=200)
    chats_page_size: int = Field(default=50, ge=1, le=500)
    offline_batch: int = Field(default=500, ge=1)
    presence_grace: float = Field(default=2.0, ge=0)
    sync_retention: float = Field(default=30 * 86400, gt=0)
    sync_page_size: int = Field(default=200, ge=1, le=1000)
    cursor_secret: str | None = None
    log_level: str = "info"

    _normalize_url = field_validator("database_url")(normalize_database_url)
    _split_lists = field_validator("jwt_algorithms", "cors_origins", "transports", mode="before")(
        _split_csv
    )
    _durations = field_validator("sync_retention", "presence_ttl", mode="before")(durations.seconds)

    @property
    def dev_mode(self) -> bool:
        """No key configured: the process mints its own secret (never for production)."""
        return not self.jwt_secret and not self.jwt_public_key

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
