"""Where each of this node's /chat sockets stands in its user's change feed.

Changes reach sockets through the fan-out; while the fan-out is broken (Redis away, a
publish dropped, the subscription lost), changes committed on other nodes do not. The
node notes, for each socket, the feed position of every message it was sent. When the
fan-out breaks, every socket is *held* at the newest position it had been sent before the
break could have begun (`LAG` earlier than it was noticed); when the fan-out is back, the
node pushes each held socket the changes after that position, leaving out the messages
that reached the socket meanwhile, and releases it. While a socket is held, no cursor
handed to its user goes past the hold (`hold_of`): a client that keeps the newest cursor
it was given never skips a change its sockets were not sent.

A socket is never sent the same message twice (`unsent`): a publish that Redis took in
while it hung and the client gave up on still arrives when Redis resumes, perhaps after
the catch-up already pushed its message.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from slychat.domain.identity import User

# How long a broken fan-out may go unnoticed: a publish or a subscription read that
# hangs gives up within about a second, the subscription's probe within three.
LAG = 5.0
# How far back each socket remembers what it was sent (and so how long an outage a peer
# can report and still have its dropped publishes covered exactly).
_WINDOW = 120.0


@dataclass(slots=True)
class _Socket:
    user: User
    base: int  # the newest position sent before everything in `recent`
    recent: deque[tuple[float, int, str]] = field(default_factory=deque)  # at, pos, id
    ids: set[str] = field(default_factory=set)  # the ids in `recent`
    hold: int | None = None
    seen: set[str] = field(default_factory=set)  # messages sent since the hold


class FeedOrder:
    def __init__(self) -> None:
        self._sockets: dict[str, _Socket] = {}
        self._held: set[str] = set()
        self.broken = False  # the fan-out is known broken right now

    def opened(self, sid: str, user: User, pos: int) -> None:
        """`sid` was sent its user's feed up to `pos` (the head its opening read)."""
        socket = _Socket(user, pos)
        if self.broken:  # it misses everything from other nodes from now on
            socket.hold = pos
            self._held.add(sid)
        self._sockets[sid] = socket

    def closed(self, sid: str) -> None:
        self._sockets.pop(sid, None)
        self._held.discard(sid)

    def user_of(self, sid: str) -> User | None:
        socket = self._sockets.get(sid)
        return None if socket is None else socket.user

    def sent(self, sid: str, pos: int, message_id: str) -> None:
        """A message at `pos` in the user's feed went to `sid`."""
        socket = self._sockets.get(sid)
        if socket is None or message_id in socket.ids:
            return
        now = time.monotonic()
        socket.recent.append((now, pos, message_id))
        socket.ids.add(message_id)
        while socket.recent and socket.recent[0][0] < now - _WINDOW:
            _at, old_pos, old_id = socket.recent.popleft()
            socket.base = max(socket.base, old_pos)
            socket.ids.discard(old_id)
        if socket.hold is not None:
            socket.seen.add(message_id)

    def unsent(self, sids: list[str], message_id: str) -> list[str]:
        """Those of `sids` that were not sent `message_id` (within the window)."""
        sockets = self._sockets
        return [sid for sid in sids if (s := sockets.get(sid)) is None or message_id not in s.ids]

    def hold_all(self, since: float) -> int:
        """The fan-out may have dropped changes since `since` (monotonic): hold every
        socket not held yet at what it was sent before then; how many."""
        cutoff = since - LAG
        held = 0
        for sid, socket in self._sockets.items():
            if socket.hold is not None:
                continue
            self._held.add(sid)
            socket.hold = max(
                [socket.base, *(pos for at, pos, _id in socket.recent if at < cutoff)]
            )
            socket.seen = {mid for at, _pos, mid in socket.recent if at >= cutoff}
            held += 1
        return held

    def held(self) -> list[tuple[str, User, int, frozenset[str]]]:
        """Each held socket: its sid, user, hold and the messages it got since."""
        return [
            (sid, s.user, s.hold, frozenset(s.seen))
            for sid, s in self._sockets.items()
            if sid in self._held and s.hold is not None
        ]

    def seen(self, sid: str) -> frozenset[str]:
        socket = self._sockets.get(sid)
        return frozenset(socket.seen) if socket is not None else frozenset()

    def caught_up(self, sid: str, pos: int) -> None:
        """`sid` was pushed everything up to `pos`: released."""
        socket = self._sockets.get(sid)
        if socket is None:
            return
        socket.base = max(socket.base, pos)
        socket.hold = None
        socket.seen = set()
        self._held.discard(sid)

    def hold_of(self, user: User) -> int | None:
        """The lowest hold of `user`'s sockets here, if any is held (asked for every
        cursor written: nothing to look through unless some socket is held)."""
        if not self._held:
            return None
        holds = [
            hold
            for sid in self._held
            if (s := self._sockets[sid]).user == user and (hold := s.hold) is not None
        ]
        return min(holds) if holds else None
