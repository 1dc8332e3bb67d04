"""Settings, read once from the environment (``SLYCHAT_*``) and passed down."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ByteSize, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from slychat.config import durations
from slychat.config import rules as config_rules
from slychat.realtime.ratelimit import check_rate

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./slychat.db"
MiB = 1024 * 1024
# Settings given in seconds or as `90s`, `15m`, `1h`, `30d`.
DURATIONS = (
    "sync_retention",
    "presence_ttl",
    "redis_timeout",
    "db_lock_timeout",
    "media_sweep_interval",
    "media_sweep_grace",
    "s3_url_expiry",
    "jwt_max_lifetime",
    "revocation_poll",
    "handshake_timeout",
    "ping_interval",
    "ping_timeout",
    "shutdown_timeout",
    "unread_delay",
    "webhook_timeout",
    "webhook_retry_for",
    "webhook_poll",
    "edit_window",
)


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


# A wildcard bind is not an address a browser can use: this machine reaches it on loopback.
_LOOPBACK_FOR = {"0.0.0.0": "127.0.0.1", "::": "::1"}


def local_url(host: str, port: int) -> str:
    """`http://host:port`, where a client on this machine reaches a server bound there."""
    host = _LOOPBACK_FOR.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def is_wildcard(host: str) -> bool:
    return host in _LOOPBACK_FOR


def _own_url(fields: dict[str, Any]) -> str:
    """The default public URL: this server's address (a host or port that failed its own
    check is reported by that check)."""
    return local_url(fields.get("host", "127.0.0.1"), fields.get("port", 8000))


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
    # PostgreSQL: a statement waiting this long for a lock held elsewhere ends as 503.
    db_lock_timeout: float = Field(default=10.0, gt=0)

    jwt_secret: str | None = None
    jwt_algorithms: Annotated[list[str], NoDecode] = ["HS256"]
    jwt_public_key: str | None = None
    # Checked when set: the `iss` and `aud` your platform writes into its tokens.
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    # Refuse tokens without `exp` (None: on, except in dev mode), and tokens whose
    # lifetime (`exp` - `iat`, or `exp` - now without `iat`) is longer than this.
    jwt_require_exp: bool | None = None
    jwt_max_lifetime: float = Field(default=30 * 86400, gt=0)
    # How often each node reads revocations (`slychat revoke <jti>`) made since.
    revocation_poll: float = Field(default=5.0, gt=0)

    redis_url: str | None = None
    redis_prefix: str = "slychat"
    presence_ttl: float = Field(default=30.0, ge=2)
    # The longest any Redis call on the send path (presence lookups) may take before the
    # node goes on without the answer.
    redis_timeout: float = Field(default=0.1, gt=0, le=5)
    transports: Annotated[list[str], NoDecode] = ["polling", "websocket"]

    cors_origins: Annotated[list[str], NoDecode] = ["*"]

    # Hostile clients (docs/security.md). Rates are `<count>/<s|m|h>[:<burst>]`.
    rate_limits: bool = True  # SLYCHAT_RATE_LIMITS=off turns every rate limit off
    rate_messages: str = "10/s:20"  # sendMessage and uploads, per user
    rate_typing: str = "2/s:4"  # typing and stoppedTyping, per user
    rate_uploads: str = "4/m:4"  # upload requests, per user
    rate_new_chats: str = "20/h:20"  # chats started, per user
    rate_events: str = "30/s:60"  # any event, per connection
    rate_admin: str = "50/s:100"  # admin API requests, per API key
    rate_handshakes_per_ip: str | None = None  # e.g. "30/m:60"; off by default
    # With rate_handshakes_per_ip: the header a trusted proxy puts the client address in
    # (e.g. X-Real-IP). Unset: the peer address of the TCP connection.
    client_ip_header: str | None = None
    max_connections_per_user: int = Field(default=20, ge=1)
    max_connections: int = Field(default=50_000, ge=1)  # per process
    # A connection that has not opened a namespace with a valid token by then is closed.
    handshake_timeout: float = Field(default=10.0, gt=0)
    # Engine.IO heartbeat: the server pings every `ping_interval` (whole seconds: the
    # handshake advertises it so) and closes a connection whose pong is `ping_timeout` late.
    ping_interval: float = Field(default=25.0, ge=1, multiple_of=1)
    ping_timeout: float = Field(default=20.0, gt=0)
    # On SIGTERM/SIGINT: how long the process may take to drain (events in flight finish,
    # clients are sent away to reconnect elsewhere) and stop; it is gone by then.
    shutdown_timeout: float = Field(default=30.0, gt=0)
    # The largest Socket.IO packet a client may send, in bytes.
    max_packet_bytes: ByteSize = ByteSize(64 * 1024)
    # Events waiting to be written to one socket; a client that reads slower than this
    # is disconnected (it catches up with syncMessages when it comes back).
    max_queued_events: int = Field(default=1000, ge=10)
    # The largest reply a list event builds (userChats, loadMessages, syncMessages,
    # offlineMessages): a page stops before it and says hasMore.
    list_budget_bytes: ByteSize = ByteSize(256 * 1024)
    # Chat metadata URLs must be http(s); when set, their hosts must be one of these
    # (a name matches itself and its subdomains).
    media_hosts: Annotated[list[str], NoDecode] = []
    # The base of the links the server hands out (media). Unset: this server's own
    # address, from host and port (loopback for a wildcard bind).
    public_url: str = Field(default_factory=_own_url)
    # The demo page at `/` (None: shown in dev mode only). It never mints tokens itself:
    # outside dev mode it asks for one.
    demo: bool | None = None

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
    # How long after sending a message its sender may edit it; 0 turns editing off.
    edit_window: float = Field(default=900.0, ge=0)
    # Contact details in what users write (docs/security.md): off, mask or refuse; the
    # text a detail is replaced by; hosts (and their subdomains) links may point at.
    contact_policy: Literal["off", "mask", "refuse"] = "off"
    contact_mask: str = Field(default="[contact hidden]", min_length=1, max_length=100)
    contact_allowed_hosts: Annotated[list[str], NoDecode] = []
    page_size: int = Field(default=50, ge=1, le=200)
    chats_page_size: int = Field(default=50, ge=1, le=500)
    offline_batch: int = Field(default=500, ge=1)
    presence_grace: float = Field(default=2.0, ge=0)
    sync_retention: float = Field(default=30 * 86400, gt=0)
    sync_page_size: int = Field(default=200, ge=1, le=1000)
    cursor_secret: str | None = None
    log_level: str = "info"  # critical, error, warning, info, debug or trace
    # json or console (None: json, except console in dev mode).
    log_format: Literal["json", "console"] | None = None
    # When set, GET /metrics needs `Authorization: Bearer <token>` (401 otherwise).
    metrics_token: str | None = None

    # Webhooks (docs/webhooks.md): unset URL, no webhooks and no outbox rows at all.
    webhook_url: str | None = None
    webhook_secret: str | None = None  # HMAC-SHA256 key of every call; >= 32 bytes
    # message.unread: a message unread this long, to a recipient without a connection
    # for as long.
    unread_delay: float = Field(default=300.0, gt=0)
    webhook_timeout: float = Field(default=10.0, gt=0)  # per call
    webhook_retry_for: float = Field(default=86400.0, gt=0)  # then the call is given up
    # How often the sender looks for due calls and the unread scan runs.
    webhook_poll: float = Field(default=1.0, gt=0)

    _normalize_url = field_validator("database_url")(normalize_database_url)
    _split_lists = field_validator(
        "jwt_algorithms",
        "cors_origins",
        "transports",
        "chat_starters",
        "media_hosts",
        "contact_allowed_hosts",
        mode="before",
    )(_split_csv)
    _durations = field_validator(*DURATIONS, mode="before")(durations.seconds)
    # A malformed rate fails at start, naming its setting.
    _rates = field_validator(
        "rate_messages",
        "rate_typing",
        "rate_uploads",
        "rate_new_chats",
        "rate_events",
        "rate_admin",
        "rate_handshakes_per_ip",
    )(check_rate)
    # Fail at start, naming the setting (see config/rules.py).
    _database_url = field_validator("database_url")(config_rules.database_url)
    _redis_url = field_validator("redis_url")(config_rules.redis_url)
    _http_urls = field_validator("public_url", "s3_endpoint_url", "s3_public_url")(
        config_rules.http_url
    )
    _origins = field_validator("cors_origins")(config_rules.origins)
    _transports = field_validator("transports")(config_rules.transports)
    _log_level = field_validator("log_level")(config_rules.log_level)
    _header = field_validator("client_ip_header")(config_rules.header_name)
    _hosts = field_validator("media_hosts", "contact_allowed_hosts")(config_rules.host_names)
    _not_blank = field_validator("host", "redis_prefix")(config_rules.not_blank)
    _algorithms = field_validator("jwt_algorithms")(config_rules.jwt_algorithms)
    _public_key = field_validator("jwt_public_key")(config_rules.public_key)

    @model_validator(mode="after")
    def _keys_fit_the_algorithms(self) -> Settings:
        problems = config_rules.key_problems(
            self.jwt_algorithms, self.jwt_secret, self.jwt_public_key
        )
        if bool(self.s3_access_key_id) != bool(self.s3_secret_access_key):
            problems.append("SLYCHAT_S3_ACCESS_KEY_ID and SLYCHAT_S3_SECRET_ACCESS_KEY go together")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _hs_secret_is_long_enough(self) -> Settings:
        # RFC 7518: an HMAC key as long as the hash; a short one can be brute-forced
        # offline from a single token.
        if self.jwt_secret and len(self.jwt_secret.encode()) < 32:
            raise ValueError("SLYCHAT_JWT_SECRET must be at least 32 bytes long")
        return self

    @property
    def require_exp(self) -> bool:
        return self.jwt_require_exp if self.jwt_require_exp is not None else not self.dev_mode

    @model_validator(mode="after")
    def _webhooks_are_signed(self) -> Settings:
        if not self.webhook_url:
            return self
        if not self.webhook_url.startswith(("http://", "https://")):
            raise ValueError("SLYCHAT_WEBHOOK_URL must be an http:// or https:// URL")
        # The receiver's only proof that a call came from here; as long as the hash.
        if len((self.webhook_secret or "").encode()) < 32:
            raise ValueError(
                "SLYCHAT_WEBHOOK_SECRET must be set, at least 32 bytes long, "
                "when SLYCHAT_WEBHOOK_URL is"
            )
        return self

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
    def demo_page(self) -> bool:
        """Serve the demo chat page at `/` (else a short page pointing at the docs)."""
        return self.demo if self.demo is not None else self.dev_mode

    @property
    def log_renderer(self) -> Literal["json", "console"]:
        """How log lines are written: SLYCHAT_LOG_FORMAT, else console in dev mode only."""
        return self.log_format or ("console" if self.dev_mode else "json")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
