"""A webhook receiver on a loopback port for the tests: records every call, and answers
each as its script says (200, an error status, or a hang)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support import ROOT, free_port

Json = dict[str, Any]


@dataclass(frozen=True)
class Call:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Json:
        parsed: Json = json.loads(self.body)
        return parsed

    @property
    def id(self) -> str:
        return self.headers["Webhook-Id"]


# What to do with a call: an HTTP status to answer, or a number of seconds to hang first
# (then 200). The script sees every call this receiver took for the same id before.
Answer = int | float
Script = Callable[[Json, list[Call]], Answer]


def always_ok(_body: Json, _before: list[Call]) -> Answer:
    return 200


@dataclass
class Receiver:
    port: int = field(default_factory=free_port)
    script: Script = always_ok
    calls: list[Call] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hooks", self._take)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _take(self, request: web.Request) -> web.Response:
        call = Call(dict(request.headers), await request.read())
        before = [c for c in self.calls if c.id == call.id]
        self.calls.append(call)
        self._changed.set()
        answer = self.script(call.json, before)
        if isinstance(answer, float):
            await asyncio.sleep(answer)
            return web.Response(status=200)
        return web.Response(status=answer)

    def matching(self, where: Callable[[Json], bool]) -> list[Call]:
        return [c for c in self.calls if where(c.json)]

    async def wait(
        self, where: Callable[[Json], bool], count: int = 1, timeout: float = 20.0
    ) -> list[Call]:
        """The calls whose body matches `where`, once there are at least `count`."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            found = self.matching(where)
            if len(found) >= count:
                return found
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                seen = [(c.json["type"], c.id) for c in self.calls]
                raise AssertionError(f"{count} matching webhook(s) expected, saw {seen}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._changed.wait()


def unread_for(user_id: int, role: str = "VENDOR") -> Callable[[Json], bool]:
    def match(body: Json) -> bool:
        recipient = body["data"].get("recipient") or {}
        return bool(
            body["type"] == "message.unread"
            and recipient.get("id") == user_id
            and recipient.get("type") == role
        )

    return match


def chat_created(chat_id: str) -> Callable[[Json], bool]:
    return lambda body: body["type"] == "chat.created" and body["data"]["chat"]["id"] == chat_id


def documented_verifier() -> Callable[[bytes, Any, bytes], bool]:
    """`verify_webhook` exactly as docs/webhooks.md shows it to receivers."""
    namespace: dict[str, Any] = {}
    exec(compile(verifier_source("docs/webhooks.md"), "docs/webhooks.md", "exec"), namespace)
    verify: Callable[[bytes, Any, bytes], bool] = namespace["verify_webhook"]
    return verify


def verifier_source(path: str) -> str:
    """The Python block of the file at `path` that defines `verify_webhook`."""
    text = (ROOT / path).read_text()
    [code] = [
        b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "def verify_webhook" in b
    ]
    return str(code)
