"""The one place that picks backends and wires the services together."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from slychat.config.settings import Settings
from slychat.domain.identity import Role
from slychat.media.kinds import MediaKind
from slychat.media.local import LocalMediaStore
from slychat.media.store import MediaStore
from slychat.moderation import ContactDetector
from slychat.protocol import outbound as wire
from slychat.protocol.cursors import CursorCodec
from slychat.realtime.base import ConnectionRegistry
from slychat.realtime.block_notices import BlockNotices, LocalBlockNotices, RedisBlockNotices
from slychat.realtime.memory import MemoryRegistry
from slychat.realtime.ratelimit import Limiter, MemoryLimiter, Rate, RedisLimiter
from slychat.realtime.redis import RedisRegistry
from slychat.server.fanout import LocalFanout, RedisFanout
from slychat.services import auth
from slychat.services.admin import AdminService
from slychat.services.apikeys import ApiKeyService
from slychat.services.auth import TokenService
from slychat.services.block_cache import BlockCache
from slychat.services.blocks import BlockService
from slychat.services.chat_directory import ChatDirectory
from slychat.services.chat_policies import ChatPolicies
from slychat.services.chat_policy import NewChatPolicy
from slychat.services.chats import ChatService
from slychat.services.events import EventSink
from slychat.services.limits import Limits, Rates
from slychat.services.media import MediaLimits, MediaService
from slychat.services.messages import MessageService
from slychat.services.moderation import ModerationService
from slychat.services.moderation_rules import ModerationRules
from slychat.services.presence import PresenceService
from slychat.services.recent_runs import RecentRuns
from slychat.services.reports import ReportService
from slychat.services.revocations import Revocations
from slychat.services.search import SearchService
from slychat.services.suspensions import Suspensions
from slychat.services.sync import SyncService
from slychat.services.text_rules import ContactPolicy, TextRules
from slychat.services.unread_notices import UnreadScanner
from slychat.services.webhooks import WebhookService
from slychat.storage.database import Database
from slychat.storage.send_batch import SendStore
from slychat.storage.send_postgres import PostgresSendStore
from slychat.storage.send_sqlite import SqliteSendStore


@dataclass(frozen=True, slots=True)
class Container:
    settings: Settings
    db: Database
    registry: ConnectionRegistry
    tokens: TokenService
    revocations: Revocations
    moderation_rules: ModerationRules  # compiled in memory, read again every revocation poll
    presence: PresenceService
    chats: ChatService
    messages: MessageService
    sync: SyncService
    search: SearchService
    cursors: CursorCodec
    media_store: MediaStore
    media: MediaService
    fanout: LocalFanout  # the Socket.IO client manager: in-process or Redis pub/sub
    limits: Limits
    apikeys: ApiKeyService
    admin: AdminService
    blocks: BlockService
    reports: ReportService
    moderation: ModerationService
    suspensions: Suspensions
    # What the services committed, for the presenter to tell the clients (app.py attaches it).
    events: EventSink
    webhooks: WebhookService | None = None  # SLYCHAT_WEBHOOK_URL set

    @classmethod
    def build(cls, settings: Settings, tokens: TokenService | None = None) -> Container:
        db = Database(
            settings.database_url,
            pool_size=settings.db_pool_size,
            pool_timeout=settings.db_pool_timeout,
            retries=settings.db_retries,
            lock_timeout=settings.db_lock_timeout,
        )
        registry: ConnectionRegistry = (
            RedisRegistry(
                settings.redis_url,
                settings.redis_prefix,
                settings.presence_ttl,
                timeout=settings.redis_timeout,
            )
            if settings.redis_url
            else MemoryRegistry()
        )
        tokens = tokens or token_service(settings)
        events = EventSink()
        blocked = BlockCache()
        presence = PresenceService(db, registry, events, blocked)
        # SLYCHAT_CURSOR_SECRET, or derived from the JWT secret; without either (a public
        # key only), the key the first node stored (CursorCodec.load, at start).
        cursor_key = (settings.cursor_secret or "").encode() or tokens.derive_key("sync-cursor")
        media_store = media_store_for(settings)
        limits = Limits(limiter_for(settings), rates_for(settings))
        moderation_rules = ModerationRules(db)
        messages = MessageService(
            db,
            send_store_for(db, webhooks=bool(settings.webhook_url)),
            ChatDirectory(db),
            presence,
            media_store,
            settings.offline_batch,
            settings.list_budget_bytes,
            NewChatPolicy(
                frozenset(Role(role.upper()) for role in settings.chat_starters),
                tuple(host.lower() for host in settings.media_hosts),
            ),
            limits,
            TextRules(
                settings.max_text_length,
                ContactPolicy(settings.contact_policy),
                ContactDetector(settings.contact_allowed_hosts),
                settings.contact_mask,
                rules=lambda: moderation_rules.current,
            ),
            settings.edit_window,
            events,
            ChatPolicies(db, settings.revocation_poll),
            blocked,
            RecentRuns(),
        )
        reports = ReportService(
            db,
            # Snapshots show a message as its users were shown it.
            lambda m: wire.message(m, None, media_store.url),
            webhooks=bool(settings.webhook_url),
        )
        messages.on_masked = reports.masked
        messages.on_flagged = lambda message, rule_ids, contacts: reports.flagged(
            message, [moderation_rules.note_for(i) for i in rule_ids], contacts=contacts
        )
        suspensions = Suspensions(db)
        chats = ChatService(
            db, settings.page_size, settings.chats_page_size, settings.list_budget_bytes, events
        )
        return cls(
            settings=settings,
            db=db,
            registry=registry,
            tokens=tokens,
            revocations=Revocations(db),
            moderation_rules=moderation_rules,
            presence=presence,
            chats=chats,
            messages=messages,
            sync=SyncService(
                db,
                settings.sync_retention,
                settings.sync_page_size,
                settings.list_budget_bytes,
                events,
            ),
            search=SearchService(db, settings.list_budget_bytes),
            cursors=CursorCodec(cursor_key),
            media_store=media_store,
            media=MediaService(
                db,
                media_store,
                messages,
                media_limits(settings),
                upload_workdir(settings),
                settings.media_sweep_grace,
            ),
            fanout=fanout_for(settings),
            limits=limits,
            apikeys=ApiKeyService(db),
            admin=AdminService(db, chats, messages, media_store, settings.max_text_length),
            blocks=BlockService(db, blocked, block_notices_for(settings), presence, events),
            reports=reports,
            moderation=ModerationService(db, messages, suspensions),
            suspensions=suspensions,
            events=events,
            webhooks=webhook_service_for(settings, db, presence),
        )

    async def close(self) -> None:
        if self.webhooks is not None:  # hands its lease back: before the database closes
            await self.webhooks.close()
        await self.messages.writer.idle()  # the group commit's pending batch, committed
        await self.reports.idle()  # automatic reports under way
        await self.registry.close()
        await self.blocks.notices.close()
        await self.limits.limiter.close()
        self.media.close()
        await self.media_store.close()
        await self.db.close()


def send_store_for(db: Database, webhooks: bool = False) -> SendStore:
    """The send path's statements for the database's engine; with `webhooks`, each chat
    created writes its `chat.created` outbox row in the same transaction."""
    return SqliteSendStore(db, webhooks) if db.is_sqlite else PostgresSendStore(db, webhooks)


def webhook_service_for(
    settings: Settings, db: Database, presence: PresenceService
) -> WebhookService | None:
    """The webhook sender and unread scan, when SLYCHAT_WEBHOOK_URL is set."""
    if not settings.webhook_url:
        return None
    # A full unread scan every delay finds recipients who were connected when their
    # messages came of age and have been away for the delay since.
    sweep_every = max(settings.webhook_poll, settings.unread_delay)
    return WebhookService(
        db,
        UnreadScanner(db, presence, settings.unread_delay, sweep_every),
        settings.webhook_url,
        settings.webhook_secret or "",
        timeout=settings.webhook_timeout,
        retry_for=settings.webhook_retry_for,
        poll=settings.webhook_poll,
    )


def media_store_for(settings: Settings) -> MediaStore:
    """Where media files live: a local directory (the default) or an S3-compatible bucket."""
    if settings.media_store == "s3":
        # Imported only for S3: aioboto3 is a fifth of a start-up's imports.
        from slychat.media.s3 import S3MediaStore

        return S3MediaStore(
            bucket=settings.s3_bucket or "",
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
            prefix=settings.s3_prefix,
            public_url=settings.s3_public_url,
            url_expiry=settings.s3_url_expiry,
            server_url=settings.public_url,
        )
    return LocalMediaStore(Path(settings.media_dir), settings.public_url)


def upload_workdir(settings: Settings) -> Path:
    """Where uploads stream to: beside the local store, so that keeping a file is a rename."""
    if settings.media_store == "local":
        return Path(settings.media_dir) / ".incoming"
    return Path(tempfile.gettempdir()) / "slychat-incoming"


def media_limits(settings: Settings) -> MediaLimits:
    return MediaLimits(
        max_bytes={
            MediaKind.IMAGE: settings.media_max_image_bytes,
            MediaKind.PDF: settings.media_max_pdf_bytes,
            MediaKind.VIDEO: settings.media_max_video_bytes,
        },
        max_files=settings.media_max_files,
        max_pixels=settings.media_max_image_pixels,
        thumbnail_size=settings.media_thumbnail_size,
    )


def fanout_for(settings: Settings) -> LocalFanout:
    """Socket.IO emits: to this process's sockets, and through Redis pub/sub to the other
    nodes' when Redis is configured."""
    if settings.redis_url:
        return RedisFanout(settings.redis_url, channel=f"{settings.redis_prefix}:socketio")
    return LocalFanout()


def block_notices_for(settings: Settings) -> BlockNotices:
    """How the other nodes hear of a block: Redis pub/sub when configured; in one process,
    nobody else needs to."""
    if settings.redis_url:
        return RedisBlockNotices(settings.redis_url, settings.redis_prefix)
    return LocalBlockNotices()


def limiter_for(settings: Settings) -> Limiter:
    """Rate-limit buckets: shared by every node through Redis when configured, else this
    process's own."""
    if settings.redis_url:
        return RedisLimiter(settings.redis_url, settings.redis_prefix, settings.redis_timeout)
    return MemoryLimiter()


def rates_for(settings: Settings) -> Rates:
    """The configured rates; SLYCHAT_RATE_LIMITS=off turns every one of them off."""
    if not settings.rate_limits:
        return Rates()

    def rate(text: str | None) -> Rate | None:
        return None if text is None else Rate.parse(text)

    return Rates(
        messages=rate(settings.rate_messages),
        typing=rate(settings.rate_typing),
        uploads=rate(settings.rate_uploads),
        new_chats=rate(settings.rate_new_chats),
        events=rate(settings.rate_events),
        admin=rate(settings.rate_admin),
        handshakes=rate(settings.rate_handshakes_per_ip),
    )


def token_service(settings: Settings) -> TokenService:
    return auth.token_service(settings)
