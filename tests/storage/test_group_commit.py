"""Group commit: concurrent sends share a transaction, every sender is answered with its
own result, and a failing message does not fail its neighbours."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from slychat.storage.group_commit import GroupCommit


class Store:
    """Records each transaction; an item named "bad" fails the transaction holding it."""

    def __init__(self) -> None:
        self.transactions: list[list[str]] = []

    async def __call__(self, batch: Sequence[str]) -> list[str]:
        await asyncio.sleep(0)  # a transaction takes time: others queue meanwhile
        if "bad" in batch:
            raise ValueError("bad item")
        self.transactions.append(list(batch))
        return [item.upper() for item in batch]


async def test_concurrent_items_share_transactions_in_order() -> None:
    store = Store()
    writer: GroupCommit[str, str] = GroupCommit(store)

    results = await asyncio.gather(*(writer.submit(f"m{i}") for i in range(20)))

    assert results == [f"M{i}" for i in range(20)]
    assert len(store.transactions) < 20
    assert [item for batch in store.transactions for item in batch] == [f"m{i}" for i in range(20)]


async def test_a_failing_item_fails_alone() -> None:
    store = Store()
    writer: GroupCommit[str, str] = GroupCommit(store)

    results = await asyncio.gather(
        writer.submit("a"), writer.submit("bad"), writer.submit("b"), return_exceptions=True
    )

    assert results[0] == "A"
    assert results[2] == "B"
    assert isinstance(results[1], ValueError)
    assert ["a"] in store.transactions
    assert ["b"] in store.transactions


async def test_batches_are_capped() -> None:
    store = Store()
    writer: GroupCommit[str, str] = GroupCommit(store, max_batch=3)

    await asyncio.gather(*(writer.submit(str(i)) for i in range(10)))

    assert max(len(batch) for batch in store.transactions) == 3


async def test_a_sender_that_goes_away_does_not_stop_the_others() -> None:
    store = Store()
    writer: GroupCommit[str, str] = GroupCommit(store)

    gone = asyncio.ensure_future(writer.submit("gone"))
    stays = asyncio.ensure_future(writer.submit("stays"))
    await asyncio.sleep(0)
    gone.cancel()

    assert await stays == "STAYS"
    with pytest.raises(asyncio.CancelledError):
        await gone
