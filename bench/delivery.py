"""Did a load generator run store every message once, in order? Read from the database.

The shared load generator only counts deliveries (and ignores a repeated one), so after a
run its chats are read back: pair i (customer and vendor `base + i`) has one chat whose
first message is the `hello` that opened it, followed by `b|<i>:<n>` for n = 0..M-1 in the
order they were sent. Both slychat's and the reference's schemas have
`chats(id, vendor_id)` and `messages(chat_id, seq, text, client_message_id)`.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from typing import Any

from tests.dbcheck import query

MESSAGES_OF_RUN = """
SELECT c.vendor_id, m.seq, m.text, m.client_message_id
FROM chats c JOIN messages m ON m.chat_id = c.id
WHERE c.vendor_id BETWEEN :low AND :high
ORDER BY c.vendor_id, m.seq
"""


@dataclass
class Check:
    """What one run stored, against what it sent; every count of a problem is zero when ok."""

    chats: int = 0
    expected_chats: int = 0
    stored: int = 0
    expected: int = 0
    seq_gaps: int = 0  # chats whose seq is not 1..N
    missing: int = 0  # sent messages not stored
    duplicated: int = 0  # messages stored more than once (same text or client message id)
    reordered: int = 0  # chats whose seq order is not the order of sending

    @property
    def ok(self) -> bool:
        problems = self.seq_gaps + self.missing + self.duplicated + self.reordered
        counts_match = (self.chats, self.stored) == (self.expected_chats, self.expected)
        return counts_match and problems == 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"ok": self.ok}

    def add(self, other: Check) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)


def _check_chat(pair: int, rows: list[Any], messages: int) -> Check:
    seqs = [int(row.seq) for row in rows]
    sent = [row.text for row in rows[1:]]
    numbers = [int(text.rsplit(":", 1)[1]) for text in sent if text.startswith(f"b|{pair}:")]
    client_ids = Counter(row.client_message_id for row in rows if row.client_message_id)
    repeated_texts = sum(n - 1 for n in Counter(numbers).values())
    return Check(
        chats=1,
        stored=len(rows),
        seq_gaps=int(seqs != list(range(1, len(seqs) + 1))),
        missing=len(set(range(messages)) - set(numbers)) + int(rows[0].text != "hello"),
        duplicated=max(repeated_texts, sum(n - 1 for n in client_ids.values())),
        reordered=int(numbers != sorted(numbers)),
    )


async def _verify(database_url: str, base: int, pairs: int, messages: int) -> Check:
    rows = await query(database_url, MESSAGES_OF_RUN, low=base, high=base + pairs - 1)
    by_vendor: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        by_vendor[int(row.vendor_id)].append(row)
    total = Check(expected_chats=pairs, expected=pairs * (messages + 1))
    for vendor, chat_rows in by_vendor.items():
        total.add(_check_chat(vendor - base, chat_rows, messages))
    total.missing += (pairs - len(by_vendor)) * (messages + 1)
    return total


def verify(database_url: str, base: int, pairs: int, messages: int) -> Check:
    """The check of the run with `--id-base base --pairs pairs --messages messages`."""
    return asyncio.run(_verify(database_url, base, pairs, messages))
