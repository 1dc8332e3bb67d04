"""Settings, read once from the environment (``SLYCHAT_*``) and passed down."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ByteSize, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from slychat import durations

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./slychat.db"
MiB = 1024 * 1024


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
    public_url: str = "http://127.0.0.1:8000"

    # Media uploads (see docs/media.md). Sizes take plain bytes or units: 3MiB, 50MB.
    media_store: Literal["local", "s3"] = "local"
    media_dir: str = "./media"
    media_max_image_bytes: ByteSize = ByteSize(3 * MiB)
    media_max_pdf_bytes: ByteSize = ByteSize(50 * MiB)
    media_max_video_bytes: ByteSize = ByteSize(50 * MiB)
    media_max_files: int = Field(default=3, ge=1, le=20)
    # Decoding a 50-megapixel image takes ~150 MB; anything larger is refused unread.
    media_max_image_pixels: int = Field(default=50_000_000, ge=1)
    media_thumbnail_size: int = Field(default=320, ge=16, le=2048)
    media_sweep_interval: float = Field(default=3600.0, ge=0)  # 0: only at start
    # A stored file that no row references is removed once it is this old: younger ones
    # may belong to an upload whose transaction is still running.
    media_sweep_grace: float = Field(default=600.0, ge=0)

    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    s3_prefix: str = ""
    # Set when the bucket is readable by anyone at this base URL; otherwise media URLs
    # point at this server, which redirects to a pre-signed URL valid for s3_url_expiry.
    s3_public_url: str | None = None
    s3_url_expiry: float = Field(default=3600.0, gt=0, le=7 * 86400)

    # Who may send the first message of a chat: vendors reply, unless the platform wants
    # vendor outreach (`customer,vendor`).
    chat_starters: Annotated[list[Literal["customer", "vendor"]], NoDecode] = ["customer"]
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
    _split_lists = field_validator(
        "jwt_algorithms", "cors_origins", "transports", "chat_starters", mode="before"
    )(_split_csv)
    _durations = field_validator(
        "sync_retention",
        "presence_ttl",
        "media_sweep_interval",
        "media_sweep_grace",
        "s3_url_expiry",
        mode="before",
    )(durations.seconds)

    @model_validator(mode="after")
    def _s3_needs_a_bucket(self) -> Settings:
        if self.media_store == "s3" and not self.s3_bucket:
            raise ValueError("SLYCHAT_MEDIA_STORE=s3 needs SLYCHAT_S3_BUCKET")
        return self

    @property
    def dev_mode(self) -> bool:
        """No key configured: the process mints its own secret (never for production)."""
        return not self.jwt_secret and not self.jwt_public_key

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
