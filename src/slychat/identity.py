"""Who is acting: a user is the pair (role, id)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    CUSTOMER = "CUSTOMER"
    VENDOR = "VENDOR"
    ADMIN = "ADMIN"

    @property
    def counterpart(self) -> Role:
        """The other side of a chat: a customer talks to a vendor and back."""
        if self is Role.CUSTOMER:
            return Role.VENDOR
        if self is Role.VENDOR:
            return Role.CUSTOMER
        raise ValueError("admins take no part in chats")


@dataclass(frozen=True, slots=True)
class User:
    role: Role
    id: int

    @property
    def key(self) -> str:
        return f"{self.role.value}:{self.id}"
