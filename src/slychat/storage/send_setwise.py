"""A batch of messages into chats that exist, stored set-wise: a fixed number of statements
however large the batch.

The steps, shared by both engines: find which messages are retries of stored ones (one
query), take each chat's next `seq` numbers and each participant's next feed positions
(a statement or two each), then insert every message (one statement). Numbers are handed
out in batch order, so messages of one chat, and changes in one user's feed, keep the order
their senders were answered in. A retry within the batch (two tabs resending the same
`clientMessageId`) is answered with the first one's message.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Protocol

from slychat.identity import Role, User
from slychat.ids import new_id
from slychat.models import Message
from slychat.storage.send_batch import Outgoing, Stored

RetryKey = tuple[str | None, str, str | None]  # chat, sender side, client message id


class SetwiseDriver(Protocol):
    async def stored_before(self, asked: Sequence[Outgoing]) -> list[Message]:
        """The stored messages these items' (chat, sender side, client id) name."""
        ...

    async def take_seqs(self, counts: dict[str, int], now: int) -> dict[str, int]:
        """Reserve `counts[chat]` numbers in each chat; the first of each. Raises
        `ChatMissing` if a chat does not exist."""
        ...

    async def take_positions(self, counts: dict[User, int]) -> dict[User, int]:
        """Reserve `counts[user]` positions in each user's feed; the first of each."""
        ...

    async def insert(self, items: Sequence[Outgoing], messages: Sequence[Message]) -> None: ...


async def store_setwise(driver: SetwiseDriver, batch: Sequence[Outgoing], now: int) -> list[Stored]:
    """Store `batch`, whose chats all exist, inside the caller's open transaction."""
    stored_before = {
        (m.chat_id, m.sender.role.value, m.client_message_id): m
        for m in await driver.stored_before(
            [item for item in batch if item.client_message_id is not None]
        )
    }
    results: list[Stored | None] = [None] * len(batch)
    first_in_batch: dict[RetryKey, int] = {}
    retries: dict[int, int] = {}  # a retry within the batch -> the item it repeats
    fresh_at: list[int] = []
    for i, item in enumerate(batch):
        key = (item.chat_id, item.sender.role.value, item.client_message_id)
        if item.client_message_id is not None:
            if key in stored_before:
                results[i] = Stored(stored_before[key], duplicate=True)
                continue
            if key in first_in_batch:
                retries[i] = first_in_batch[key]
                continue
            first_in_batch[key] = i
        fresh_at.append(i)
    fresh = [batch[i] for i in fresh_at]
    messages = await _number(driver, fresh, now)
    if messages:
        await driver.insert(fresh, messages)
    stored = dict(zip(fresh_at, messages, strict=True))
    for i, message in stored.items():
        results[i] = Stored(message)
    for i, first in retries.items():
        results[i] = Stored(stored[first], duplicate=True)
    return [r for r in results if r is not None]  # every item has exactly one


async def _number(driver: SetwiseDriver, items: list[Outgoing], now: int) -> list[Message]:
    """The messages of `items`, with their `seq` and feed positions taken in batch order."""
    if not items:
        return []
    next_seq = await driver.take_seqs(dict(Counter(item.chat_id or "" for item in items)), now)
    feeds: Counter[User] = Counter()
    for item in items:
        feeds[User(Role.CUSTOMER, item.key.customer_id)] += 1
        feeds[User(Role.VENDOR, item.key.vendor_id)] += 1
    next_pos = await driver.take_positions(dict(feeds))
    messages = []
    for item in items:
        chat_id = item.chat_id or ""
        customer = User(Role.CUSTOMER, item.key.customer_id)
        vendor = User(Role.VENDOR, item.key.vendor_id)
        messages.append(
            Message(
                id=new_id(),
                chat_id=chat_id,
                seq=next_seq[chat_id],
                sender=item.sender,
                text=item.text,
                created_at=now,
                recipient_online=item.recipient_online,
                client_message_id=item.client_message_id,
                delivered_at=now if item.delivered else None,
                customer_pos=next_pos[customer],
                vendor_pos=next_pos[vendor],
            )
        )
        next_seq[chat_id] += 1
        next_pos[customer] += 1
        next_pos[vendor] += 1
    return messages
