"""The server-to-server API (`/api/v1/admin/...`) on a real server, both engines: API keys
made and revoked with the CLI, every operation, every refusal, and what the participants'
sockets see of it."""

from __future__ import annotations

import asyncio
import hashlib
import re
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests import media_files
from tests.conftest import UserFactory
from tests.e2e.media_support import File, fetch, files_under, key_of, upload
from tests.support import ROOT, Client, Server, http_refusal, new_chat_fields, next_id, token
from tests.support.chat import send

ALL_SCOPES = (
    "chats:read",
    "chats:write",
    "chats:export",
    "users:erase",
    "moderation:read",
    "moderation:write",
)
UNKNOWN_ID = "f" * 24


def cli(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m slychat <args>` against the server's database."""
    return subprocess.run(
        [sys.executable, "-m", "slychat", *args],
        env=server.environment(),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def create_key(server: Server, *scopes: str, name: str = "platform") -> str:
    args = ["apikey", "create", "--name", name]
    for scope in scopes:
        args += ["--scope", scope]
    done = cli(server, *args)
    assert done.returncode == 0, done.stderr
    [key] = re.findall(r"slyk_[0-9a-f]{24}_\S+", done.stdout)
    return str(key)


@pytest.fixture(scope="module")
def key(server: Server) -> str:
    """A key with every scope, shared by the module's tests."""
    return create_key(server, *ALL_SCOPES)


async def admin(
    server: Server,
    method: str,
    path: str,
    key: str | None,
    *,
    json: Any = None,
    params: dict[str, Any] | None = None,
    header: str = "authorization",
    content: bytes | None = None,
) -> httpx.Response:
    headers = {}
    if key is not None:
        headers[header] = f"Bearer {key}" if header == "authorization" else key
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        return await http.request(
            method, path, headers=headers, json=json, params=params, content=content
        )


async def chat_of(connect: UserFactory, count: int = 1) -> tuple[Client, Client, str, str]:
    """A customer and a vendor, online, with a chat the customer started: `count` messages."""
    customer = await connect("customer")
    vendor = await connect("vendor")
    product = f"p-{next_id()}"
    first = await send(customer, product, vendor.id, "hello 1", new=True)
    for i in range(2, count + 1):
        await send(customer, product, vendor.id, f"hello {i}", new=True)
    return customer, vendor, product, first["chatId"]


def open_body(product: str, vendor: int, customer: int, **extra: Any) -> dict[str, Any]:
    ids = {"productId": product, "vendorId": vendor, "customerId": customer}
    return ids | new_chat_fields() | extra


# --- keys and refusals --------------------------------------------------------------------


async def test_every_bad_key_is_401_and_a_missing_scope_403(
    server: Server, connect: UserFactory, key: str
) -> None:
    customer, _vendor, _product, chat_id = await chat_of(connect)
    path = f"/api/v1/admin/chats/{chat_id}/messages"
    key_id, secret = key.removeprefix("slyk_").split("_", 1)
    wrong = f"slyk_{key_id}_{'A' * len(secret)}"
    for bad in (None, "Bearer", "slyk_nonsense", f"slyk_{UNKNOWN_ID}_{secret}", wrong):
        http_refusal(await admin(server, "GET", path, bad), 401)
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        for raw in (f"Bearer {key}\u00e9".encode("latin-1"), f"Bearer {key[:-1]}\u00fc".encode()):
            http_refusal(await http.get(path, headers={b"Authorization": raw}), 401)
    # A user's JWT is not an API key, whoever the user is.
    http_refusal(await admin(server, "GET", path, token("customer", customer.id)), 401)
    http_refusal(await admin(server, "GET", path, token("admin", 1)), 401)

    assert (await admin(server, "GET", path, key)).status_code == 200
    assert (await admin(server, "GET", path, key, header="x-api-key")).status_code == 200

    reader = create_key(server, "chats:read")
    assert (await admin(server, "GET", path, reader)).status_code == 200
    body = http_refusal(
        await admin(server, "POST", path, reader, json={"text": "Order #1 shipped"}), 403
    )
    assert "chats:write" in body["message"]
    http_refusal(await admin(server, "GET", f"/api/v1/admin/chats/{chat_id}/export", reader), 403)
    http_refusal(
        await admin(server, "DELETE", f"/api/v1/admin/users/CUSTOMER/{next_id()}", reader), 403
    )


async def test_a_revoked_key_is_refused_from_its_next_request(
    server: Server, connect: UserFactory
) -> None:
    _c, _v, _p, chat_id = await chat_of(connect)
    doomed = create_key(server, "chats:read", name="doomed")
    path = f"/api/v1/admin/chats/{chat_id}/messages"
    assert (await admin(server, "GET", path, doomed)).status_code == 200

    key_id = doomed.split("_")[1]
    done = cli(server, "apikey", "revoke", key_id)
    assert done.returncode == 0, done.stderr

    body = http_refusal(await admin(server, "GET", path, doomed), 401)
    assert "revoked" in body["message"]
    assert cli(server, "apikey", "revoke", UNKNOWN_ID).returncode == 2


async def test_the_cli_lists_keys_without_their_secrets(server: Server) -> None:
    made = create_key(server, "chats:read", "users:erase", name=f"listed-{next_id()}")
    key_id, secret = made.removeprefix("slyk_").split("_", 1)
    done = cli(server, "apikey", "list")
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stdout.splitlines() if key_id in line)
    assert "chats:read" in line
    assert "users:erase" in line
    assert secret not in done.stdout
    assert hashlib.sha256(secret.encode()).hexdigest() not in done.stdout

    unknown = cli(server, "apikey", "create", "--name", "x", "--scope", "chats:everything")
    assert unknown.returncode == 2
    assert "chats:everything" in unknown.stderr


async def test_the_cli_lists_keys_in_aligned_columns(server: Server) -> None:
    """Each cell starts where its column's heading does, whatever the lengths of the names
    and scopes before it (the revoked key's time included)."""
    made = [
        create_key(server, "chats:read", name="a"),
        create_key(server, "chats:read", "chats:write", "users:erase", name="a much longer name"),
    ]
    revoked = made[0].split("_")[1]
    assert cli(server, "apikey", "revoke", revoked).returncode == 0
    done = cli(server, "apikey", "list")
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    starts = [m.start() for m in re.finditer(r"(?<!\S)\S+(?: \S+)*", header)]
    assert header.split() == ["id", "name", "scopes", "created", "last", "used", "revoked"]
    assert len(starts) == 6
    for row in rows:
        for start in starts:
            assert row[start] != " ", (header, row)
            assert row[start - 1 : start] in ("", " "), (header, row)
    [row] = [row for row in rows if row.startswith(revoked)]
    assert row[starts[-1] :].endswith("Z")  # the time it was revoked, in its column


# --- reading ------------------------------------------------------------------------------


async def test_a_users_chats_are_their_get_user_chats(
    server: Server, connect: UserFactory, key: str
) -> None:
    customer, vendor, _product, chat_id = await chat_of(connect, count=2)
    response = await admin(server, "GET", f"/api/v1/admin/users/vendor/{vendor.id}/chats", key)
    assert response.status_code == 200, response.text
    body = response.json()
    socket_body = await vendor.request("getUserChats", {}, "userChats")
    assert body.keys() == socket_body.keys()
    assert [c["id"] for c in body["data"]] == [chat_id]
    assert body["data"][0].keys() == socket_body["data"][0].keys()
    assert body["data"][0]["unreadCount"] == 2
    assert body["totalUnread"] == 2

    paged = await admin(
        server, "GET", f"/api/v1/admin/users/CUSTOMER/{customer.id}/chats", key,
        params={"limit": 1, "before": chat_id},
    )  # fmt: skip
    assert paged.status_code == 200
    assert paged.json()["data"] == []

    bad = f"/api/v1/admin/users/ADMIN/{customer.id}/chats"
    http_refusal(await admin(server, "GET", bad, key), 400)
    http_refusal(await admin(server, "GET", "/api/v1/admin/users/CUSTOMER/x/chats", key), 400)


async def test_history_is_paged_oldest_first_in_a_page(
    server: Server, connect: UserFactory, key: str
) -> None:
    _customer, _vendor, _product, chat_id = await chat_of(connect, count=5)
    path = f"/api/v1/admin/chats/{chat_id}/messages"
    newest = (await admin(server, "GET", path, key, params={"limit": 2})).json()
    assert newest["message"] == "Chats has been loaded"
    page = newest["data"]
    assert [m["text"] for m in page["messages"]] == ["hello 4", "hello 5"]
    assert page["hasMore"] is True
    older = await admin(
        server, "GET", path, key, params={"limit": 10, "before": page["messages"][0]["id"]}
    )
    assert [m["text"] for m in older.json()["data"]["messages"]] == [
        "hello 1",
        "hello 2",
        "hello 3",
    ]
    assert older.json()["data"]["hasMore"] is False
    by_seq = await admin(server, "GET", path, key, params={"before": 2})
    assert [m["seq"] for m in by_seq.json()["data"]["messages"]] == [1]

    http_refusal(await admin(server, "GET", f"/api/v1/admin/chats/{UNKNOWN_ID}/messages", key), 404)
    http_refusal(await admin(server, "GET", path, key, params={"limit": 0}), 400)


# --- opening chats ------------------------------------------------------------------------


async def test_a_chat_opens_for_a_vendor_the_starter_policy_refuses(
    server: Server, connect: UserFactory, key: str
) -> None:
    customer = await connect("customer")
    vendor = await connect("vendor")
    product = f"p-{next_id()}"
    cursor = customer.last("userChats")["syncCursor"]
    # The policy is in force: the vendor may not start this chat themselves.
    ack = await vendor.call(
        "sendMessage",
        {"productId": product, "recipientId": customer.id, "text": "hi", **new_chat_fields()},
    )
    assert ack["statusCode"] == 403

    body = open_body(product, vendor.id, customer.id)
    response = await admin(server, "POST", "/api/v1/admin/chats", key, json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["statusCode"] == 201
    assert created["error"] is False
    chat = created["data"]
    assert (chat["productId"], chat["vendorId"], chat["customerId"]) == (
        product, vendor.id, customer.id,
    )  # fmt: skip
    assert chat["messages"] == []
    assert chat["storeName"] == "Tech Haven"

    for side in (customer, vendor):
        told = await side.wait("newChat", lambda b: b["message"]["id"] == chat["id"])
        assert told["message"]["messages"] == []
    synced = await customer.request("syncMessages", {"since": cursor})
    changes = synced["data"]["changes"]
    assert [(c["type"], c["chatId"]) for c in changes] == [("chat", chat["id"])]

    again = await admin(server, "POST", "/api/v1/admin/chats", key, json=body)
    assert again.status_code == 200, again.text
    assert again.json()["data"]["id"] == chat["id"]
    # The vendor may write into it now.
    ack = await vendor.call(
        "sendMessage", {"productId": product, "recipientId": customer.id, "text": "welcome"}
    )
    assert ack["error"] is False, ack


async def test_a_chat_opened_with_text_starts_with_the_vendors_message(
    server: Server, connect: UserFactory, key: str
) -> None:
    customer = await connect("customer")
    vendor = await connect("vendor")
    product = f"p-{next_id()}"
    body = open_body(product, vendor.id, customer.id, text="Thanks for your order!")
    response = await admin(server, "POST", "/api/v1/admin/chats", key, json=body)
    assert response.status_code == 201, response.text
    chat = response.json()["data"]
    [message] = chat["messages"]
    assert (message["senderType"], message["senderId"]) == ("VENDOR", vendor.id)
    assert message["text"] == "Thanks for your order!"

    told = await customer.wait("newChat", lambda b: b["message"]["id"] == chat["id"])
    assert [m["id"] for m in told["message"]["messages"]] == [message["id"]]
    assert told["message"]["unreadCount"] == 1
    await vendor.wait("newChat", lambda b: b["message"]["id"] == chat["id"])
    await vendor.wait("receiveMessage", lambda b: b["data"][0]["id"] == message["id"])

    again = await admin(server, "POST", "/api/v1/admin/chats", key, json=body)
    assert again.status_code == 200
    assert again.json()["data"]["id"] == chat["id"]
    history = await admin(server, "GET", f"/api/v1/admin/chats/{chat['id']}/messages", key)
    assert len(history.json()["data"]["messages"]) == 1  # the retry sent nothing


async def test_bad_open_chat_bodies_are_400(server: Server, key: str) -> None:
    product = f"p-{next_id()}"
    good = open_body(product, next_id(), next_id())
    for body in (
        {k: v for k, v in good.items() if k != "productId"},
        good | {"vendorId": "seven"},
        good | {"storeLogoUrl": "javascript:alert(1)"},
        {k: v for k, v in good.items() if k != "storeName"},
        good | {"text": ""},
    ):
        http_refusal(await admin(server, "POST", "/api/v1/admin/chats", key, json=body), 400)
    http_refusal(await admin(server, "POST", "/api/v1/admin/chats", key, content=b"{not json"), 400)
    http_refusal(await admin(server, "POST", "/api/v1/admin/chats", key, content=b"[]"), 400)
    huge = good | {"text": "x" * 70_000}
    http_refusal(await admin(server, "POST", "/api/v1/admin/chats", key, json=huge), 413)


# --- system messages ----------------------------------------------------------------------


async def test_a_system_message_reaches_both_parties_and_is_never_unread(
    server: Server, connect: UserFactory, key: str
) -> None:
    customer, vendor, _product, chat_id = await chat_of(connect)
    vendor_cursor = vendor.last("userChats")["syncCursor"]
    path = f"/api/v1/admin/chats/{chat_id}/messages"
    body = {"text": "Order #123 shipped", "clientMessageId": "order-123-shipped"}
    response = await admin(server, "POST", path, key, json=body)
    assert response.status_code == 201, response.text
    notice = response.json()["data"]
    assert (notice["senderType"], notice["senderId"]) == ("SYSTEM", 0)
    assert notice["seq"] == 2

    for side in (customer, vendor):
        got = await side.wait("receiveMessage", lambda b: b["data"][0]["id"] == notice["id"])
        assert got["data"][0]["senderType"] == "SYSTEM"
        assert got["data"][0]["syncCursor"]  # each party's own place in their feed

    retry = await admin(server, "POST", path, key, json=body)
    assert retry.status_code == 200
    assert retry.json()["data"]["id"] == notice["id"]

    loaded = await customer.request("joinChat", {"chatId": chat_id}, "loadMessages")
    assert [m["senderType"] for m in loaded["data"]["messages"]] == ["CUSTOMER", "SYSTEM"]
    synced = await vendor.request("syncMessages", {"since": vendor_cursor})
    ids = [c["message"]["id"] for c in synced["data"]["changes"] if c["type"] == "message"]
    assert notice["id"] in ids
    # Unread: the vendor has the customer's one message, the customer nothing.
    chats = await vendor.request("getUserChats", {}, "userChats")
    assert chats["data"][0]["unreadCount"] == 1
    chats = await customer.request("getUserChats", {}, "userChats")
    assert chats["data"][0]["unreadCount"] == 0
    read = await vendor.call("markAsRead", {"chatId": chat_id})
    assert notice["id"] not in read["data"]["messageIds"]

    http_refusal(
        await admin(server, "POST", f"/api/v1/admin/chats/{UNKNOWN_ID}/messages", key, json=body),
        404,
    )
    http_refusal(await admin(server, "POST", path, key, json={"text": "  "}), 400)
    http_refusal(await admin(server, "POST", path, key, json={}), 400)


async def test_a_system_message_is_not_an_offline_message(
    server: Server, connect: UserFactory, key: str
) -> None:
    customer = await connect("customer")
    vendor_id = next_id()  # offline throughout
    ack = await customer.call(
        "sendMessage",
        {"productId": f"p-{next_id()}", "recipientId": vendor_id, "text": "hello 1"}
        | new_chat_fields(),
    )
    chat_id = ack["data"]["chatId"]
    response = await admin(
        server,
        "POST",
        f"/api/v1/admin/chats/{chat_id}/messages",
        key,
        json={"text": "Refund issued"},
    )
    assert response.status_code == 201, response.text
    back = await connect("vendor", vendor_id)
    offline = back.last("offlineMessages")
    assert [m["text"] for m in offline["data"]] == ["hello 1"]
    assert response.json()["data"]["deliveredAt"] is None
    chats = back.last("userChats")
    assert chats["data"][0]["messages"][-1]["senderType"] == "SYSTEM"


# --- export and erasure -------------------------------------------------------------------


async def test_an_export_holds_every_message_deleted_ones_marked(
    server: Server, connect: UserFactory, key: str
) -> None:
    customer, vendor, product, chat_id = await chat_of(connect, count=3)
    await send(vendor, product, customer.id, "answer", new=True)
    oops = await send(customer, product, vendor.id, "oops", new=True)
    deleted = await customer.call("deleteMessage", {"messageId": oops["id"]})
    assert deleted["error"] is False
    await vendor.call("markAsRead", {"chatId": chat_id})

    response = await admin(server, "GET", f"/api/v1/admin/chats/{chat_id}/export", key)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"] is False
    assert body["statusCode"] == 200
    assert body["data"]["chat"]["id"] == chat_id
    messages = body["data"]["messages"]
    assert [m["seq"] for m in messages] == [1, 2, 3, 4, 5]
    *kept, gone = messages
    assert all(m["deleted"] is False and m["deletedAt"] is None for m in kept)
    assert (gone["deleted"], gone["text"]) == (True, None)
    assert gone["deletedAt"]
    assert all(m["readAt"] for m in kept if m["senderType"] == "CUSTOMER")
    http_refusal(await admin(server, "GET", f"/api/v1/admin/chats/{UNKNOWN_ID}/export", key), 404)


async def test_an_export_lists_every_earlier_version_of_an_edited_message(
    server: Server, connect: UserFactory, key: str
) -> None:
    """What moderators see and clients never do: each text an edit replaced, oldest first."""
    customer, vendor, product, chat_id = await chat_of(connect, count=1)
    m = await send(customer, product, vendor.id, "pay me outside", new=True)
    for text in ("pay me here", "all good"):
        ack = await customer.call("editMessage", {"messageId": m["id"], "text": text})
        assert ack["error"] is False, ack
    response = await admin(server, "GET", f"/api/v1/admin/chats/{chat_id}/export", key)
    assert response.status_code == 200, response.text
    exported = {x["id"]: x for x in response.json()["data"]["messages"]}
    edited = exported[m["id"]]
    assert edited["text"] == "all good"
    versions = edited["versions"]
    assert [(v["version"], v["text"]) for v in versions] == [
        (1, "pay me outside"),
        (2, "pay me here"),
    ]
    assert versions[0]["writtenAt"] == m["timestamp"]
    assert versions[0]["replacedAt"] == versions[1]["writtenAt"]
    assert versions[1]["replacedAt"] == edited["editedAt"]
    assert all(x["versions"] == [] for i, x in exported.items() if i != m["id"])


async def send_many(customer: Client, product: str, vendor: Client, count: int) -> None:
    """`count` messages emitted without waiting, then one acked ("last"): when its ack
    comes, every one before it is stored, in order."""
    for i in range(count):
        payload = {"productId": product, "recipientId": vendor.id, "text": f"n{i}"}
        await customer.emit("sendMessage", payload)
    # Its ack waits behind all of them: on a loaded 2-core machine that is more than the
    # usual 10 s.
    last = {"productId": product, "recipientId": vendor.id, "text": "last"}
    ack = await customer.call("sendMessage", last | new_chat_fields(), timeout=90)
    assert ack["error"] is False, ack


async def test_an_export_of_a_long_chat_is_complete(
    server: Server, connect: UserFactory, key: str
) -> None:
    """More messages than one internal page (500): every one, in order."""
    customer, vendor, product, chat_id = await chat_of(connect)
    await send_many(customer, product, vendor, 600)
    response = await admin(server, "GET", f"/api/v1/admin/chats/{chat_id}/export", key)
    messages = response.json()["data"]["messages"]
    assert [m["seq"] for m in messages] == list(range(1, 603))
    assert messages[-1]["text"] == "last"


async def test_erasing_many_messages_takes_several_batches(
    server: Server, connect: UserFactory, key: str
) -> None:
    """More messages than one erasure batch (200): every one, and the vendor hears of each."""
    customer, vendor, product, chat_id = await chat_of(connect)
    await send_many(customer, product, vendor, 449)
    response = await admin(server, "DELETE", f"/api/v1/admin/users/CUSTOMER/{customer.id}", key)
    assert response.json()["data"]["messagesErased"] == 451
    history = await admin(server, "GET", f"/api/v1/admin/chats/{chat_id}/messages", key)
    assert history.json()["data"]["messages"] == []
    deleted: set[str] = set()
    while len(deleted) < 451:
        deleted.add((await vendor.wait("messageDeleted"))["data"]["messageId"])
    # Both feeds hold a `deleted` change per message (the vendor's, paged here).
    cursor, kinds = vendor.last("userChats")["syncCursor"], []
    while True:
        page = (await vendor.request("syncMessages", {"since": cursor, "limit": 200}))["data"]
        kinds += [c["type"] for c in page["changes"]]
        cursor = page["syncCursor"]
        if not page["hasMore"]:
            break
    assert kinds.count("deleted") == 451


async def test_erasing_a_user_leaves_tombstones_and_removes_their_files(
    server: Server, connect: UserFactory, key: str
) -> None:
    customer, vendor, product, chat_id = await chat_of(connect, count=2)
    await send(vendor, product, customer.id, "the vendor's own words", new=True)
    response = await upload(
        server,
        "send-image",
        [File(media_files.png(), "a.png", "image/png")],
        user_id=customer.id,
        recipient_id=vendor.id,
        product_id=product,
    )
    assert response.status_code == 201, response.text
    [item] = response.json()["data"]["messageMedias"]
    assert server.media_dir is not None
    files = {
        server.media_dir / key_of(item["url"]),
        server.media_dir / key_of(item["thumbnailUrl"]),
    }
    assert files <= files_under(server.media_dir)
    # Another chat of the customer's, with another vendor.
    other = await connect("vendor")
    await send(customer, f"p-{next_id()}", other.id, "second chat", new=True)

    response = await admin(server, "DELETE", f"/api/v1/admin/users/CUSTOMER/{customer.id}", key)
    assert response.status_code == 200, response.text
    counts = response.json()["data"]
    assert counts == {
        "messagesErased": 4, "mediaFilesRemoved": 2, "chatsCleared": 2, "lastSeenRemoved": False,
    }  # fmt: skip

    assert not files & files_under(server.media_dir)
    assert (await fetch(item["url"])).status_code == 404
    deleted: set[str] = set()
    while len(deleted) < 3:
        got = await vendor.wait("messageDeleted")
        deleted.add(got["data"]["messageId"])
    await other.wait("messageDeleted")

    export = (await admin(server, "GET", f"/api/v1/admin/chats/{chat_id}/export", key)).json()
    chat = export["data"]["chat"]
    assert (chat["customerName"], chat["customerProfilePic"]) == (None, None)
    assert chat["storeName"] == "Tech Haven"
    for m in export["data"]["messages"]:
        if m["senderType"] == "CUSTOMER":
            assert m["deleted"] is True
            assert m["text"] is None
            assert m["messageMedias"] == []
        else:
            assert m["deleted"] is False
            assert m["text"] == "the vendor's own words"

    again = await admin(server, "DELETE", f"/api/v1/admin/users/customer/{customer.id}", key)
    assert again.status_code == 200
    assert again.json()["data"]["messagesErased"] == 0
    assert again.json()["data"]["chatsCleared"] == 0
    http_refusal(await admin(server, "DELETE", "/api/v1/admin/users/SYSTEM/0", key), 400)


async def test_erasing_removes_last_seen(server: Server, connect: UserFactory, key: str) -> None:
    customer = await connect("customer")
    await customer.close()
    # Wait for the disconnect to store lastSeen.
    for _ in range(100):
        response = await admin(server, "DELETE", f"/api/v1/admin/users/CUSTOMER/{customer.id}", key)
        if response.json()["data"]["lastSeenRemoved"]:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("lastSeen was never stored, or never removed")


async def test_erasing_a_vendor_clears_their_store_fields(
    server: Server, connect: UserFactory, key: str
) -> None:
    customer, vendor, product, chat_id = await chat_of(connect)
    reply = await send(vendor, product, customer.id, "in stock", new=True)
    response = await admin(server, "DELETE", f"/api/v1/admin/users/VENDOR/{vendor.id}", key)
    assert response.json()["data"]["messagesErased"] == 1
    deleted = await customer.wait("messageDeleted")
    assert deleted["data"]["messageId"] == reply["id"]
    chat = (await admin(server, "GET", f"/api/v1/admin/chats/{chat_id}/messages", key)).json()
    assert (chat["data"]["storeName"], chat["data"]["storeLogoUrl"]) == (None, None)
    assert chat["data"]["customerName"] == "John Doe"
    assert [m["text"] for m in chat["data"]["messages"]] == ["hello 1"]


async def test_each_key_has_its_own_rate(
    server: Server, spawn_server: Callable[..., Server], key: str
) -> None:
    limited = spawn_server(SLYCHAT_RATE_ADMIN="1/m:2")
    other = create_key(server, "chats:read")
    path = f"/api/v1/admin/users/CUSTOMER/{next_id()}/chats"
    for _ in range(2):
        assert (await admin(limited, "GET", path, key)).status_code == 200
    response = await admin(limited, "GET", path, key)
    http_refusal(response, 429)
    assert int(response.headers["retry-after"]) >= 1
    assert (await admin(limited, "GET", path, other)).status_code == 200
