"""The moderation console (`/moderation`) on a real production-mode server (a JWT key, no
demo): served with its strict policy in every mode, and used in headless Chromium as a
moderator would, against the moderation API and real Socket.IO clients.

SQLite only: what runs here is the page; the API beneath it has its own tests on both
engines. Screenshots (desktop and phone sizes) go to test-artifacts/.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.demo_browser import DESKTOP, WAIT_MS, DemoPage, artifact, chromium
from tests.e2e.media_support import File, upload
from tests.e2e.test_admin_api import create_key
from tests.e2e.test_demo_routes import MODES
from tests.media_files import jpeg_with_exif
from tests.support import IN_CI, Client, Server, next_id, servers_by_mode
from tests.support.chat import ready, send

try:
    from playwright.async_api import expect
except ImportError:
    if IN_CI:
        raise
    pytest.skip(
        "the playwright package is missing: pip install -e '.[dev]'", allow_module_level=True
    )

expect.set_options(timeout=WAIT_MS)
SMALLEST_PHONE = {"width": 375, "height": 667}
STORAGE_KEY = "slychat-moderation-key"


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory, log_dir: Path) -> Iterator[dict[str, str]]:
    """One server per mode of the demo's tests (dev, demo, production...): mode -> URL."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('console') / 'console.db'}"
    with servers_by_mode(url, log_dir, MODES) as urls:
        yield urls


def _policy(response: httpx.Response) -> dict[str, str]:
    header = response.headers["content-security-policy"]
    return dict(d.strip().split(" ", 1) for d in header.split(";"))


@pytest.mark.parametrize("mode", list(MODES))
def test_the_console_is_served_in_every_mode_with_a_strict_policy(
    servers: dict[str, str], mode: str
) -> None:
    base = servers[mode]
    page = httpx.get(f"{base}/moderation", timeout=10)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'src="/moderation/js/main.js"' in page.text
    # Nothing inline: the policy would block it.
    assert "<script>" not in page.text
    assert "style=" not in page.text
    csp = _policy(page)
    assert csp["default-src"] == "'none'"
    assert csp["script-src"] == "'self'"
    assert csp["style-src"] == "'self'"
    assert csp["img-src"] == "'self' blob:"  # media is fetched with the key, shown as blobs
    assert csp["connect-src"] == "'self'"  # the moderation API, nothing else
    assert csp["frame-ancestors"] == "'none'"
    assert csp["form-action"] == "'none'"
    assert "unsafe" not in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "set-cookie" not in page.headers

    assets = {"/moderation/js/main.js": "text/javascript", "/moderation/style.css": "text/css"}
    for path, kind in assets.items():
        asset = httpx.get(f"{base}{path}", timeout=10)
        assert asset.status_code == 200, path
        assert asset.headers["content-type"].startswith(kind)
        assert asset.headers["x-content-type-options"] == "nosniff"
        assert asset.headers["content-security-policy"] == "default-src 'none'; sandbox"
    for escape in ("/moderation/../pyproject.toml", "/moderation/%2e%2e/%2e%2e/routes/demo.py"):
        assert httpx.get(f"{base}{escape}", timeout=10).status_code == 404
    assert httpx.get(f"{base}/moderation/nothing.js", timeout=10).status_code == 404


def test_every_module_the_console_imports_is_served(servers: dict[str, str]) -> None:
    """The page's modules import each other by relative path: each one is there."""
    base = servers["plain"]
    folder = Path(__file__).resolve().parents[2] / "src" / "slychat" / "static" / "moderation"
    for module in sorted((folder / "js").glob("*.js")):
        served = httpx.get(f"{base}/moderation/js/{module.name}", timeout=10)
        assert served.status_code == 200, module.name
        assert served.text == module.read_text()


async def test_the_sign_in_form_keeps_nothing_until_a_key_is_taken(
    servers: dict[str, str],
) -> None:
    """Before any key: an accessible form, no CSP violation, nothing stored anywhere; a
    string that is not an API key is refused in the page, before anything is sent."""
    async with chromium() as browser:
        console = await DemoPage.open(browser, f"{servers['plain']}/moderation", "console")
        page = console.page
        sent: list[str] = []
        page.on("request", lambda r: sent.append(r.url) if "/api/" in r.url else None)
        await expect(page.get_by_label("API key")).to_be_visible()
        await expect(page.get_by_label("API key")).to_be_focused()
        await page.get_by_label("API key").fill("eyJhbGciOi.not-a-key.x")
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.locator("#sign-in-error")).to_contain_text("not an API key")
        assert sent == []
        assert await page.evaluate("sessionStorage.length") == 0
        assert await page.evaluate("localStorage.length") == 0
        assert await console.context.cookies() == []
        assert await console.serious_accessibility_violations() == []
        await page.screenshot(path=str(artifact("moderation-sign-in-desktop.png")))
        await page.set_viewport_size(SMALLEST_PHONE)  # type: ignore[arg-type]
        assert await _horizontal_overflow(console) == 0
        await page.screenshot(path=str(artifact("moderation-sign-in-phone.png")))
        assert await console.csp_violations() == []
        assert console.console_errors == []
        assert console.page_errors == []
        await console.close()


async def _horizontal_overflow(console: DemoPage) -> int:
    """How many pixels the page is wider than the window (0: no horizontal scroll)."""
    overflow: int = await console.page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    return overflow


# --- a moderator at work ----------------------------------------------------------------

REPORTS = "/api/v1/admin/reports"
PHONE_NUMBER = "+1 415 555 0134"
OFFER = "Pay me outside the site, it is cheaper"
PAGE = 50  # the console's page of reports (main.js, PAGE_SIZE)


@pytest.fixture
def moderated(tmp_path: Path, log_dir: Path) -> Iterator[Server]:
    """Production mode, contact details masked (so a snapshot's shown and original texts
    differ, and the server files an automatic report), suspensions seen within 0.5 s."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'moderated.db'}"
    env = {"SLYCHAT_CONTACT_POLICY": "mask", "SLYCHAT_REVOCATION_POLL": "0.5"}
    srv = Server(url, env=env, media_dir=tmp_path / "media")
    srv.migrate()
    srv.start(log_dir)
    yield srv
    srv.stop()


async def _open_reports(server: Server, key: str, count: int) -> list[dict[str, Any]]:
    """The open reports once there are `count` (the automatic one is filed after the send
    is answered)."""
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        for _ in range(100):
            response = await http.get(
                REPORTS, params={"status": "open"}, headers={"Authorization": f"Bearer {key}"}
            )
            assert response.status_code == 200, response.text
            reports: list[dict[str, Any]] = response.json()["data"]["reports"]
            if len(reports) >= count:
                assert len(reports) == count, reports
                return reports
            await asyncio.sleep(0.1)
    raise AssertionError(f"fewer than {count} open reports: {reports}")


async def _dropped(client: Client, within: float = 10.0) -> None:
    for _ in range(int(within / 0.05)):
        if not client.sio.connected:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{client.role} {client.id} is still connected")


async def test_a_moderator_reads_a_report_and_suspends_the_user(
    moderated: Server, tmp_path: Path
) -> None:
    server = moderated
    key = create_key(server, "moderation:read", "moderation:write", name="moderator ada")
    customer = await ready(server, "customer")
    vendor = await ready(server, "vendor")
    other_customer = await ready(server, "customer")
    product = f"p-{next_id()}"
    try:
        # A chat in which the vendor asks to be paid off the platform (masked: the server
        # files an automatic report) and sends a photo; the customer reports the message.
        await send(customer, product, vendor.id, "Is the lamp still available?", new=True)
        offer = await send_masked(vendor, product, customer.id, "Pay me outside the site")
        await _open_reports(server, key, 1)  # the automatic one, filed first
        edit = {"messageId": offer["id"], "text": f"{OFFER}: call {PHONE_NUMBER}"}
        assert (await vendor.call("editMessage", edit))["error"] is False
        photo = await upload(
            server,
            "send-image",
            [File(jpeg_with_exif(), "lamp.jpg", "image/jpeg")],
            role="vendor",
            user_id=vendor.id,
            recipient_id=customer.id,
            product_id=product,
            text="Here it is",
        )
        assert photo.status_code == 201, photo.text
        ack = await customer.call(
            "reportMessage",
            {"messageId": offer["id"], "reason": "scam", "note": "Wants to be paid outside"},
        )
        assert ack["statusCode"] == 201, ack
        reported = ack["data"]["id"]
        # Another customer reports the vendor: three open reports against them.
        await send(other_customer, f"p-{next_id()}", vendor.id, "Hello?", new=True)
        ack = await other_customer.call(
            "reportUser", {"userId": vendor.id, "userType": "VENDOR", "reason": "harassment"}
        )
        assert ack["statusCode"] == 201, ack
        harassment = ack["data"]["id"]
        await _open_reports(server, key, 3)

        async with chromium() as browser:
            console = await DemoPage.open(browser, f"{server.url}/moderation", "console")
            page = console.page
            await _sign_in(console, key)
            vendor_name = f"Vendor {vendor.id}"

            # The queue: newest first, counts by reason, the vendor first among offenders.
            rows = page.locator("#report-list .report-row")
            await expect(rows).to_have_count(3)
            await expect(rows.nth(0)).to_contain_text("Harassment")
            await expect(rows.nth(1)).to_contain_text("Scam")
            await expect(rows.nth(2)).to_contain_text("Off-platform contact")
            await expect(rows.nth(2)).to_contain_text("auto")
            for reason in ("scam", "harassment", "off_platform"):
                await expect(page.locator(f"#counts li[data-reason={reason}]")).to_have_text(
                    re.compile(r"^1 ")
                )
            offender = page.locator("#offenders button")
            await expect(offender).to_have_count(1)
            await expect(offender).to_contain_text(vendor_name)
            await expect(offender).to_contain_text("3 open")
            assert await console.serious_accessibility_violations() == []
            await page.screenshot(path=str(artifact("moderation-queue-desktop.png")))
            # An offender narrows the queue to the reports against them, and back.
            await offender.click()
            await expect(page.locator("#target-filter-text")).to_have_text(
                f"Reports against {vendor_name}"
            )
            await expect(page.locator("#target-filter-clear")).to_be_focused()
            await expect(rows).to_have_count(3)
            await page.get_by_role("button", name="All users").click()
            await expect(page.locator("#target-filter")).to_be_hidden()
            await expect(offender).to_be_visible()

            # The report: shown and original text side by side, the conversation around
            # it, the photo fetched with the key, the vendor's other reports.
            await rows.nth(1).click()
            await expect(page.locator("#detail-title")).to_have_text(f"Scam: {vendor_name}")
            await expect(page.locator("#detail-title")).to_be_focused()
            await expect(page.locator("#shown-text")).to_contain_text("[contact hidden]")
            await expect(page.locator("#shown-text")).not_to_contain_text(PHONE_NUMBER)
            await expect(page.locator("#original-text")).to_contain_text(PHONE_NUMBER)
            await expect(page.locator("#facts")).to_contain_text("Wants to be paid outside")
            await expect(page.locator("#versions li")).to_have_count(1)  # before the edit
            await expect(page.locator("#versions li")).not_to_contain_text("cheaper")
            context = page.locator("#context li")
            await expect(context.first).to_contain_text("Is the lamp still available?")
            await expect(page.locator("#context li.reported")).to_contain_text("[contact hidden]")
            await expect(page.locator("#context")).to_contain_text("Here it is")
            thumbnail = page.locator("#media img")
            await expect(thumbnail).to_have_count(1)
            await expect(thumbnail).to_have_js_property("complete", True)
            assert await thumbnail.evaluate("i => i.naturalWidth") > 0
            assert (await thumbnail.get_attribute("src") or "").startswith("blob:")
            await expect(page.locator("#others .report-row")).to_have_count(2)
            await expect(page.locator("#no-decisions")).to_be_visible()
            assert await console.serious_accessibility_violations() == []
            await page.screenshot(path=str(artifact("moderation-report-desktop.png")))
            await page.set_viewport_size(SMALLEST_PHONE)  # type: ignore[arg-type]
            await expect(page.locator("#queue")).to_be_hidden()  # one pane at a time
            assert await _horizontal_overflow(console) == 0
            assert await console.serious_accessibility_violations() == []
            await page.screenshot(path=str(artifact("moderation-report-phone.png")), full_page=True)
            await page.get_by_role("button", name="Reports", exact=True).click()
            await expect(page.locator("#queue")).to_be_visible()
            assert await _horizontal_overflow(console) == 0
            await page.screenshot(path=str(artifact("moderation-queue-phone.png")), full_page=True)
            await rows.nth(1).click()
            await page.set_viewport_size(DESKTOP)  # type: ignore[arg-type]

            # Suspend, with a note, until tomorrow: the decision is shown, and the vendor's
            # socket is dropped.
            await page.get_by_label("Note (optional)").fill("Off-platform payment, second time")
            tomorrow = datetime.now() + timedelta(days=1)  # local, as the browser reads it
            await page.get_by_label("Suspend until (optional)").fill(
                tomorrow.strftime("%Y-%m-%dT%H:%M")
            )
            await page.get_by_role("button", name="Suspend user").click()
            decision = page.locator("#decisions li[data-action=suspend_user]")
            await expect(decision).to_contain_text("User suspended")
            await expect(decision).to_contain_text("moderator ada")
            await expect(decision).to_contain_text("Off-platform payment, second time")
            await expect(page.locator("#status")).to_have_text("Report resolved: user suspended.")
            await expect(page.locator("#decide")).to_be_hidden()
            await _dropped(vendor)
            assert customer.sio.connected  # the reporter stays
            await expect(rows).to_have_count(2)  # the queue reloaded: no longer open
            await page.screenshot(path=str(artifact("moderation-resolved-desktop.png")))
            assert await console.csp_violations() == []
            assert console.console_errors == []

            resolved = await _report(server, key, reported)
            assert resolved["status"] == "resolved"
            [made] = resolved["decisions"]
            assert made["action"] == "suspend_user"
            assert made["note"] == "Off-platform payment, second time"
            until = datetime.fromisoformat(made["until"])
            assert abs(until - tomorrow.astimezone()) < timedelta(minutes=1)

            # The resolved ones, on their own.
            await page.get_by_label("Resolved", exact=True).check()
            await expect(rows).to_have_count(1)
            await expect(rows.first).to_contain_text("resolved")

            # Someone else dismisses the harassment report while it is open here: the
            # page's own decision is refused (409), said so, and the report reloaded.
            await page.get_by_label("Open", exact=True).check()
            await page.locator(f"#report-list .report-row[data-id='{harassment}']").click()
            await expect(page.locator("#detail-title")).to_have_text(f"Harassment: {vendor_name}")
            await expect(page.locator("#delete-message")).to_be_hidden()  # a user report
            await _resolve(server, key, harassment, "dismiss")
            await page.get_by_role("button", name="Dismiss", exact=True).click()
            await expect(page.locator("#alert")).to_be_visible()
            await expect(page.locator("#alert-text")).to_contain_text("already resolved")
            await expect(page.locator("#decisions li[data-action=dismiss]")).to_have_count(1)
            await expect(page.locator("#decide")).to_be_hidden()
            assert await console.serious_accessibility_violations() == []

            # Signing out forgets the key.
            await page.get_by_role("button", name="Sign out").click()
            await expect(page.get_by_label("API key")).to_be_visible()
            assert await page.evaluate("sessionStorage.length") == 0
            assert await console.context.cookies() == []
            await expect(page.locator("#report-list .report-row")).to_have_count(0)
            await page.reload()
            await expect(page.get_by_label("API key")).to_be_visible()

            assert await console.csp_violations() == []
            # Only the refused decision's own line ("Failed to load resource: ... 409").
            assert console.unexpected_console_errors() == []
            assert console.page_errors == []
            await console.close()
    finally:
        for client in (customer, vendor, other_customer):
            await client.close()


async def test_a_refused_key_says_why(moderated: Server) -> None:
    """An unknown key cannot sign in (401, nothing kept); a read-only key can read, and
    its decision is refused with the scope it lacks (403)."""
    server = moderated
    reader = create_key(server, "moderation:read", name="reader")
    customer = await ready(server, "customer")
    vendor = await ready(server, "vendor")
    try:
        await send(customer, f"p-{next_id()}", vendor.id, "Hello", new=True)
        ack = await customer.call(
            "reportUser", {"userId": vendor.id, "userType": "VENDOR", "reason": "spam"}
        )
        assert ack["statusCode"] == 201, ack
        async with chromium() as browser:
            console = await DemoPage.open(browser, f"{server.url}/moderation", "console")
            page = console.page
            unknown = f"slyk_{'0' * 24}_{'x' * 43}"
            await page.get_by_label("API key").fill(unknown)
            await page.get_by_role("button", name="Sign in").click()
            await expect(page.locator("#sign-in-error")).to_contain_text("was refused")
            assert await page.evaluate("sessionStorage.length") == 0

            await _sign_in(console, reader)
            # By keyboard: the row and the decision are buttons.
            await page.locator("#report-list .report-row").first.press("Enter")
            await expect(page.locator("#detail-title")).to_be_focused()
            await page.get_by_role("button", name="Dismiss", exact=True).press("Enter")
            await expect(page.locator("#alert-text")).to_contain_text("moderation:write")
            await expect(page.locator("#decide-error")).to_contain_text("moderation:write")
            assert await console.serious_accessibility_violations() == []
            await page.screenshot(path=str(artifact("moderation-refused-desktop.png")))
            assert await console.csp_violations() == []
            assert console.unexpected_console_errors() == []
            assert console.page_errors == []
            await console.close()
    finally:
        await customer.close()
        await vendor.close()


async def test_the_queue_pages_with_next(moderated: Server) -> None:
    """More open reports than a page holds: "Load more" asks for the next page (`before`
    = `next`) and appends it; the counts are of every report, not of the page. Then a
    report's message is deleted by decision."""
    server = moderated
    key = create_key(server, "moderation:read", "moderation:write", name="paging")
    customer = await ready(server, "customer")
    vendor = await ready(server, "vendor")
    product = f"p-{next_id()}"
    try:
        await send(customer, product, vendor.id, "Hello", new=True)
        for i in range(PAGE + 1):
            spam = await send(vendor, product, customer.id, f"Buy now {i}")
            ack = await customer.call("reportMessage", {"messageId": spam["id"], "reason": "spam"})
            assert ack["statusCode"] == 201, ack
        last_spam = spam["id"]
        async with chromium() as browser:
            console = await DemoPage.open(browser, f"{server.url}/moderation", "console")
            page = console.page
            await _sign_in(console, key)
            rows = page.locator("#report-list .report-row")
            await expect(rows).to_have_count(PAGE)
            await expect(page.locator("#counts li[data-reason=spam]")).to_have_text(
                f"{PAGE + 1} Spam"
            )
            await expect(page.locator("#offenders button")).to_contain_text(f"{PAGE + 1} open")
            await page.get_by_role("button", name="Load more reports").click()
            await expect(rows).to_have_count(PAGE + 1)
            await expect(page.get_by_role("button", name="Load more reports")).to_be_hidden()
            ids = await rows.evaluate_all("rows => rows.map(r => r.dataset.id)")
            assert len(set(ids)) == PAGE + 1
            assert ids == sorted(ids, reverse=True)  # newest first (time-ordered ids)

            # The newest one's message is deleted by decision: both parties are told.
            await rows.first.click()
            await page.get_by_role("button", name="Delete message").click()
            decision = page.locator("#decisions li[data-action=delete_message]")
            await expect(decision).to_contain_text("Message deleted")
            deleted = await customer.wait("messageDeleted")
            assert deleted["data"]["messageId"] == last_spam, deleted
            await expect(rows).to_have_count(PAGE)  # the queue reloaded: one fewer open
            assert await console.csp_violations() == []
            assert console.console_errors == []
            await console.close()
    finally:
        await customer.close()
        await vendor.close()


async def _sign_in(console: DemoPage, key: str) -> None:
    page = console.page
    await page.get_by_label("API key").fill(key)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#console")).to_be_visible()
    await expect(page.locator("#whoami")).to_have_text(f"Key {key.split('_')[1]}")
    # Kept in this tab's sessionStorage, and nowhere else.
    assert await page.evaluate(f"sessionStorage.getItem('{STORAGE_KEY}')") == key
    assert await page.evaluate("localStorage.length") == 0
    assert await console.context.cookies() == []
    assert key not in (await page.content())


async def send_masked(vendor: Client, product: str, customer_id: int, text: str) -> dict[str, Any]:
    """The vendor's `text` with a phone number, masked by the server."""
    text = f"{text}: call {PHONE_NUMBER}"
    ack = await vendor.call(
        "sendMessage", {"productId": product, "recipientId": customer_id, "text": text}
    )
    assert ack["error"] is False, ack
    assert ack["data"]["masked"] is True, ack
    return dict(ack["data"])


async def _report(server: Server, key: str, report_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        response = await http.get(
            f"{REPORTS}/{report_id}", headers={"Authorization": f"Bearer {key}"}
        )
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])


async def _resolve(server: Server, key: str, report_id: str, action: str) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        response = await http.post(
            f"{REPORTS}/{report_id}/resolve",
            json={"action": action},
            headers={"Authorization": f"Bearer {key}"},
        )
    assert response.status_code == 200, response.text
