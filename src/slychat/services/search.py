"""searchMessages: the caller's messages that hold every word of a query, newest first.

A query is words: runs of letters and digits, everything else separates them (as both
engines' indexes split text, storage/search.py). Every word must match a word of the
message, the last one as a prefix (the user may still be typing it); case and accents
do not matter. Newest first is the order the messages were stored in (the caller's change
feed's order, which is also their timestamps' order). Pages are keyset pages: `next`
names the last message of a page, and the next page starts right after it, so paging
never repeats or skips a message, whatever is sent meanwhile.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from slychat.domain.errors import Invalid
from slychat.domain.identity import User
from slychat.domain.models import Message
from slychat.services import budget
from slychat.services.chats import ChatRef, resolve_chat
from slychat.storage import search as index
from slychat.storage.database import Database

MIN_QUERY = 2
MAX_QUERY = 200
DEFAULT_LIMIT = 20
MAX_LIMIT = 50
# Letters and digits of any script (`\w` without the underscore).
_WORD = re.compile(r"[^\W_]+")


def words_of(query: str) -> tuple[str, ...]:
    """The words of a query, or Invalid for one the contract refuses (too short, too long,
    nothing but punctuation). Composed (NFC) first, so an accent typed as a combining mark
    stays part of its word."""
    stripped = query.strip()
    if not MIN_QUERY <= len(stripped) <= MAX_QUERY:
        raise Invalid(f"query: must be {MIN_QUERY} to {MAX_QUERY} characters long")
    words = tuple(_WORD.findall(unicodedata.normalize("NFC", stripped)))
    if not words:
        raise Invalid("query: must hold a letter or a digit")
    return words


@dataclass(frozen=True, slots=True)
class SearchPosition:
    """Where a page of results stopped: its last message."""

    message_id: str


@dataclass(frozen=True, slots=True)
class SearchPage:
    messages: list[Message]
    has_more: bool
    next: SearchPosition | None  # where the next page starts; None on the last page


class SearchService:
    def __init__(self, db: Database, list_budget: int) -> None:
        self.db = db
        self.list_budget = list_budget

    async def search(
        self,
        user: User,
        words: tuple[str, ...],
        chat_id: str | None = None,
        before: SearchPosition | None = None,
        limit: int | None = None,
    ) -> SearchPage:
        """A page of `user`'s live messages (both sides of their chats; only `chat_id`'s
        when given, which `user` must take part in) matching `words`, newest first."""
        limit = limit or DEFAULT_LIMIT
        after = None if before is None else before.message_id
        async with self.db.read() as conn:
            if chat_id is not None:
                await resolve_chat(conn, user, ChatRef(chat_id=chat_id))  # 404 / 403
            found = await index.search(conn, user, words, chat_id, after, limit + 1)
        page = budget.prefix(found[:limit], budget.message_cost, self.list_budget)
        more = len(found) > len(page)
        last = page[-1] if page and more else None
        return SearchPage(page, more, None if last is None else SearchPosition(last.id))
