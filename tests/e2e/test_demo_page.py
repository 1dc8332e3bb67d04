"""The demo page in headless Chromium: a customer window and a vendor window (two browser
contexts) talk through a real server, as two people would.

Every check runs on SQLite, in a database of its own: what they exercise is the page (the
engines behind the same events are the subject of the other end-to-end files).
Screenshots (desktop and phone sizes) go to test-artifacts/.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.demo_browser import (
    PHONE,
    WAIT_MS,
    DemoPage,
    artifact,
    chromium,
    side_by_side,
)
from tests.media_files import jpeg_with_exif, pdf
from tests.support import IN_CI, Client, Server, new_chat_fields, next_id, token

try:
    from playwright.async_api import expect
except ImportError:
    if IN_CI:
        raise
    pytest.skip(
        "the playwright package is missing: pip install -e '.[dev]'", allow_module_level=True
    )

expect.set_options(timeout=WAIT_MS)
PRODUCT = "Wireless Headphones"


def _start(database: Path | str, log_dir: Path, **env: str) -> Server:
    """A migrated server of its own: on `database` (a URL), or on SQLite in that folder."""
    url = database if isinstance(database, str) else f"sqlite+aiosqlite:///{database / 'demo.db'}"
    srv = Server(url, env=env)
    srv.migrate()
    return srv.start(log_dir)


@pytest.fixture
def dev_server(tmp_path: Path, log_dir: Path) -> Iterator[Server]:
    """Dev mode: no key configured, so the page gets its tokens from /api/dev/token."""
    srv = _start(tmp_path, log_dir, SLYCHAT_JWT_SECRET="")
    yield srv
    srv.stop()


async def _start_chat(
    customer: DemoPage, vendor_id: int, text: str, *, check_form: bool = False
) -> None:
    page = customer.page
    await page.get_by_role("button", name="New chat").click()
    await page.get_by_label("Product", exact=True).select_option(index=0)  # the headphones
    await page.get_by_label("Vendor id").fill(str(vendor_id))
    await page.get_by_label("Your name").fill("Ada Buyer")
    await page.locator("#first-message").fill(text)
    if check_form:
        await customer.screenshot("new-chat")
        assert await customer.serious_accessibility_violations() == []
    await page.locator("#new-chat").get_by_role("button", name="Send").click()
    await expect(customer.message(text)).to_have_attribute("data-state", re.compile("sent|deliv"))


async def _send(page: DemoPage, text: str) -> None:
    await page.page.locator("#text").fill(text)
    await page.page.locator("#text").press("Enter")


def _frames(page: DemoPage, event: str) -> int:
    """How many `event` packets the page sent over its websocket."""
    return sum(1 for f in page.sent_frames if f.startswith("42/chat,") and f'["{event}"' in f)


async def _check_clean(*pages: DemoPage, network_noise: bool = False) -> None:
    for p in pages:
        assert await p.csp_violations() == [], p.name
        errors = p.unexpected_console_errors() if network_noise else p.console_errors
        assert errors == [], p.name
        assert p.page_errors == [], p.name


async def test_customer_and_vendor_chat_in_the_browser(dev_server: Server, tmp_path: Path) -> None:
    customer_id, vendor_id = 1, 1  # this test's own database: the ids `make run` prints
    async with chromium() as browser:
        customer = await DemoPage.open(browser, f"{dev_server.url}/", "customer")
        vendor = await DemoPage.open(browser, f"{dev_server.url}/", "vendor")
        await expect(customer.page.get_by_label("User id")).to_be_visible()
        await customer.screenshot("sign-in")
        assert await customer.serious_accessibility_violations() == []
        await customer.sign_in_dev("customer", customer_id)
        await vendor.sign_in_dev("vendor", vendor_id)
        c, v = customer.page, vendor.page
        await expect(c.locator("#whoami")).to_have_text(f"Customer {customer_id}")

        # The customer starts a chat about a product; it reaches the vendor's list live,
        # unread, with the customer shown online.
        await _start_chat(customer, vendor_id, "Is it in stock?", check_form=True)
        row = vendor.chat_row(PRODUCT)
        await expect(row).to_have_attribute("data-unread", "1")
        await expect(row).to_contain_text("Ada Buyer")
        await expect(row.locator(".dot")).to_have_attribute("data-online", "true")
        await expect(customer.chat_row(PRODUCT).locator(".dot")).to_have_attribute(
            "data-online", "true"
        )
        await expect(row.locator("img")).to_have_count(1)  # the product picture

        # The vendor opens it: read, and the customer's tick says so.
        await row.click()
        await expect(vendor.message("Is it in stock?")).to_be_visible()
        await expect(customer.message("Is it in stock?")).to_have_attribute("data-state", "read")
        await expect(row).to_have_attribute("data-unread", "0")

        # Typing: shown on the other side, and throttled (one notice per 2 s at most).
        started = time.monotonic()
        await v.locator("#text").press_sequentially("Yes, in black and white", delay=60)
        typed_for = time.monotonic() - started
        await expect(c.locator("#typing")).to_have_text(re.compile(r"is typing"))
        # 23 keys, one notice, and one more per 2 s the typing took (a slow machine).
        assert 1 <= _frames(vendor, "typing") <= 1 + typed_for // 2, vendor.sent_frames
        await v.locator("#text").press("Enter")
        reply = customer.message("Yes, in black and white")
        await expect(reply).to_be_visible()
        await expect(c.locator("#typing")).to_have_text("")
        assert _frames(vendor, "stoppedTyping") >= 1
        # The customer has the chat open, so the reply is read at once.
        await expect(vendor.message("Yes, in black and white")).to_have_attribute(
            "data-state", "read"
        )

        await _send(customer, "Great, ordering now")
        await expect(vendor.message("Great, ordering now")).to_be_visible()

        # A photo through the upload route: the thumbnail shows on both sides.
        photo = tmp_path / "damaged.jpg"
        photo.write_bytes(jpeg_with_exif())
        await c.locator("#attach").set_input_files(str(photo))
        await c.locator("#text").fill("It arrived like this")
        await c.locator("#composer").get_by_role("button", name="Send").click()
        for side in (customer, vendor):
            img = side.message("It arrived like this").locator("img")
            await expect(img).to_be_visible()
            await expect(img).to_have_js_property("complete", True)
            assert await img.evaluate("i => i.naturalWidth") > 0

        # A PDF, without text: a download link on both sides.
        document = tmp_path / "invoice.pdf"
        document.write_bytes(pdf())
        await c.locator("#attach").set_input_files(str(document))
        await c.locator("#composer").get_by_role("button", name="Send").click()
        for side in (customer, vendor):
            await expect(side.page.locator("#messages a.file")).to_contain_text("PDF document")

        # The customer deletes a message of theirs: gone on both sides.
        await customer.message("Great, ordering now").get_by_role("button", name="Delete").click()
        await expect(customer.message("Great, ordering now")).to_have_count(0)
        await expect(vendor.message("Great, ordering now")).to_have_count(0)
        assert await customer.texts() == await vendor.texts()
        assert await customer.texts() == [
            "Is it in stock?",
            "Yes, in black and white",
            "It arrived like this",
        ]

        # The vendor, reading along, has nothing unread; the customer's ticks say so.
        await expect(row).to_have_attribute("data-unread", "0")
        await expect(customer.message("It arrived like this")).to_have_attribute(
            "data-state", "read"
        )

        # Screenshots at desktop and phone sizes, each checked by axe-core.
        shots = {}
        for side in (customer, vendor):
            shots[side.name] = await side.screenshot("desktop")
            assert await side.serious_accessibility_violations() == [], side.name
        side_by_side(shots["customer"], shots["vendor"], artifact("demo-side-by-side.png"))
        for side in (customer, vendor):
            await side.page.set_viewport_size(PHONE)  # type: ignore[arg-type]
            await side.screenshot("phone-conversation")
            assert await side.serious_accessibility_violations() == [], side.name
            await side.page.get_by_role("button", name="Chats", exact=True).click()
            await expect(side.page.locator("#chat-list")).to_be_visible()
            await side.screenshot("phone-chats")
            assert await side.serious_accessibility_violations() == [], side.name

        await _check_clean(customer, vendor)

        # The vendor signs out: the customer sees them go offline.
        await v.get_by_role("button", name="Sign out").click()
        await expect(v.get_by_role("button", name="Sign in")).to_be_visible()
        await expect(customer.chat_row(PRODUCT).locator(".dot")).to_have_attribute(
            "data-online", "false"
        )


async def _react(side: DemoPage, text: str, emoji: str, shot: str = "") -> None:
    """Open the picker on the message holding `text`, and pick `emoji`."""
    message = side.message(text)
    await message.get_by_role("button", name=re.compile("^React to")).click()
    await expect(message.locator(".picker")).to_be_visible()
    if shot:
        await side.screenshot(shot)
    await message.get_by_role("button", name=f"React {emoji}").click()


async def test_edits_reactions_replies_mute_and_archive_in_the_browser(
    dev_server: Server,
) -> None:
    """Each conversation feature as the two people use it: the vendor quotes the customer
    and the quote jumps to its message; the customer edits (the "edited" mark on both
    sides, the quote follows); reactions from the picker; mute and archive from the chat
    menu, the archived chat in its own list."""
    server = dev_server
    async with chromium() as browser:
        customer = await DemoPage.open(browser, f"{server.url}/", "customer")
        vendor = await DemoPage.open(browser, f"{server.url}/", "vendor")
        await customer.sign_in_dev("customer", 1)
        await vendor.sign_in_dev("vendor", 1)
        c, v = customer.page, vendor.page
        await _start_chat(customer, 1, "Do you ship to Lyon?")
        await vendor.chat_row(PRODUCT).click()
        await _send(customer, "And to Paris?")
        await expect(vendor.message("And to Paris?")).to_be_visible()

        # Reply: the quote bar while composing, the quote on both sides.
        await vendor.message("Do you ship to Lyon?").get_by_role("button", name="Reply").click()
        await expect(v.locator("#compose-bar")).to_be_visible()
        await expect(v.locator("#compose-bar-text")).to_contain_text("Do you ship to Lyon?")
        await vendor.screenshot("reply-composing")
        await _send(vendor, "Yes, within 2 days")
        await expect(v.locator("#compose-bar")).to_be_hidden()
        for side in (customer, vendor):
            quote = side.message("Yes, within 2 days").locator(".quote")
            await expect(quote).to_contain_text("Do you ship to Lyon?")
        # Tapping the quote brings its message into view, marked.
        await customer.message("Yes, within 2 days").locator(".quote").click()
        await expect(customer.message("Do you ship to Lyon?")).to_have_class(re.compile("flash"))
        await expect(customer.message("Do you ship to Lyon?")).to_be_in_viewport()
        await customer.screenshot("reply-jump")

        # Edit: the text in the composer, the "edited" mark on both sides, and the quote
        # of the edited message follows it.
        await customer.message("Do you ship to Lyon?").get_by_role("button", name="Edit").click()
        await expect(c.locator("#compose-bar-text")).to_contain_text("Editing")
        await expect(c.locator("#text")).to_have_value("Do you ship to Lyon?")
        await c.locator("#text").fill("Do you ship to Lyon or Nice?")
        await c.locator("#text").press("Enter")
        for side in (customer, vendor):
            edited = side.message("Do you ship to Lyon or Nice?")
            await expect(edited.locator(".edited")).to_have_text(re.compile("edited"))
            quote = side.message("Yes, within 2 days").locator(".quote")
            await expect(quote).to_contain_text("Lyon or Nice?")
        assert await customer.texts() == await vendor.texts()
        await vendor.screenshot("edited")

        # Reactions from the picker: one per person, a second tap on it takes it back.
        await (
            vendor.message("And to Paris?").get_by_role("button", name=re.compile("^React")).click()
        )
        await expect(vendor.message("And to Paris?").locator(".picker")).to_be_visible()
        await vendor.screenshot("reaction-picker")
        await vendor.message("And to Paris?").get_by_role("button", name="React 👍").click()
        await (
            customer.message("And to Paris?")
            .get_by_role("button", name=re.compile("^React to"))
            .click()
        )
        await customer.message("And to Paris?").get_by_role("button", name="React ❤️").click()
        for side in (customer, vendor):
            await expect(side.message("And to Paris?").locator(".reaction")).to_have_text(
                [re.compile("👍"), re.compile("❤️")]
            )
        await customer.screenshot("reactions")
        await (
            vendor.message("And to Paris?")
            .get_by_role("button", name=re.compile("^React to"))
            .click()
        )
        await vendor.message("And to Paris?").get_by_role("button", name="React 😂").click()
        for side in (customer, vendor):  # the vendor's replaced, not added
            await expect(side.message("And to Paris?").locator(".reaction")).to_have_text(
                [re.compile("❤️"), re.compile("😂")]
            )

        # Mute, then archive, from the chat menu: for the customer only.
        await c.get_by_role("button", name="Chat options").click()
        await expect(c.locator("#chat-menu")).to_be_visible()
        await customer.screenshot("chat-menu")
        await c.get_by_role("button", name="Mute", exact=True).click()
        row = customer.chat_row(PRODUCT)
        await expect(row).to_have_attribute("data-muted", "true")
        await expect(vendor.chat_row(PRODUCT)).to_have_attribute("data-muted", "false")
        await c.get_by_role("button", name="Chat options").click()
        await expect(c.get_by_role("button", name="Unmute")).to_be_visible()
        await c.get_by_role("button", name="Archive", exact=True).click()
        await expect(customer.chat_row(PRODUCT)).to_have_count(0)
        await expect(c.locator("#no-chats")).to_be_visible()
        await expect(vendor.chat_row(PRODUCT)).to_have_count(1)
        await c.get_by_role("button", name="Archived chats").click()
        await expect(customer.chat_row(PRODUCT)).to_have_count(1)
        await customer.screenshot("archived")
        # A reload holds only unarchived chats: the archived list is asked for.
        await c.reload()
        await customer.wait_online()
        await expect(customer.chat_row(PRODUCT)).to_have_count(0)
        await c.get_by_role("button", name="Archived chats").click()
        await customer.chat_row(PRODUCT).click()
        await c.get_by_role("button", name="Chat options").click()
        await c.get_by_role("button", name="Unarchive").click()
        await c.get_by_role("button", name="Back to chats").click()
        await expect(customer.chat_row(PRODUCT)).to_have_count(1)
        await expect(customer.chat_row(PRODUCT)).to_have_attribute("data-muted", "true")

        for side in (customer, vendor):
            assert await side.serious_accessibility_violations() == [], side.name
        await _check_clean(customer, vendor)


async def test_pages_catch_up_after_a_server_restart(tmp_path: Path, log_dir: Path) -> None:
    """With a configured key (SLYCHAT_DEMO=1) the page takes pasted tokens. The server
    restarts; while the customer's window is still away, the vendor sends and deletes; the
    customer's window comes back with every message exactly once, and what it wrote while
    offline is sent exactly once."""
    srv = _start(tmp_path, log_dir, SLYCHAT_DEMO="1")
    customer_id, vendor_id = next_id(), next_id()
    try:
        async with chromium() as browser:
            customer = await DemoPage.open(browser, f"{srv.url}/", "customer")
            vendor = await DemoPage.open(browser, f"{srv.url}/", "vendor")
            await expect(customer.page.get_by_label("Token")).to_be_visible()
            await expect(customer.page.get_by_label("User id")).to_be_hidden()
            await customer.screenshot("sign-in-with-token")
            assert await customer.serious_accessibility_violations() == []
            await customer.sign_in_token(token("customer", customer_id))
            await vendor.sign_in_token(token("vendor", vendor_id))
            await _start_chat(customer, vendor_id, "Is it in stock?")
            await vendor.chat_row(PRODUCT).click()
            await _send(vendor, "Hello from the store")
            await _send(vendor, "Anything else?")
            await expect(customer.message("Anything else?")).to_be_visible()

            await asyncio.to_thread(srv.stop)
            for side in (customer, vendor):
                await expect(side.page.locator("#banner")).to_contain_text("Connection lost")
            await customer.context.set_offline(True)  # this window stays away for now
            await _send(customer, "Sent while offline")
            await expect(customer.message("Sent while offline")).to_have_attribute(
                "data-state", "pending"
            )

            await asyncio.to_thread(srv.start, log_dir)
            await vendor.wait_online()
            await expect(vendor.page.locator("#banner")).to_be_hidden()
            for text in ("Away 1", "Away 2", "Away 3"):
                await _send(vendor, text)
                await expect(vendor.message(text)).to_have_attribute("data-state", "sent")
            # Deletions, one of a message the customer's window already shows: only the
            # sync (not the reloaded chat list) can tell it to drop that one.
            for text in ("Away 2", "Hello from the store"):
                await vendor.message(text).get_by_role("button", name="Delete").click()
                await expect(vendor.message(text)).to_have_count(0)
            await expect(customer.page.locator("#banner")).to_contain_text("Connection lost")

            await customer.context.set_offline(False)
            await customer.wait_online()
            await expect(customer.page.locator("#banner")).to_be_hidden()
            mine = customer.message("Sent while offline")
            await expect(mine).to_have_attribute("data-state", re.compile("sent|delivered|read"))
            await expect(vendor.message("Sent while offline")).to_be_visible()

            expected = [
                "Is it in stock?",
                "Anything else?",
                "Away 1",
                "Away 3",
                "Sent while offline",
            ]
            for side in (customer, vendor):
                await expect(side.messages()).to_have_count(len(expected))
                assert await side.texts() == expected, side.name
                seqs = await side.seqs()
                assert seqs == sorted(set(seqs)), side.name  # in seq order, none twice
            # Both windows read everything: the vendor's ticks turn to read.
            await expect(vendor.message("Away 3")).to_have_attribute("data-state", "read")
            await _check_clean(customer, vendor, network_noise=True)
    finally:
        srv.stop()


async def test_a_rate_limited_page_waits_and_sends_each_message_once(
    tmp_path: Path, log_dir: Path
) -> None:
    """Over SLYCHAT_RATE_MESSAGES the server answers 429 with retryAfter: the page says so,
    waits, and sends again with the same clientMessageId, so nothing is lost or doubled."""
    srv = _start(tmp_path, log_dir, SLYCHAT_JWT_SECRET="", SLYCHAT_RATE_MESSAGES="1/s:2")
    try:
        async with chromium() as browser:
            customer = await DemoPage.open(browser, f"{srv.url}/", "customer")
            vendor_id = next_id()
            await customer.sign_in_dev("customer", next_id())
            await _start_chat(customer, vendor_id, "First")
            burst = [f"Burst {i}" for i in range(1, 6)]
            for text in burst:
                await _send(customer, text)
            await expect(customer.page.locator("#notice")).to_contain_text("Slow down")
            for text in burst:
                await expect(customer.message(text)).to_have_attribute("data-state", "sent")
            assert await customer.texts() == ["First", *burst]
            await _check_clean(customer)
    finally:
        srv.stop()


@pytest.mark.parametrize("secret", ["kept", "new"])
async def test_dev_mode_pages_carry_on_across_a_restart(
    tmp_path: Path, log_dir: Path, secret: str
) -> None:
    """A restarted dev-mode server signs with the secret it keeps beside the database: the
    pages' tokens stay good, and they carry on without asking for new ones. One that starts
    with a new secret (its kept one removed, or on a database with no place to keep one)
    makes the pages' tokens and sync cursors invalid: they ask for new tokens, reload their
    chats (a sync reset) and carry on. Either way every message shows once."""
    srv = _start(tmp_path, log_dir, SLYCHAT_JWT_SECRET="")
    try:
        async with chromium() as browser:
            customer = await DemoPage.open(browser, f"{srv.url}/", "customer")
            vendor = await DemoPage.open(browser, f"{srv.url}/", "vendor")
            vendor_id = next_id()
            await customer.sign_in_dev("customer", next_id())
            await vendor.sign_in_dev("vendor", vendor_id)
            await _start_chat(customer, vendor_id, "Before the restart")
            await vendor.chat_row(PRODUCT).click()
            await expect(vendor.message("Before the restart")).to_be_visible()
            asked: list[str] = []
            for side in (customer, vendor):
                side.page.on(
                    "request",
                    lambda request: (
                        asked.append(request.url)
                        if request.url.endswith("/api/dev/token")
                        else None
                    ),
                )

            await asyncio.to_thread(srv.stop)
            await expect(customer.page.locator("#banner")).to_contain_text("Connection lost")
            if secret == "new":
                (tmp_path / "demo.db.dev-secret").unlink()
            await asyncio.to_thread(srv.start, log_dir)
            for side in (customer, vendor):
                await side.wait_online()
                await expect(side.page.locator("#banner")).to_be_hidden()
            await _send(vendor, "After the restart")
            await expect(customer.message("After the restart")).to_be_visible()
            for side in (customer, vendor):
                assert await side.texts() == ["Before the restart", "After the restart"]
            await _check_clean(customer, vendor, network_noise=True)
            assert bool(asked) == (secret == "new"), asked
    finally:
        srv.stop()


async def test_the_page_says_when_its_client_library_is_missing(dev_server: Server) -> None:
    """Without npm, `make run` cannot copy socket.io-client: the page says what to do
    instead of failing silently (the file and the server's word on it both missing)."""
    async with chromium() as browser:
        page = await DemoPage.open(browser, "about:blank", "missing-client")

        async def without_client(route: Any) -> None:
            response = await route.fetch()
            config = await response.json()
            await route.fulfill(response=response, json=config | {"clientLibrary": False})

        await page.page.route("**/demo/config.json", without_client)
        await page.page.goto(f"{dev_server.url}/")
        await expect(
            page.page.get_by_role("alert").filter(has_text="cannot start")
        ).to_contain_text("Socket.IO client library is missing")
        await expect(page.page.locator("#sign-in")).to_be_hidden()
        await page.close()


async def test_older_messages_load_when_scrolled_to_the_top(tmp_path: Path, log_dir: Path) -> None:
    """A long chat opens at its newest page; scrolling up asks for older ones (`joinChat`
    with `before`) until there are none, each message once, in order."""
    srv = _start(tmp_path, log_dir, SLYCHAT_DEMO="1", SLYCHAT_PAGE_SIZE="20")
    customer_id, vendor_id = next_id(), next_id()
    sender = Client(srv.url, "customer", customer_id)
    # The vendor's other tab, open while they arrive: delivered, so no offline batch
    # hands the page all of them at once.
    other_tab = Client(srv.url, "vendor", vendor_id)
    try:
        for client in (sender, other_tab):
            await client.connect()
            await client.ready()
        # Chat metadata and text are whatever a client sent: shown as text, never as markup.
        hostile = '<img src=x onerror="alert(1)"><b>bold</b>'
        texts = [f"Message {i:02d}" for i in range(1, 45)] + [hostile]
        for text in texts:
            fields = new_chat_fields(productName=PRODUCT, customerName=hostile)
            fields = fields if text == texts[0] else {}
            ack = await sender.call(
                "sendMessage",
                {"productId": "p-long", "recipientId": vendor_id, "text": text} | fields,
            )
            assert ack["error"] is False, ack
        async with chromium() as browser:
            vendor = await DemoPage.open(browser, f"{srv.url}/", "vendor")
            await vendor.sign_in_token(token("vendor", vendor_id))
            await vendor.chat_row(PRODUCT).click()
            await expect(vendor.messages()).to_have_count(30)  # the newest page
            assert await vendor.texts() == texts[-30:]
            older = vendor.page.get_by_role("button", name="Load older messages")
            await expect(older).to_be_visible()
            await vendor.page.locator("#scroller").evaluate("e => { e.scrollTop = 0; }")
            await expect(vendor.messages()).to_have_count(45)
            assert await vendor.texts() == texts
            await expect(older).to_be_hidden()
            await expect(vendor.chat_row(PRODUCT)).to_contain_text(hostile)
            await expect(vendor.page.locator("#main b, #main img[src=x]")).to_have_count(0)
            assert vendor.dialogs == []
            await vendor.screenshot("long-chat")
            assert await vendor.serious_accessibility_violations() == []
            await _check_clean(vendor)
    finally:
        await sender.close()
        await other_tab.close()
        srv.stop()


async def test_search_finds_a_message_and_opens_its_chat_there(
    tmp_path: Path, log_dir: Path
) -> None:
    """The search box over the chat list: accents and case aside, the last word as typed so
    far; a result opens its chat, older pages loaded until the message is there, marked."""
    srv = _start(tmp_path, log_dir, SLYCHAT_DEMO="1", SLYCHAT_PAGE_SIZE="20")
    customer_id, vendor_id = next_id(), next_id()
    sender = Client(srv.url, "customer", customer_id)
    other_tab = Client(srv.url, "vendor", vendor_id)
    try:
        for client in (sender, other_tab):
            await client.connect()
            await client.ready()
        texts = [f"Message {i:02d}" for i in range(1, 45)]
        texts[2] = "Is the Crème brûlée set still available?"
        for text in texts:
            fields = new_chat_fields(productName=PRODUCT) if text == texts[0] else {}
            ack = await sender.call(
                "sendMessage",
                {"productId": "p-search", "recipientId": vendor_id, "text": text} | fields,
            )
            assert ack["error"] is False, ack
        async with chromium() as browser:
            vendor = await DemoPage.open(browser, f"{srv.url}/", "vendor")
            await vendor.sign_in_token(token("vendor", vendor_id))
            await expect(vendor.chat_row(PRODUCT)).to_be_visible()
            box = vendor.page.get_by_role("searchbox", name="Search messages")
            await box.fill("creme BRU")
            hits = vendor.page.locator("#search-results .search-hit")
            await expect(hits).to_have_count(1)
            await expect(hits.first).to_contain_text("Crème brûlée")
            await vendor.screenshot("search-results")
            await hits.first.click()
            found = vendor.page.locator("#messages .msg.found")
            await expect(found).to_have_count(1)
            await expect(found).to_contain_text("Crème brûlée")
            await expect(found).to_be_in_viewport()
            await vendor.screenshot("search-opened-at-message")
            await box.fill("nothing like this")
            await expect(vendor.page.locator("#search-status")).to_have_text("No messages found.")
            await expect(hits).to_have_count(0)
            assert await vendor.serious_accessibility_violations() == []
            await _check_clean(vendor)
    finally:
        await sender.close()
        await other_tab.close()
        srv.stop()


async def test_a_masked_message_shows_its_mask_and_why(tmp_path: Path, log_dir: Path) -> None:
    """The demo runs with SLYCHAT_CONTACT_POLICY=mask (as `make run`): a phone number in a
    message reads as the mask on both sides, the sender's included, with a short note
    under it saying why; the page stays within its CSP and accessible."""
    srv = _start(tmp_path, log_dir, SLYCHAT_JWT_SECRET="", SLYCHAT_CONTACT_POLICY="mask")
    try:
        async with chromium() as browser:
            customer = await DemoPage.open(browser, f"{srv.url}/", "customer")
            vendor = await DemoPage.open(browser, f"{srv.url}/", "vendor")
            await customer.sign_in_dev("customer", 1)
            await vendor.sign_in_dev("vendor", 1)
            await _start_chat(customer, 1, "Is it still available?")
            await vendor.chat_row(PRODUCT).click()
            await _send(customer, "Yes? Call me on +44 7911 123456")
            shown = "Yes? Call me on [contact hidden]"
            for side in (customer, vendor):
                masked = side.message(shown)
                await expect(masked).to_be_visible()
                await expect(masked.locator(".masked-note")).to_have_text(
                    "Contact details are hidden to keep the deal on the platform"
                )
                # A message without a detail has no note.
                clean = side.message("Is it still available?")
                await expect(clean.locator(".masked-note")).to_have_count(0)
                assert "7911" not in "".join(await side.texts())
            await customer.screenshot("masked")
            await vendor.screenshot("masked")
            assert await vendor.serious_accessibility_violations() == []
            await _check_clean(customer, vendor)
    finally:
        srv.stop()
