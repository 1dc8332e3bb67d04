"""Headless Chromium for the demo page's tests: Debian's `chromium` (/usr/bin/chromium),
driven by the Python `playwright` package without a browser download of its own.

Locally the browser tests skip when Chromium, Playwright or the npm assets (the slychat-client
package built and copied into the server's package, axe-core) are missing, and say how to
get them; with `CI=true` they fail instead (`make test` installs all three in CI).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.support import ROOT, unavailable

if TYPE_CHECKING:
    from playwright.async_api import (
        Browser,
        BrowserContext,
        Dialog,
        Locator,
        Page,
        WebSocket,
    )

CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
CLIENT = ROOT / "src" / "slychat" / "static" / "demo" / "dist" / "slychat-client.js"
ARTIFACTS = ROOT / "test-artifacts"
DESKTOP = {"width": 1000, "height": 700}
PHONE = {"width": 390, "height": 844}
WAIT_MS = 15_000

# Runs before the page's own scripts (injected by the browser, so the page's CSP does not
# apply to it): records every Content-Security-Policy violation the page causes.
_CSP_WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""
# Console errors a dropped connection causes by design (the server is stopped on purpose).
_NETWORK_NOISE = (
    "net::ERR_CONNECTION_REFUSED",
    "net::ERR_INTERNET_DISCONNECTED",
    "net::ERR_CONNECTION_RESET",
    "net::ERR_EMPTY_RESPONSE",
    "WebSocket connection to",
    "Failed to load resource",
    # Chromium's note when engine.io-client writes (a ping's pong, a buffered packet) to a
    # websocket the browser is already closing because the network went away.
    "WebSocket is already in CLOSING or CLOSED state",
)


def require_browser() -> None:
    """Chromium, Playwright and the npm assets, or skip (fail in CI) saying what is missing."""
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)")
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        unavailable("the playwright package is missing: pip install -e '.[dev]'")
    for path, what in ((CLIENT, "clients/js, slychat-client"), (AXE, "axe-core")):
        if not path.is_file():
            unavailable(f"{path} is missing ({what} from npm): run `make test`")


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    require_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class DemoPage:
    """One window of the demo page, with what it logged and what it sent."""

    name: str
    context: BrowserContext
    page: Page
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    sent_frames: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    @classmethod
    async def open(cls, browser: Browser, url: str, name: str) -> DemoPage:
        context = await browser.new_context(viewport=DESKTOP)  # type: ignore[arg-type]
        await context.add_init_script(script=_CSP_WATCH)
        # axe-core as an init script: the page's CSP stays on (no bypass_csp), since a
        # script the browser injects is not the page's own.
        await context.add_init_script(path=AXE)
        page = await context.new_page()
        page.set_default_timeout(WAIT_MS)
        demo = cls(name, context, page)
        page.on("console", demo._console)
        page.on("pageerror", lambda exc: demo.page_errors.append(str(exc)))
        page.on("websocket", demo._websocket)
        page.on("dialog", demo._dialog)
        await page.goto(url)
        return demo

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    async def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        await dialog.accept()  # "Delete … for both of you?"

    def _websocket(self, ws: WebSocket) -> None:
        ws.on("framesent", lambda payload: self.sent_frames.append(str(payload)))

    # --- signing in -------------------------------------------------------------------------

    async def sign_in_dev(self, role: str, user_id: int) -> None:
        page = self.page
        await page.get_by_label(role.capitalize(), exact=True).check()
        await page.get_by_label("User id").fill(str(user_id))
        await page.get_by_role("button", name="Sign in").click()
        await self.wait_online()

    async def sign_in_token(self, token: str) -> None:
        await self.page.get_by_label("Token").fill(token)
        await self.page.get_by_role("button", name="Sign in").click()
        await self.wait_online()

    async def wait_online(self) -> None:
        await self.page.wait_for_selector("body[data-connection=online]")

    # --- reading the page -------------------------------------------------------------------

    def messages(self) -> Locator:
        """Every message element in the open conversation, pending sends included."""
        return self.page.locator("#messages li.msg")

    def message(self, text: str) -> Locator:
        return self.page.locator("#messages li.msg", has=self.page.locator(".text", has_text=text))

    def chat_row(self, product: str) -> Locator:
        return self.page.locator("#chat-list .chat-row", has_text=product)

    async def texts(self) -> list[str]:
        """The texts of the open conversation, top to bottom."""
        found: list[str] = await self.page.locator("#messages li.msg .text").all_inner_texts()
        return found

    async def seqs(self) -> list[int]:
        raw = await self.page.locator("#messages li.msg").evaluate_all(
            "els => els.map(e => e.dataset.seq)"
        )
        return [int(s) for s in raw if s]

    async def csp_violations(self) -> list[str]:
        found: list[str] = await self.page.evaluate("window.__cspViolations")
        return found

    def unexpected_console_errors(self) -> list[str]:
        return [e for e in self.console_errors if not any(n in e for n in _NETWORK_NOISE)]

    async def serious_accessibility_violations(self) -> list[str]:
        """axe-core's WCAG 2.x A/AA rules on the page as it stands."""
        result = await self.page.evaluate(
            """async () => {
                const r = await axe.run(document, {runOnly: {type: "tag",
                    values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}});
                return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 5)}));
            }"""
        )
        return [json.dumps(v) for v in result if v["impact"] in ("serious", "critical")]

    async def screenshot(self, label: str) -> Path:
        path = artifact(f"demo-{self.name}-{label}.png")
        await self.page.screenshot(path=str(path))
        return path

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.context.close()


def artifact(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name


def side_by_side(left: Path, right: Path, out: Path) -> Path:
    """Two screenshots next to each other on one canvas (README's docs/demo.png)."""
    from PIL import Image

    with Image.open(left) as a, Image.open(right) as b:
        gap = 24
        canvas = Image.new(
            "RGB", (a.width + b.width + 3 * gap, max(a.height, b.height) + 2 * gap), "#c9d3da"
        )
        canvas.paste(a.convert("RGB"), (gap, gap))
        canvas.paste(b.convert("RGB"), (a.width + 2 * gap, gap))
        canvas.save(out, optimize=True)
    return out
