"""Every block in force, as this node knows them: what the send path, presence and the
presenter ask (services/blocks.py keeps it current on every node)."""

from __future__ import annotations

from slychat.domain.identity import User
from slychat.domain.models import BlockState


class BlockCache:
    """Every block in force, as this node knows them."""

    __slots__ = ("_blocking", "_changed")

    def __init__(self) -> None:
        self._blocking: dict[User, set[User]] = {}  # blocker -> those they block
        self._changed: dict[tuple[User, User], int] = {}  # the newest change applied

    def blocks(self, blocker: User, other: User) -> bool:
        """Whether `blocker` blocks `other` (a viewer's chat with them shows `blocked`)."""
        blocked = self._blocking.get(blocker)
        return blocked is not None and other in blocked

    def between(self, a: User, b: User) -> bool:
        """Whether either of the two blocks the other: nothing flows between them."""
        return self.blocks(a, b) or self.blocks(b, a)

    def apply(self, state: BlockState) -> None:
        """Take a pair's state, unless a newer one was applied already."""
        pair = (state.blocker, state.blocked)
        if self._changed.get(pair, -1) > state.changed_at:
            return
        self._changed[pair] = state.changed_at
        if state.active:
            self._blocking.setdefault(state.blocker, set()).add(state.blocked)
            return
        blocked = self._blocking.get(state.blocker)
        if blocked is not None:
            blocked.discard(state.blocked)
            if not blocked:
                del self._blocking[state.blocker]
