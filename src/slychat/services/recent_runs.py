"""Each chat's last messages, remembered on this node as they are stored, so that the
look for a phone number split over one sender's consecutive messages
(moderation/split_numbers.py) reads no row in the common case.

Memory answers only when it can be sure: the chat's messages it holds have consecutive
`seq` (a gapless counter per chat), and the sender's run ends inside them (another
sender's message, one older than the window, MAX_FRAGMENTS rows) or starts with the
chat's first message. Otherwise the caller reads the database (`repository.last_run_of`).
A message stored by another process (another node, a worker draining during a restart)
is not seen here; the caller learns of it after the commit, when the new message's `seq`
does not follow the one the run was read against, and looks again in the database then.
An edit or deletion published on this node forgets the chat (the next send reads it from
the database); one made on another node is not seen (docs/security.md says what that
leaves)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from slychat.domain.identity import User
from slychat.moderation.split_numbers import MAX_FRAGMENTS
from slychat.moderation.split_numbers import WINDOW_SECONDS as SPLIT_WINDOW

# Bounds: chats remembered, and characters of text held over all of them (a chat's tail
# is at most MAX_FRAGMENTS messages); the least recently written chats go first.
MAX_CHATS = 20_000
MAX_CHARS = 4_000_000
_WINDOW_MS = int(SPLIT_WINDOW * 1000)


@dataclass(frozen=True, slots=True)
class Recorded:
    """One message of a chat as its sender wrote it (None: no text, media only)."""

    seq: int
    sender: User
    at: int  # created_at, ms
    text: str | None


@dataclass(frozen=True, slots=True)
class Run:
    """The sender's last messages with text, oldest first (as `last_run_of` reads them),
    and the `seq` of the chat's last message memory held when it was read."""

    texts: tuple[tuple[str, int], ...]  # (text as written, created_at ms)
    last_seq: int


@dataclass(slots=True)
class _Tail:
    messages: list[Recorded]
    # Nothing before messages[0] can be part of a run: it is the chat's first message, or
    # the tail holds MAX_FRAGMENTS messages (a run never reaches further back).
    closed: bool
    chars: int = 0


class RecentRuns:
    """The last MAX_FRAGMENTS messages of recently written chats, on this node."""

    def __init__(self, max_chats: int = MAX_CHATS, max_chars: int = MAX_CHARS) -> None:
        self.max_chats = max_chats
        self.max_chars = max_chars
        self._tails: OrderedDict[str, _Tail] = OrderedDict()
        self._chars = 0

    def run_of(self, chat_id: str, sender: User, now: int) -> Run | None:
        """`sender`'s last run in the chat as of `now` (ms), or None when memory cannot
        be sure of it (the database must be read)."""
        tail = self._tails.get(chat_id)
        if tail is None:
            return None
        since = now - _WINDOW_MS
        texts: list[tuple[str, int]] = []
        messages = tail.messages
        for rows, i in enumerate(range(len(messages) - 1, -1, -1)):
            if rows == MAX_FRAGMENTS:
                break  # as far as the database read goes
            m = messages[i]
            if i + 1 < len(messages) and messages[i + 1].seq != m.seq + 1:
                return None  # a message this node never saw lies in between
            if m.at < since or m.sender != sender:
                break  # the run ends here
            if m.text is not None:
                texts.append((m.text, m.at))
        else:
            if not tail.closed and len(messages) < MAX_FRAGMENTS:
                return None  # the run may reach further back than memory holds
        texts.reverse()
        return Run(tuple(texts), messages[-1].seq)

    def record(self, chat_id: str, message: Recorded) -> None:
        """A message committed in the chat (by anyone, notices included)."""
        tail = self._tails.get(chat_id)
        size = len(message.text or "")
        if tail is not None and message.seq <= tail.messages[-1].seq:
            return  # held already (the tail's seqs are consecutive up to its last)
        if tail is None or message.seq > tail.messages[-1].seq + 1:
            if tail is not None:  # a gap: what came before it is of no use
                self._chars -= tail.chars
            tail = _Tail([], closed=message.seq == 1)
            self._tails[chat_id] = tail
        messages = tail.messages
        messages.append(message)
        tail.chars += size
        self._chars += size
        while len(messages) > MAX_FRAGMENTS:
            gone = messages.pop(0)
            tail.chars -= len(gone.text or "")
            self._chars -= len(gone.text or "")
            tail.closed = True
        self._tails.move_to_end(chat_id)
        while len(self._tails) > self.max_chats or self._chars > self.max_chars:
            _, evicted = self._tails.popitem(last=False)
            self._chars -= evicted.chars

    def forget(self, chat_id: str) -> None:
        """A message of the chat was edited or deleted: its run is read again."""
        tail = self._tails.pop(chat_id, None)
        if tail is not None:
            self._chars -= tail.chars
