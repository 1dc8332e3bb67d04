"""Tokens of live sockets: every `SLYCHAT_REVOCATION_POLL`, each node reads the revocations
made since its last look and the suspensions in force, and disconnects its sockets whose
token was revoked or expired, or whose user is suspended."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from slychat.container import Container
from slychat.process.periodic import every, logged
from slychat.sockets.base import Namespace

log = logging.getLogger(__name__)
_WHAT = "checking the tokens of live sockets"


async def check_tokens(container: Container, namespaces: Sequence[Namespace]) -> None:
    """One look: new revocations read, stale sockets dropped. A failure is logged; the next
    look tries again (meanwhile the revocations already known still apply)."""
    await logged(_look(container, namespaces), _WHAT, log)


async def watch_tokens(container: Container, namespaces: Sequence[Namespace]) -> None:
    """`check_tokens` every `SLYCHAT_REVOCATION_POLL` seconds, until cancelled."""
    poll = container.settings.revocation_poll
    await every(poll, lambda: _look(container, namespaces), _WHAT, log)


async def _look(container: Container, namespaces: Sequence[Namespace]) -> None:
    await container.revocations.refresh()
    await container.suspensions.refresh()
    dropped = 0
    for namespace in namespaces:
        dropped += await namespace.drop_stale_tokens()
    if dropped:
        log.info("closed %d sockets whose token expired or was revoked, or user suspended", dropped)
