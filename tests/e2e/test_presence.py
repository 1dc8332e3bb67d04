"""The /presence namespace: online/offline notices, lastSeen, privacy, and the /chat
precondition (a /chat socket needs its user online in /presence)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from tests.conftest import UserFactory
from tests.support import Client, next_id
from tests.support.chat import is_iso, ok, open_chat, presence_of, send

QUIET = 0.4
PRESENCE = "/presence"


def of(user: Client) -> Callable[[Any], bool]:
    """A presence notice about `user`."""
    return lambda d: d["data"]["userId"] == user.id and d["data"]["userType"] == user.user_type


def notices(client: Client, event: str, user: Client) -> list[Any]:
    return [d for d in client.received(event) if of(user)(d)]


async def closed(client: Client, timeout: float = 5.0) -> None:
    await client.close()
    deadline = asyncio.get_running_loop().time() + timeout
    while client.sio.connected:
        assert asyncio.get_running_loop().time() < deadline, "client did not disconnect"
        await asyncio.sleep(0.02)


# --- userIsOnline / userIsOffline -----------------------------------------------------------


async def test_presence_connect_tells_the_socket_it_is_online(connect: UserFactory) -> None:
    for role in ("customer", "vendor"):
        client = await connect(role, namespaces=(PRESENCE,))
        body = await client.wait("userIsOnline", ns=PRESENCE)
        assert body == {
            "statusCode": 200,
            "error": False,
            "message": "User is online",
            "data": {"userId": client.id, "userType": role.upper()},
        }


async def test_counterparts_learn_when_a_user_comes_and_goes(connect: UserFactory) -> None:
    vendor = await connect("vendor")
    vendor_tab = await connect("vendor", vendor.id)
    customer = await connect("customer")
    stranger = await connect("customer")  # shares no chat with anyone here
    await open_chat(customer, vendor.id)
    await vendor.wait("newChat")

    await closed(customer)
    for tab in (vendor, vendor_tab):
        body = await tab.wait("userIsOffline", of(customer))
        data = ok(body)
        assert data["userId"] == customer.id
        assert data["userType"] == "CUSTOMER"
        assert is_iso(data["lastSeen"])
    last_seen = ok(vendor.received("userIsOffline")[-1])["lastSeen"]

    back = await connect("customer", customer.id)
    for tab in (vendor, vendor_tab):
        body = await tab.wait("userIsOnline", of(customer))
        assert ok(body) == {"userId": customer.id, "userType": "CUSTOMER"}
        assert body["message"] == "User is online"

    # the vendor's presence reaches the customer's /chat socket too
    await closed(vendor_tab)
    await closed(vendor)
    body = await back.wait("userIsOffline", of(vendor))
    assert ok(body)["userType"] == "VENDOR"
    assert is_iso(ok(body)["lastSeen"])
    vendor_again = await connect("vendor", vendor.id)
    assert ok(await back.wait("userIsOnline", of(vendor))) == {
        "userId": vendor.id,
        "userType": "VENDOR",
    }

    checked = ok(await presence_of(vendor_again, customer.id, "CUSTOMER"))
    assert checked["status"] == "online"
    assert checked["lastSeen"] is None or checked["lastSeen"] >= last_seen

    await asyncio.sleep(QUIET)
    for event in ("userIsOnline", "userIsOffline"):
        assert notices(stranger, event, customer) == []
        assert notices(stranger, event, vendor) == []


async def test_offline_only_when_the_last_presence_connection_closes(
    connect: UserFactory,
) -> None:
    vendor = await connect("vendor")
    customer = await connect("customer")
    customer_tab = await connect("customer", customer.id)
    for tab in (customer, customer_tab):  # every presence connection is told
        assert ok(await tab.wait("userIsOnline", ns=PRESENCE))["userId"] == customer.id
    await open_chat(customer, vendor.id)
    await vendor.wait("newChat")

    await closed(customer)
    await asyncio.sleep(QUIET)
    assert notices(vendor, "userIsOffline", customer) == []
    data = ok(await presence_of(vendor, customer.id, "CUSTOMER"))
    assert data["status"] == "online"

    await closed(customer_tab)
    body = await vendor.wait("userIsOffline", of(customer))
    last_seen = ok(body)["lastSeen"]
    assert is_iso(last_seen)
    data = ok(await presence_of(vendor, customer.id, "CUSTOMER"))
    assert data == {
        "userId": customer.id,
        "userType": "CUSTOMER",
        "status": "offline",
        "lastSeen": last_seen,
    }
    assert len(notices(vendor, "userIsOffline", customer)) == 1


async def test_presence_only_tab_keeps_a_user_online(connect: UserFactory) -> None:
    """A /presence connection without /chat counts as online on its own."""
    vendor = await connect("vendor")
    customer = await connect("customer")
    await open_chat(customer, vendor.id)
    await vendor.wait("newChat")
    presence_tab = await connect("customer", customer.id, namespaces=(PRESENCE,))
    await presence_tab.wait("userIsOnline", ns=PRESENCE)

    await closed(customer)
    await asyncio.sleep(QUIET)
    assert notices(vendor, "userIsOffline", customer) == []
    await closed(presence_tab)
    await vendor.wait("userIsOffline", of(customer))


# --- checkOnlinePresence / onlinePresence ------------------------------------------------------


async def test_check_online_presence_of_a_vendor(connect: UserFactory) -> None:
    vendor = await connect("vendor")
    customer = await connect("customer")  # no chat with the vendor: vendors are public
    other_vendor = await connect("vendor")

    for asker in (customer, other_vendor):
        body = await presence_of(asker, vendor.id, "VENDOR")
        data = ok(body)
        assert body["message"]
        assert data["userId"] == vendor.id
        assert data["userType"] == "VENDOR"
        assert data["status"] == "online"
        assert data["lastSeen"] is None or is_iso(data["lastSeen"])

    never = next_id()
    data = ok(await presence_of(customer, never, "VENDOR"))
    assert data == {"userId": never, "userType": "VENDOR", "status": "offline", "lastSeen": None}

    # after the vendor leaves (seen by a customer who shares a chat with it), the
    # customer without a chat learns it is offline and when it was last seen
    partner = await connect("customer")
    await open_chat(partner, vendor.id)
    await closed(vendor)
    gone = ok(await partner.wait("userIsOffline", of(vendor)))
    data = ok(await presence_of(customer, vendor.id, "VENDOR"))
    assert data == {
        "userId": vendor.id,
        "userType": "VENDOR",
        "status": "offline",
        "lastSeen": gone["lastSeen"],
    }


async def test_customer_presence_is_private_to_vendors_sharing_a_chat(
    connect: UserFactory,
) -> None:
    customer = await connect("customer")
    partner = await connect("vendor")
    stranger_vendor = await connect("vendor")
    other_customer = await connect("customer")
    await open_chat(customer, partner.id)

    data = ok(await presence_of(partner, customer.id, "CUSTOMER"))
    assert data["userId"] == customer.id
    assert data["userType"] == "CUSTOMER"
    assert data["status"] == "online"

    for asker in (stranger_vendor, other_customer):
        ack = await presence_of(asker, customer.id, "CUSTOMER")
        assert ack["error"] is True, ack
        assert ack["statusCode"] == 403, ack
        assert isinstance(ack["message"], str)
        assert ack["message"]
        assert await asker.wait("appError", ns=PRESENCE) == ack
    # nor does a refusal depend on whether the customer is online
    hidden = await presence_of(stranger_vendor, next_id(), "CUSTOMER")
    assert hidden["error"] is True
    assert hidden["statusCode"] == 403
    await asyncio.sleep(QUIET)
    for asker in (stranger_vendor, other_customer):
        assert asker.received("onlinePresence", ns=PRESENCE) == []


async def test_check_online_presence_rejects_bad_payloads(connect: UserFactory) -> None:
    asker = await connect("customer", namespaces=(PRESENCE,))
    for payload in ({}, {"userId": 1}, {"userType": "VENDOR"}, {"userId": "x", "userType": "V"}):
        ack = await asker.call("checkOnlinePresence", payload, ns=PRESENCE)
        assert ack["error"] is True, (payload, ack)
        assert ack["statusCode"] == 400, (payload, ack)


# --- recipientOnline ---------------------------------------------------------------------------


async def test_recipient_online_follows_the_presence_connection(connect: UserFactory) -> None:
    customer = await connect("customer")
    vendor_id = next_id()
    product = f"p-{next_id()}"
    first = await open_chat(customer, vendor_id, product=product)
    assert first["recipientOnline"] is False

    # only /presence: online, but nothing reaches a /chat socket yet
    presence_only = await connect("vendor", vendor_id, namespaces=(PRESENCE,))
    await customer.wait("userIsOnline", lambda d: d["data"]["userId"] == vendor_id)
    second = await send(customer, product, vendor_id, "are you there?")
    assert second["recipientOnline"] is True
    assert second["deliveredAt"] is None

    await closed(presence_only)
    await customer.wait("userIsOffline", lambda d: d["data"]["userId"] == vendor_id)
    third = await send(customer, product, vendor_id, "bye")
    assert third["recipientOnline"] is False

    vendor = await connect("vendor", vendor_id)
    offline = ok(vendor.received("offlineMessages")[0])
    assert [m["id"] for m in offline] == [first["id"], second["id"], third["id"]]
    assert [m["recipientOnline"] for m in offline] == [False, True, False]


# --- the /chat precondition ---------------------------------------------------------------------


async def test_chat_without_presence_is_refused_and_disconnected(connect: UserFactory) -> None:
    client = await connect("customer", namespaces=("/chat",), ready=False)
    body = await client.wait("appError", timeout=5)
    assert body == {
        "error": True,
        "message": "Connect to the presence namespace first",
        "statusCode": 400,
    }
    deadline = asyncio.get_running_loop().time() + 5
    while "/chat" in client.sio.namespaces or client.sio.connected:
        assert asyncio.get_running_loop().time() < deadline, "not disconnected from /chat"
        await asyncio.sleep(0.02)
    assert client.received("userChats") == []
    assert client.received("offlineMessages") == []


async def test_chat_and_presence_opened_together_are_not_refused(connect: UserFactory) -> None:
    # /chat's handshake first on one connection ...
    client = await connect("vendor", namespaces=("/chat", PRESENCE))
    assert client.received("appError") == []
    assert len(client.received("userChats")) == 1
    assert await client.wait("userIsOnline", ns=PRESENCE)

    # ... and /chat on one connection, /presence on another opened right after it.
    customer_id = next_id()
    chat_only = await connect("customer", customer_id, namespaces=("/chat",), ready=False)
    presence = await connect("customer", customer_id, namespaces=(PRESENCE,))
    await chat_only.ready()
    await presence.wait("userIsOnline", ns=PRESENCE)
    assert chat_only.received("appError") == []
    assert "/chat" in chat_only.sio.namespaces

    # the late /chat socket is fully usable
    listed = await chat_only.request("getUserChats", reply="userChats")
    assert ok(listed) == []
