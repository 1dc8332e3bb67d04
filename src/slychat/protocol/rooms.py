"""Socket.IO room names. Every /chat socket sits in its user's room, so emitting to a user
room reaches all of that user's tabs, on every node. A chat's events go to its two
participants' rooms, so no per-chat rooms are kept."""

from __future__ import annotations

from slychat.domain.identity import User


def user_room(user: User) -> str:
    return f"user:{user.role.value}:{user.id}"
