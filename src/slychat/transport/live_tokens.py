"""Tokens of live sockets: every `SLYCHAT_REVOCATION_POLL`, each node reads the revocations
made since its last look and disconnects its sockets whose token was revoked or expired."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from slychat.container import Container
from slychat.transport.base import Namespace

log = logging.getLogger(__name__)


async def check_tokens(c: Container, namespaces: Sequence[Namespace]) -> None:
    """One look: new revocations read, stale sockets dropped. A failure is logged; the next
    look tries again (meanwhile the revocations already known still apply)."""
    try:
        await c.revocations.refresh()
        dropped = 0
        for namespace in namespaces:
            dropped += await namespace.drop_stale_tokens()
        if dropped:
            log.info("closed %d sockets whose token expired or was revoked", dropped)
    except Exception:  # never let the watch die
        log.exception("checking the tokens of live sockets failed")


async def watch_tokens(c: Container, namespaces: Sequence[Namespace]) -> None:
    """`check_tokens` every `SLYCHAT_REVOCATION_POLL` seconds, until cancelled."""
    while True:
        await asyncio.sleep(c.settings.revocation_poll)
        await check_tokens(c, namespaces)
