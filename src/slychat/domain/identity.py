"""Who is acting: a user is the pair (role, id)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    CUSTOMER = "CUSTOMER"
    VENDOR = "VENDOR"
    ADMIN = "ADMIN"
    # The platform's notices in a chat ("Order #123 shipped"), posted through the admin
    # API: a sender of messages, never a user who connects or reads.
    SYSTEM = "SYSTEM"

    @property
    def counterpart(self) -> Role:
        """The other side of a chat: a customer talks to a vendor and back."""
        if self is Role.CUSTOMER:
            return Role.VENDOR
        if self is Role.VENDOR:
            return Role.CUSTOMER
        raise ValueError(f"{self.value.lower()} is not a side of a chat")


@dataclass(frozen=True, slots=True)
class User:
    role: Role
    id: int

    @property
    def key(self) -> str:
        return f"{self.role.value}:{self.id}"


# The sender of every SYSTEM message.
SYSTEM_USER = User(Role.SYSTEM, 0)
