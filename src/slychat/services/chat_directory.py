"""Chat ids by key, remembered: the send path looks a chat up without a query.

What is remembered can never go stale, on this node or another: a chat's id and
participants never change, and chats are never deleted (erasing messages keeps the chat).
Only chats known to exist are remembered; a miss asks the database.
"""

from __future__ import annotations

from slychat.domain.models import ChatKey
from slychat.storage import repository as repo
from slychat.storage.database import Database


class ChatDirectory:
    def __init__(self, db: Database, capacity: int = 100_000) -> None:
        self.db = db
        self.capacity = capacity
        self._ids: dict[ChatKey, str] = {}

    async def find(self, key: ChatKey) -> str | None:
        """The id of the chat at `key`, or None while there is none."""
        chat_id = self._ids.get(key)
        if chat_id is None:
            async with self.db.read() as conn:
                chat = await repo.chat_by_key(conn, key)
            if chat is None:
                return None
            chat_id = chat.id
            self.remember(key, chat_id)
        return chat_id

    def remember(self, key: ChatKey, chat_id: str) -> None:
        if len(self._ids) >= self.capacity:  # forget the oldest entry
            del self._ids[next(iter(self._ids))]
        self._ids[key] = chat_id
