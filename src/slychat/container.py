"""The one place that picks backends and wires the services together."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slychat.config import Settings
from slychat.realtime import fanout
from slychat.realtime.base import ConnectionRegistry
from slychat.realtime.memory import MemoryRegistry
from slychat.realtime.redis import RedisRegistry
from slychat.services.auth import TokenService
from slychat.services.chat_directory import ChatDirectory
from slychat.services.chats import ChatService
from slychat.services.messages import MessageService
from slychat.services.presence import PresenceService
from slychat.services.sync import CursorCodec, SyncService
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
    presence: PresenceService
    chats: ChatService
    messages: MessageService
    sync: SyncService
    cursors: CursorCodec
    fanout: Any  # the Socket.IO client manager: in-process or Redis pub/sub

    @classmethod
    def build(cls, settings: Settings, tokens: TokenService | None = None) -> Container:
        db = Database(
            settings.database_url,
            pool_size=settings.db_pool_size,
            pool_timeout=settings.db_pool_timeout,
            retries=settings.db_retries,
        )
        registry: ConnectionRegistry = (
            RedisRegistry(settings.redis_url, settings.redis_prefix, settings.presence_ttl)
            if settings.redis_url
            else MemoryRegistry()
        )
        tokens = tokens or token_service(settings)
        presence = PresenceService(db, registry)
        cursor_key = (settings.cursor_secret or "").encode() or tokens.derive_key("sync-cursor")
        return cls(
            settings=settings,
            db=db,
            registry=registry,
            tokens=tokens,
            presence=presence,
            chats=ChatService(db, settings.page_size, settings.chats_page_size),
            messages=MessageService(
                db, send_store_for(db), ChatDirectory(db), presence, settings.offline_batch
            ),
            sync=SyncService(db, settings.sync_retention, settings.sync_page_size),
            cursors=CursorCodec(cursor_key),
            fanout=fanout.manager(settings.redis_url, settings.redis_prefix),
        )

    async def close(self) -> None:
        await self.registry.close()
        await self.db.close()


def send_store_for(db: Database) -> SendStore:
    """The send path's statements for the database's engine."""
    return SqliteSendStore(db) if db.is_sqlite else PostgresSendStore(db)


def token_service(settings: Settings) -> TokenService:
    return TokenService(settings.jwt_secret, settings.jwt_algorithms, settings.jwt_public_key)
