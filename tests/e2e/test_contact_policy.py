"""The contact-detail policy end to end, on both engines (docs/security.md): under `mask`
both parties see the masked text and `masked: true` in every shape, only the admin export
shows the original, an edit that adds a number is masked, search cannot find a masked
number, and a chat the platform set `off` lets a number through in that chat only; under
`refuse` a send is refused with 400 and nothing is stored; under the default `off`
nothing changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.dbcheck import chat_state, query
from tests.e2e.media_support import File, upload
from tests.e2e.test_admin_api import admin, create_key
from tests.e2e.test_metrics import Samples, scrape, value
from tests.media_files import png
from tests.support import Client, Server, new_chat_fields, next_id
from tests.support.chat import Json, check_message, ok, send

MASK = "[contact hidden]"
PHONE = "+44 7911 123456"
QUIET = 0.4


@pytest.fixture(scope="module")
def masking(spawn_server_module: Callable[..., Server]) -> Server:
    return spawn_server_module(SLYCHAT_CONTACT_POLICY="mask")


@pytest.fixture(scope="module")
def refusing(spawn_server_module: Callable[..., Server]) -> Server:
    return spawn_server_module(SLYCHAT_CONTACT_POLICY="refuse")


@pytest.fixture(scope="module")
def key(server: Server) -> str:
    return create_key(server, "chats:write", "chats:export", name="contact-policy")


@pytest.fixture
async def clients() -> AsyncIterator[Callable[[Server, str], Any]]:
    opened: list[Client] = []

    async def make(server: Server, role: str) -> Client:
        client = Client(server.url, role, next_id())
        opened.append(client)
        return await (await client.connect()).ready()

    yield make
    await asyncio.gather(*(c.close() for c in opened))


async def call_ok(client: Client, event: str, payload: Json) -> Json:
    ack = await client.call(event, payload)
    assert ack.get("error") is False, ack
    return check_message(ack["data"])


async def first_chat(customer: Client, vendor: Client) -> tuple[str, str]:
    """A chat opened by `customer` with a clean message; its product and id."""
    product = f"p-{next_id()}"
    first = await send(customer, product, vendor.id, "Is the lamp blue?", new=True)
    assert first["masked"] is False
    await vendor.wait("newChat")
    return product, first["chatId"]


async def exported(server: Server, key: str, chat_id: str) -> dict[str, Json]:
    response = await admin(server, "GET", f"/api/v1/admin/chats/{chat_id}/export", key)
    assert response.status_code == 200, response.text
    return {m["id"]: m for m in response.json()["data"]["messages"]}


async def test_mask_hides_the_detail_from_both_parties_and_keeps_it_for_moderators(
    masking: Server, clients: Any, key: str
) -> None:
    customer, vendor = await clients(masking, "customer"), await clients(masking, "vendor")
    product, chat_id = await first_chat(customer, vendor)
    written = f"Call me on {PHONE} please"
    ack = await call_ok(
        customer, "sendMessage", {"productId": product, "recipientId": vendor.id, "text": written}
    )
    assert ack["text"] == f"Call me on {MASK} please"
    assert ack["masked"] is True
    got = await vendor.wait("receiveMessage", lambda d: d["data"][0]["id"] == ack["id"])
    assert got["data"][0]["text"] == ack["text"]
    assert got["data"][0]["masked"] is True

    history = await vendor.request("joinChat", {"chatId": chat_id}, "loadMessages")
    listed = {m["id"]: m for m in ok(history)["messages"]}
    assert listed[ack["id"]]["text"] == ack["text"]
    assert listed[ack["id"]]["masked"] is True
    assert all(m["masked"] is False for i, m in listed.items() if i != ack["id"])

    found = await vendor.request("searchMessages", {"query": "7911"})
    assert ok(found)["messages"] == []
    found = await vendor.request("searchMessages", {"query": "please"})
    assert [m["id"] for m in ok(found)["messages"] if m["chatId"] == chat_id] == [ack["id"]]

    export = await exported(masking, key, chat_id)
    assert export[ack["id"]]["originalText"] == written
    assert export[ack["id"]]["text"] == ack["text"]
    assert all(m["originalText"] is None for i, m in export.items() if i != ack["id"])
    # Nothing but the export reads the original: it is in its own column only.
    rows = await query(
        masking.database_url,
        "SELECT text, original_text FROM messages WHERE id = :m",
        m=ack["id"],
    )
    assert [tuple(r) for r in rows] == [(ack["text"], written)]


async def test_an_edit_that_adds_a_number_is_masked_and_the_export_keeps_each_version(
    masking: Server, clients: Any, key: str
) -> None:
    customer, vendor = await clients(masking, "customer"), await clients(masking, "vendor")
    product, chat_id = await first_chat(customer, vendor)
    sent = await call_ok(
        customer, "sendMessage", {"productId": product, "recipientId": vendor.id, "text": "Hi"}
    )
    written = f"Hi, text me: {PHONE}"
    edited = await call_ok(customer, "editMessage", {"messageId": sent["id"], "text": written})
    assert edited["text"] == f"Hi, text me: {MASK}"
    assert edited["masked"] is True
    heard = await vendor.wait("messageEdited", lambda d: d["data"]["id"] == sent["id"])
    assert heard["data"]["text"] == edited["text"]
    assert heard["data"]["masked"] is True
    # An edit back to clean text is no longer masked; the export has both earlier texts
    # as their sender wrote them.
    clean = await call_ok(customer, "editMessage", {"messageId": sent["id"], "text": "Hi!"})
    assert clean["masked"] is False
    export = (await exported(masking, key, chat_id))[sent["id"]]
    assert export["originalText"] is None
    assert [v["text"] for v in export["versions"]] == ["Hi", written]


async def test_chat_fields_a_client_supplies_are_masked(masking: Server, clients: Any) -> None:
    customer, vendor = await clients(masking, "customer"), await clients(masking, "vendor")
    payload = {
        "productId": f"p-{next_id()}",
        "recipientId": vendor.id,
        "text": "Hello",
        "productName": "Lamp",
        "storeName": "Lamps, call +44 7911 123456",
        "customerName": "Jo",
    }
    await call_ok(customer, "sendMessage", payload)
    chat = (await vendor.wait("newChat"))["message"]
    assert chat["storeName"] == f"Lamps, call {MASK}"
    assert chat["productName"] == "Lamp"


async def test_a_chat_the_platform_sets_off_lets_a_number_through_in_that_chat_only(
    masking: Server, clients: Any, key: str
) -> None:
    customer, vendor = await clients(masking, "customer"), await clients(masking, "vendor")
    product, chat_id = await first_chat(customer, vendor)
    other, _other_id = await first_chat(customer, vendor)
    path = f"/api/v1/admin/chats/{chat_id}/contact-policy"
    response = await admin(masking, "PUT", path, key, json={"policy": "off"})
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {"chatId": chat_id, "policy": "off"}
    text = f"My number: {PHONE}"
    through = await call_ok(
        customer, "sendMessage", {"productId": product, "recipientId": vendor.id, "text": text}
    )
    assert (through["text"], through["masked"]) == (text, False)
    elsewhere = await call_ok(
        customer, "sendMessage", {"productId": other, "recipientId": vendor.id, "text": text}
    )
    assert (elsewhere["text"], elsewhere["masked"]) == (f"My number: {MASK}", True)
    # null: the setting again.
    response = await admin(masking, "PUT", path, key, json={"policy": None})
    assert response.json()["data"]["policy"] is None
    again = await call_ok(
        customer, "sendMessage", {"productId": product, "recipientId": vendor.id, "text": text}
    )
    assert again["masked"] is True
    for bad in ({"policy": "maybe"}, {}, [1]):
        assert (await admin(masking, "PUT", path, key, json=bad)).status_code == 400
    unknown = "/api/v1/admin/chats/" + "f" * 24 + "/contact-policy"
    assert (await admin(masking, "PUT", unknown, key, json={"policy": "off"})).status_code == 404


async def test_refuse_answers_400_and_stores_nothing(refusing: Server, clients: Any) -> None:
    customer, vendor = await clients(refusing, "customer"), await clients(refusing, "vendor")
    product, chat_id = await first_chat(customer, vendor)
    sent = await call_ok(
        customer, "sendMessage", {"productId": product, "recipientId": vendor.id, "text": "Hi"}
    )
    before = await chat_state(refusing.database_url, chat_id)
    mark = len(vendor.events)
    for event, payload in (
        ("sendMessage", {"productId": product, "recipientId": vendor.id, "text": PHONE}),
        ("editMessage", {"messageId": sent["id"], "text": "mail jo.smith@gmail.com"}),
    ):
        ack = await customer.call(event, payload)
        assert ack["error"] is True, ack
        assert ack["statusCode"] == 400, ack
        assert ack["message"] == "Contact details can't be shared in this chat"
    # A new chat whose fields hold a detail is refused whole: no chat either.
    ack = await customer.call(
        "sendMessage",
        {"productId": f"p-{next_id()}", "recipientId": vendor.id, "text": "Hello",
         "productName": "Lamp", "storeName": "s", "customerName": "wa.me/447911123456"},
    )  # fmt: skip
    assert ack["statusCode"] == 400, ack
    await asyncio.sleep(QUIET)
    assert await chat_state(refusing.database_url, chat_id) == before
    assert [e for _, e, _ in vendor.events[mark:]] == []


async def test_off_by_default_changes_nothing(server: Server, clients: Any) -> None:
    customer, vendor = await clients(server, "customer"), await clients(server, "vendor")
    product, _chat_id = await first_chat(customer, vendor)
    text = f"Call me on {PHONE}"
    sent = await call_ok(
        customer, "sendMessage", {"productId": product, "recipientId": vendor.id, "text": text}
    )
    assert (sent["text"], sent["masked"]) == (text, False)


async def test_detections_are_counted_by_kind_and_action(masking: Server, clients: Any) -> None:
    def masked_phones(samples: Samples) -> float:
        return value(samples, "slychat_contact_detections_total", kind="phone", action="masked")

    before = masked_phones(await scrape(masking))
    customer, vendor = await clients(masking, "customer"), await clients(masking, "vendor")
    product, _chat_id = await first_chat(customer, vendor)
    await call_ok(
        customer, "sendMessage", {"productId": product, "recipientId": vendor.id, "text": PHONE}
    )
    assert masked_phones(await scrape(masking)) == before + 1


async def test_a_number_split_over_three_messages_is_masked_in_all_three(
    masking: Server, clients: Any, key: str
) -> None:
    customer, vendor = await clients(masking, "customer"), await clients(masking, "vendor")
    product, chat_id = await first_chat(customer, vendor)
    pieces = ["call me +44", "7911", "123456"]  # no two of them make a number
    sent = [
        await call_ok(
            customer, "sendMessage", {"productId": product, "recipientId": vendor.id, "text": t}
        )
        for t in pieces
    ]
    assert [m["masked"] for m in sent] == [False, False, True]
    assert not any(c.isdigit() for c in sent[-1]["text"])
    ids = [m["id"] for m in sent]
    for earlier in ids[:-1]:
        heard = await vendor.wait(
            "messageEdited",
            lambda d, i=earlier: d["data"]["id"] == i and d["data"]["masked"] is True,
        )
        assert not any(c.isdigit() for c in heard["data"]["text"]), heard
    history = await vendor.request("joinChat", {"chatId": chat_id}, "loadMessages")
    listed = {m["id"]: m for m in ok(history)["messages"]}
    for i in ids:
        assert listed[i]["masked"] is True, listed[i]
        assert not any(c.isdigit() for c in listed[i]["text"]), listed[i]
    assert listed[ids[0]]["text"].startswith("call me ")
    export = await exported(masking, key, chat_id)
    assert [export[i]["originalText"] for i in ids] == pieces
    found = await vendor.request("searchMessages", {"query": "7911"})
    assert ok(found)["messages"] == []


async def test_pieces_after_someone_elses_message_are_not_joined(
    masking: Server, clients: Any
) -> None:
    customer, vendor = await clients(masking, "customer"), await clients(masking, "vendor")
    product, _chat_id = await first_chat(customer, vendor)
    to_vendor = {"productId": product, "recipientId": vendor.id}
    await call_ok(customer, "sendMessage", to_vendor | {"text": "call me +44 7911"})
    await call_ok(vendor, "sendMessage", {"productId": product, "recipientId": customer.id,
                                           "text": "ok"})  # fmt: skip
    last = await call_ok(customer, "sendMessage", to_vendor | {"text": "123456"})
    assert (last["text"], last["masked"]) == ("123456", False)


async def test_a_split_number_is_masked_when_its_pieces_go_through_two_nodes(
    spawn_server: Callable[..., Server], server: Server, key: str
) -> None:
    """Two nodes on one database. A node that never saw a chat (cold memory) reads the
    sender's run from the database: three pieces sent through it are all masked. And a
    sender whose pieces alternate nodes: the node taking the last piece held the chat
    (memory said no number ends there), but the piece before was stored by the other node;
    its `seq` shows the gap after the commit, the database is read, and every piece is
    masked, the last one as an edit."""
    first, second = (spawn_server(SLYCHAT_CONTACT_POLICY="mask") for _ in range(2))
    customer_id, vendor_id = next_id(), next_id()
    opened: list[Client] = []

    async def connect(node: Server, role: str, user_id: int) -> Client:
        client = Client(node.url, role, user_id)
        opened.append(client)
        return await (await client.connect()).ready()

    try:
        on_first = await connect(first, "customer", customer_id)
        on_second = await connect(second, "customer", customer_id)
        vendor = await connect(first, "vendor", vendor_id)

        # Cold: the chat opened on the first node, three pieces through the second.
        product, chat_id = await first_chat(on_first, vendor)
        to_vendor = {"productId": product, "recipientId": vendor_id}
        pieces = ["call me +44", "7911", "123456"]
        sent = [await call_ok(on_second, "sendMessage", to_vendor | {"text": t}) for t in pieces]
        assert [m["masked"] for m in sent] == [False, False, True]
        export = await exported(server, key, chat_id)
        assert all(export[m["id"]]["masked"] is True for m in sent), export

        # Alternating: the first node holds the chat from its first message.
        product, chat_id = await first_chat(on_first, vendor)
        to_vendor = {"productId": product, "recipientId": vendor_id}
        start = await call_ok(on_second, "sendMessage", to_vendor | {"text": "call me +44 7911"})
        assert start["masked"] is False
        last = await call_ok(on_first, "sendMessage", to_vendor | {"text": "123456"})
        assert (last["text"], last["masked"]) == ("123456", False)  # stored, then masked
        ids: list[str] = [start["id"], last["id"]]
        for message_id in ids:

            def masked_edit(d: Json, i: str = message_id) -> bool:
                return bool(d["data"]["id"] == i and d["data"]["masked"] is True)

            heard = await on_first.wait("messageEdited", masked_edit)
            assert not any(c.isdigit() for c in heard["data"]["text"]), heard
        export = await exported(server, key, chat_id)
        assert [export[i]["originalText"] for i in ids] == [
            "call me +44 7911",
            "123456",
        ]
        assert all(not any(c.isdigit() for c in export[i]["text"]) for i in ids), export
    finally:
        await asyncio.gather(*(c.close() for c in opened))


async def test_an_upload_caption_is_masked_or_refused(
    masking: Server, refusing: Server, clients: Any
) -> None:
    for srv in (masking, refusing):
        customer, vendor = await clients(srv, "customer"), await clients(srv, "vendor")
        response = await upload(
            srv,
            "send-image",
            [File(png(), "photo.png", "image/png")],
            user_id=customer.id,
            recipient_id=vendor.id,
            product_id=f"p-{next_id()}",
            text=f"Broken, call {PHONE}",
            **new_chat_fields(),
        )
        if srv is refusing:
            assert response.status_code == 400, response.text
            assert response.json()["message"] == "Contact details can't be shared in this chat"
            await asyncio.sleep(QUIET)
            assert vendor.received("newChat") == []
        else:
            assert response.status_code == 201, response.text
            [message] = response.json()["data"]["messages"]
            assert (message["text"], message["masked"]) == (f"Broken, call {MASK}", True)
