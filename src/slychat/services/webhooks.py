"""Webhook delivery: one node (the holder of the `webhooks` lease) sends the outbox.

The holder posts every due row, signed, and records the outcome: delivered on a 2xx,
otherwise another attempt after an exponential backoff with full jitter, until the row is
older than the retry period and is given up. Delivery is at least once: a row is sent
again whenever its outcome was not recorded (a crash, a lost lease), with the same
`Webhook-Id`. The same node also runs the `message.unread` scan.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import random
import secrets
import time
from collections.abc import Callable
from functools import partial

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from slychat.domain.ids import now_ms
from slychat.process.periodic import every, logged
from slychat.services.unread_notices import UnreadScanner
from slychat.storage import webhook_outbox as outbox
from slychat.storage.database import Database
from slychat.storage.webhook_outbox import Pending

log = logging.getLogger(__name__)

LEASE = "webhooks"
BACKOFF_BASE = 5.0  # seconds before the first retry, at most
BACKOFF_CAP = 3600.0
CONCURRENCY = 8  # calls in flight at once
KEEP_DELIVERED_MS = 7 * 86400 * 1000
KEEP_GIVEN_UP_MS = 30 * 86400 * 1000
PRUNE_EVERY = 3600.0
BACKLOG_EVERY = 5.0  # how often a node that does not send counts the backlog


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The `Webhook-Signature` header: HMAC-SHA256 of `"{timestamp}.{body}"`, in hex."""
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def backoff(attempts: int, rng: Callable[[], float] = random.random) -> float:
    """Seconds to wait after the `attempts`-th failed attempt: anywhere between zero and
    an exponential bound (full jitter), so that many failing calls do not retry in step."""
    bound = min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** max(0, attempts - 1))
    return rng() * bound


class WebhookService:
    """Counts (read by /metrics): `delivered`, `failures` (failed attempts), `given_up`,
    and `backlog` (pending rows, as last counted)."""

    def __init__(
        self,
        db: Database,
        scanner: UnreadScanner,
        url: str,
        secret: str,
        *,
        timeout: float,
        retry_for: float,
        poll: float,
    ) -> None:
        self.db = db
        self.scanner = scanner
        self.url = url
        self.secret = secret.encode()
        self.timeout = timeout
        self.retry_for_ms = int(retry_for * 1000)
        self.poll = poll
        # A dead holder's lease runs out after a few polls; a live one renews it every
        # third of that, so one slow round does not lose it.
        self.lease_ttl = max(3 * poll, 3.0)
        self.node = secrets.token_hex(8)
        self.delivered = 0
        self.failures = 0
        self.given_up = 0
        self.backlog = 0
        self._held_until = 0.0  # loop time until which this node surely holds the lease
        self._in_flight: dict[str, asyncio.Task[None]] = {}
        self._task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        """Hold the lease when it is free and send while holding it, until cancelled."""
        self._task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        limits = httpx.Limits(max_connections=CONCURRENCY)
        lease = asyncio.create_task(self._keep_lease())
        last_prune = last_count = float("-inf")

        async def round_of(client: httpx.AsyncClient) -> None:
            nonlocal last_prune, last_count
            leading = self.leading()
            # Each step on its own: a failing scan (Redis away) must not stop the calls.
            if leading:
                await logged(self.scanner.scan(now_ms()), "the unread scan", log)
                await logged(self._dispatch(client), "picking due webhooks", log)
                if loop.time() - last_prune >= PRUNE_EVERY:
                    last_prune = loop.time()
                    await logged(self._prune(), "pruning the webhook outbox", log)
            if leading or loop.time() - last_count >= BACKLOG_EVERY:
                last_count = loop.time()
                await logged(self._count(), "counting the webhook backlog", log)

        try:
            async with httpx.AsyncClient(timeout=self.timeout, limits=limits) as client:
                rounds = partial(round_of, client)
                await every(self.poll, rounds, "a webhook round", log, at_start=True)
        finally:
            lease.cancel()
            sends = list(self._in_flight.values())
            for task in sends:
                task.cancel()
            await asyncio.gather(lease, *sends, return_exceptions=True)
            await self._release()

    async def close(self) -> None:
        """Stop sending and hand the lease back, before the database closes."""
        task = self._task
        if task is not None and not task.done():
            if not task.cancelling():  # the app's shutdown may have cancelled it already
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def leading(self) -> bool:
        return asyncio.get_running_loop().time() < self._held_until

    async def _keep_lease(self) -> None:
        # A renewal that fails leaves the lease unknown: lost once the last grant runs out.
        renew = self._renew_lease
        await every(self.lease_ttl / 3, renew, "renewing the webhook lease", log, at_start=True)

    async def _renew_lease(self) -> None:
        asked = asyncio.get_running_loop().time()
        ttl_ms = int(self.lease_ttl * 1000)
        held = await self.db.write(partial(self._take_lease, ttl_ms=ttl_ms))
        # Counted from before the request, and a third short, so that this node stops
        # before any other could have taken the lease over.
        was = self.leading()
        self._held_until = asked + self.lease_ttl * 2 / 3 if held else 0.0
        if held != was:
            log.info("webhook sender: %s", "this node sends" if held else "another node sends")

    async def _take_lease(self, conn: AsyncConnection, ttl_ms: int) -> bool:
        now = now_ms()
        return await outbox.take_lease(conn, LEASE, self.node, now, now + ttl_ms)

    async def _release(self) -> None:
        if self._held_until == 0.0:
            return
        self._held_until = 0.0
        try:
            await self.db.write(lambda conn: outbox.release_lease(conn, LEASE, self.node))
        except Exception:  # it runs out by itself
            log.warning("could not hand the webhook lease back; it expires on its own")

    async def _dispatch(self, client: httpx.AsyncClient) -> None:
        """Start a call for each due row not already in flight here, up to CONCURRENCY."""
        free = CONCURRENCY - len(self._in_flight)
        if free <= 0:
            return
        async with self.db.read() as conn:
            due = await outbox.due(conn, now_ms(), free + len(self._in_flight))
        for row in due:
            if row.id in self._in_flight:
                continue
            if len(self._in_flight) >= CONCURRENCY:
                break
            # The task starts after this line, and its last step forgets it again.
            self._in_flight[row.id] = asyncio.create_task(self._deliver(client, row))

    async def _deliver(self, client: httpx.AsyncClient, row: Pending) -> None:
        try:
            await self._attempt(client, row)
        finally:
            self._in_flight.pop(row.id, None)

    async def _attempt(self, client: httpx.AsyncClient, row: Pending) -> None:
        error = await self._post(client, row)
        now = now_ms()
        try:
            if error is None:
                await self.db.write(lambda conn: outbox.delivered(conn, row.id, now))
                self.delivered += 1
                return
            self.failures += 1
            failure: str = error
            attempts = row.attempts + 1
            deadline = row.created_at + self.retry_for_ms
            # The last attempt comes at the deadline, however long the backoff has grown.
            retry_at = min(deadline, now + int(backoff(attempts) * 1000))
            if now >= deadline:
                await self.db.write(
                    lambda conn: outbox.attempt_failed(conn, row.id, failure, now, None)
                )
                self.given_up += 1
                log.warning(
                    "webhook %s (%s) given up after %d attempts: %s",
                    row.id,
                    row.event,
                    attempts,
                    failure,
                )
                return
            await self.db.write(
                lambda conn: outbox.attempt_failed(conn, row.id, failure, now, retry_at)
            )
            log.info(
                "webhook %s (%s) attempt %d failed: %s; next in %.1fs",
                row.id,
                row.event,
                attempts,
                failure,
                (retry_at - now) / 1000,
            )
        except Exception:  # not recorded: the row is due again and is sent again
            log.exception("recording the outcome of webhook %s failed", row.id)

    async def _post(self, client: httpx.AsyncClient, row: Pending) -> str | None:
        """One attempt; None when the receiver took it (2xx), else what went wrong."""
        body = row.payload.encode()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "slychat-webhooks",
            "Webhook-Id": row.id,
            "Webhook-Timestamp": str(timestamp),
            "Webhook-Signature": sign(self.secret, timestamp, body),
        }
        try:
            # httpx's timeout bounds each phase; this bounds the whole call, so that a
            # receiver trickling its answer cannot hold a slot for longer.
            async with (
                asyncio.timeout(self.timeout),
                client.stream("POST", self.url, content=body, headers=headers) as response,
            ):
                status = response.status_code  # the body is never read
        except (TimeoutError, httpx.TimeoutException):
            return f"no answer within {self.timeout:g}s"
        except httpx.HTTPError as exc:
            return f"request failed: {type(exc).__name__}"
        return None if 200 <= status < 300 else f"HTTP {status}"

    async def _count(self) -> None:
        async with self.db.read() as conn:
            self.backlog = await outbox.backlog(conn)

    async def _prune(self) -> None:
        now = now_ms()
        pruned = await self.db.write(
            lambda conn: outbox.prune(conn, now - KEEP_DELIVERED_MS, now - KEEP_GIVEN_UP_MS)
        )
        if pruned:
            log.info("pruned %d old webhook outbox rows", pruned)
