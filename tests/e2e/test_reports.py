"""Reports and the moderation API on a real server, both engines (docs/admin-api.md,
"Moderation"): reportMessage and reportUser with their frozen snapshots, who may report,
duplicates folded, every moderation route and its refusals, decisions recorded, and the
automatic report of a message whose contact details were masked."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from tests.conftest import UserFactory
from tests.contracts.test_webhook_contract import check_documented
from tests.dbcheck import query
from tests.e2e.media_support import File, upload
from tests.e2e.test_admin_api import admin, create_key
from tests.e2e.test_webhooks import SECRET, webhook_env
from tests.media_files import png
from tests.support import Client, Server, http_refusal, next_id, token
from tests.support.chat import Json, send
from tests.webhook_receiver import Receiver, documented_verifier

UNKNOWN = "f" * 24
REPORTS = "/api/v1/admin/reports"


@pytest.fixture(scope="module")
def moderator(server: Server) -> str:
    return create_key(server, "moderation:read", "moderation:write", name="moderator ada")


@pytest.fixture(scope="module")
def reader(server: Server) -> str:
    return create_key(server, "moderation:read", name="reader")


async def report(client: Client, event: str, payload: Json, status: int = 201) -> Json:
    ack = await client.call(event, payload)
    assert ack.get("error") is False, ack
    assert ack["statusCode"] == status, ack
    assert ack["message"] == "Report received"
    assert set(ack["data"]) == {"id", "status"}
    assert ack["data"]["status"] == "open"
    return dict(ack["data"])


async def refused(client: Client, event: str, payload: Json, status: int) -> Json:
    ack = await client.call(event, payload)
    assert ack.get("error") is True, ack
    assert ack["statusCode"] == status, ack
    return dict(ack)


async def one(server: Server, key: str, report_id: str) -> Json:
    response = await admin(server, "GET", f"{REPORTS}/{report_id}", key)
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])


async def conversation(connect: UserFactory, count: int) -> tuple[Client, Client, str, list[Json]]:
    customer = await connect("customer")
    vendor = await connect("vendor")
    product = f"p-{next_id()}"
    sent = [await send(customer, product, vendor.id, "hello 0", new=True)]
    for i in range(1, count):
        sender, to = (vendor, customer.id) if i % 2 else (customer, vendor.id)
        sent.append(await send(sender, product, to, f"hello {i}", new=True))
    return customer, vendor, product, sent


async def test_a_message_report_freezes_its_snapshot(
    server: Server, connect: UserFactory, moderator: str
) -> None:
    customer, vendor, _product, sent = await conversation(connect, 30)
    target = sent[14]  # the customer's
    assert target["senderType"] == "CUSTOMER"
    ack = await customer.call("editMessage", {"messageId": target["id"], "text": "hello again"})
    assert ack["error"] is False, ack
    filed = await report(
        vendor, "reportMessage", {"messageId": target["id"], "reason": "harassment", "note": "rude"}
    )
    before = await one(server, moderator, filed["id"])
    # The sender edits and then deletes it, and a neighbour: the snapshot stays as it was.
    await customer.call("editMessage", {"messageId": target["id"], "text": "innocent"})
    await customer.call("deleteMessage", {"messageId": target["id"]})
    await customer.call("deleteMessage", {"messageId": sent[12]["id"]})
    after = await one(server, moderator, filed["id"])
    assert after["snapshot"] == before["snapshot"]

    snap = after["snapshot"]
    shown = snap["message"]
    assert shown["id"] == target["id"]
    assert shown["text"] == "hello again"
    assert [v["text"] for v in shown["versions"]] == ["hello 14"]
    assert shown["originalText"] is None
    context = snap["context"]
    assert len(context) == 20
    seqs = [m["seq"] for m in context]
    assert seqs == sorted(seqs)
    assert target["seq"] not in seqs
    assert seqs[0] == target["seq"] - 10
    assert seqs[-1] == target["seq"] + 10
    assert snap["media"] == []

    assert after["status"] == "open"
    assert after["reason"] == "harassment"
    assert after["note"] == "rude"
    assert after["automatic"] is False
    assert after["reporter"] == {"userId": vendor.id, "userType": "VENDOR"}
    assert after["target"] == {
        "kind": "message",
        "userId": customer.id,
        "userType": "CUSTOMER",
        "messageId": target["id"],
        "chatId": target["chatId"],
    }
    assert after["targetOpenReports"] == 1
    assert after["decisions"] == []


async def test_only_a_participant_reports_and_duplicates_fold(
    server: Server, connect: UserFactory, moderator: str, database_url: str
) -> None:
    customer, vendor, _product, [first] = await conversation(connect, 1)
    stranger = await connect("vendor")
    other_customer = await connect("customer")
    message = {"messageId": first["id"], "reason": "spam"}
    await refused(stranger, "reportMessage", message, 403)
    await refused(vendor, "reportMessage", {"messageId": UNKNOWN, "reason": "spam"}, 404)
    await refused(customer, "reportMessage", message, 400)  # one's own message
    await refused(vendor, "reportMessage", {"messageId": first["id"], "reason": "rude"}, 400)
    await refused(vendor, "reportMessage", message | {"note": "x" * 1001}, 400)
    user = {"userId": customer.id, "userType": "CUSTOMER", "reason": "scam"}
    await refused(stranger, "reportUser", user, 403)
    await refused(other_customer, "reportUser", user, 403)
    await refused(vendor, "reportUser", user | {"chatId": UNKNOWN}, 403)
    await refused(vendor, "reportUser", user | {"userType": "ADMIN"}, 400)
    rows = await query(
        database_url, "SELECT count(*) FROM reports WHERE target_user_id = :u", u=customer.id
    )
    assert rows == [(0,)]

    filed = await report(vendor, "reportMessage", message)
    again = await report(vendor, "reportMessage", message | {"reason": "scam"}, status=200)
    assert again == filed
    about_user = await report(vendor, "reportUser", user | {"chatId": first["chatId"]})
    assert await report(vendor, "reportUser", user, status=200) == about_user
    shown = await one(server, moderator, about_user["id"])
    assert shown["target"]["kind"] == "user"
    assert shown["target"]["chatId"] == first["chatId"]
    assert shown["snapshot"]["message"] is None
    assert [m["id"] for m in shown["snapshot"]["context"]] == [first["id"]]
    assert shown["targetOpenReports"] == 2

    # Once resolved, the same reporter may report the same message again.
    done = await admin(
        server, "POST", f"{REPORTS}/{filed['id']}/resolve", moderator, json={"action": "dismiss"}
    )
    assert done.status_code == 200, done.text
    fresh = await report(vendor, "reportMessage", message)
    assert fresh["id"] != filed["id"]


async def test_the_moderation_routes_and_their_refusals(
    server: Server, connect: UserFactory, moderator: str, reader: str
) -> None:
    customer, vendor, _product, sent = await conversation(connect, 3)
    filed = await report(vendor, "reportMessage", {"messageId": sent[0]["id"], "reason": "spam"})
    path = f"{REPORTS}/{filed['id']}"
    other = create_key(server, "chats:read", name="no moderation")
    routes = [
        ("GET", REPORTS, None, reader),
        ("GET", path, None, reader),
        ("POST", f"{path}/resolve", {"action": "dismiss"}, moderator),
        ("GET", f"{path}/media/{UNKNOWN}", None, reader),
        ("POST", f"/api/v1/admin/users/CUSTOMER/{customer.id}/suspend", {"reason": "x"}, moderator),
        ("GET", f"/api/v1/admin/users/CUSTOMER/{customer.id}/suspend", None, reader),
        ("DELETE", f"/api/v1/admin/users/CUSTOMER/{customer.id}/suspend", None, moderator),
    ]
    for method, route, body, _key in routes:
        http_refusal(await admin(server, method, route, None, json=body), 401)
        http_refusal(
            await admin(server, method, route, token("customer", customer.id), json=body), 401
        )
        http_refusal(await admin(server, method, route, other, json=body), 403)
    for method, route, body, _key in routes:
        if method != "GET":  # the writes need moderation:write
            http_refusal(await admin(server, method, route, reader, json=body), 403)

    # The queue: newest first, paged, filtered, counted by reason.
    second = await report(vendor, "reportMessage", {"messageId": sent[2]["id"], "reason": "scam"})
    listed = await admin(
        server,
        "GET",
        REPORTS,
        reader,
        params={"targetUserType": "customer", "targetUserId": customer.id, "limit": 1},
    )
    assert listed.status_code == 200, listed.text
    data = listed.json()["data"]
    assert [r["id"] for r in data["reports"]] == [second["id"]]
    assert "snapshot" not in data["reports"][0]
    assert data["hasMore"] is True
    assert data["next"] == second["id"]
    assert data["countsByReason"] == {
        "spam": 1,
        "scam": 1,
        "harassment": 0,
        "off_platform": 0,
        "inappropriate": 0,
        "other": 0,
    }
    rest = await admin(
        server,
        "GET",
        REPORTS,
        reader,
        params={"targetUserType": "CUSTOMER", "targetUserId": customer.id, "before": data["next"]},
    )
    assert [r["id"] for r in rest.json()["data"]["reports"]] == [filed["id"]]
    assert rest.json()["data"]["hasMore"] is False
    for bad in ({"status": "closed"}, {"limit": 0}, {"limit": 101}, {"targetUserId": 3}):
        http_refusal(await admin(server, "GET", REPORTS, reader, params=bad), 400)

    http_refusal(await admin(server, "GET", f"{REPORTS}/{UNKNOWN}", reader), 404)
    http_refusal(
        await admin(
            server, "POST", f"{REPORTS}/{UNKNOWN}/resolve", moderator, json={"action": "dismiss"}
        ),
        404,
    )
    for bad in (
        {"action": "ban"},
        {},
        {"action": "dismiss", "until": "2099-01-01T00:00:00Z"},
        {"action": "suspend_user", "until": "2001-01-01T00:00:00Z"},
        {"action": "suspend_user", "until": "tomorrow"},
    ):
        http_refusal(await admin(server, "POST", f"{path}/resolve", moderator, json=bad), 400)

    # delete_message: the message is a tombstone, as deleteMessage leaves one, and both
    # participants are told.
    done = await admin(
        server,
        "POST",
        f"{path}/resolve",
        moderator,
        json={"action": "delete_message", "note": "spam link"},
    )
    assert done.status_code == 200, done.text
    resolved = done.json()["data"]
    assert resolved["status"] == "resolved"
    [decision] = resolved["decisions"]
    assert decision["action"] == "delete_message"
    assert decision["note"] == "spam link"
    assert decision["keyName"] == "moderator ada"
    assert moderator.startswith(f"slyk_{decision['keyId']}_")
    assert decision["until"] is None
    assert decision["decidedAt"]
    for client in (customer, vendor):
        gone = await client.wait(
            "messageDeleted", lambda b: b["data"]["messageId"] == sent[0]["id"]
        )
        assert gone
    http_refusal(
        await admin(server, "POST", f"{path}/resolve", moderator, json={"action": "dismiss"}), 409
    )
    assert (await one(server, reader, filed["id"]))["decisions"] == [decision]

    # A user report has no message to delete.
    about = await report(
        vendor, "reportUser", {"userId": customer.id, "userType": "CUSTOMER", "reason": "other"}
    )
    http_refusal(
        await admin(
            server,
            "POST",
            f"{REPORTS}/{about['id']}/resolve",
            moderator,
            json={"action": "delete_message"},
        ),
        400,
    )

    # Suspension by hand: get, lift, 404 when there is none.
    user_path = f"/api/v1/admin/users/VENDOR/{vendor.id}/suspend"
    http_refusal(await admin(server, "GET", user_path, reader), 404)
    http_refusal(await admin(server, "DELETE", user_path, moderator), 404)
    http_refusal(await admin(server, "POST", user_path, moderator, json={"reason": " "}), 400)
    made = await admin(
        server,
        "POST",
        user_path,
        moderator,
        json={"reason": "fraud", "until": "2099-01-01T00:00:00+00:00"},
    )
    assert made.status_code == 200, made.text
    body = made.json()["data"]
    assert body["userId"] == vendor.id
    assert body["userType"] == "VENDOR"
    assert body["reason"] == "fraud"
    assert body["until"] == "2099-01-01T00:00:00.000Z"
    assert moderator.startswith(f"slyk_{body['keyId']}_")
    assert (await admin(server, "GET", user_path, reader)).json()["data"] == body
    lifted = await admin(server, "DELETE", user_path, moderator)
    assert lifted.status_code == 200
    assert lifted.json()["data"] == body
    http_refusal(await admin(server, "GET", user_path, reader), 404)


async def test_a_reported_image_is_served_to_moderators(
    server: Server, connect: UserFactory, moderator: str
) -> None:
    customer, vendor, product, [first] = await conversation(connect, 1)
    sent = await upload(
        server,
        "send-image",
        [File(png(), "p.png", "image/png")],
        user_id=customer.id,
        recipient_id=vendor.id,
        product_id=product,
    )
    assert sent.status_code == 201, sent.text
    message = sent.json()["data"]
    [item] = message["messageMedias"]
    filed = await report(
        vendor, "reportMessage", {"messageId": message["id"], "reason": "inappropriate"}
    )
    snap = (await one(server, moderator, filed["id"]))["snapshot"]
    assert snap["media"] == [
        {"messageId": message["id"], "mediaId": item["id"], "mimeType": "image/png"}
    ]
    path = f"{REPORTS}/{filed['id']}/media/{item['id']}"
    got = await admin(server, "GET", path, moderator)
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith("image/")
    assert got.headers["cache-control"] == "private, no-store"
    assert got.content  # the thumbnail's bytes
    # The sender deletes the message: its files are evidence now, and stay.
    gone = await customer.call("deleteMessage", {"messageId": message["id"]})
    assert gone["error"] is False, gone
    again = await admin(server, "GET", path, moderator)
    assert again.status_code == 200, again.text
    assert again.content == got.content
    http_refusal(
        await admin(server, "GET", f"{REPORTS}/{filed['id']}/media/{UNKNOWN}", moderator), 404
    )
    http_refusal(
        await admin(server, "GET", f"{REPORTS}/{UNKNOWN}/media/{item['id']}", moderator), 404
    )
    assert first["chatId"] == message["chatId"]


# --- automatic reports --------------------------------------------------------------------


@pytest.fixture(scope="module")
def masking(spawn_server_module: Callable[..., Server]) -> Server:
    return spawn_server_module(SLYCHAT_CONTACT_POLICY="mask")


async def automatic_reports(server: Server, key: str, sender_id: int) -> list[Json]:
    listed = await admin(
        server,
        "GET",
        REPORTS,
        key,
        params={"targetUserType": "VENDOR", "targetUserId": sender_id, "status": "open"},
    )
    assert listed.status_code == 200, listed.text
    return [r for r in listed.json()["data"]["reports"] if r["automatic"]]


async def settled(server: Server, key: str, sender_id: int, count: int) -> list[Json]:
    """The sender's automatic reports once there are `count` (they are opened beside the
    send path, just after its commit)."""
    deadline = asyncio.get_running_loop().time() + 10
    while len(found := await automatic_reports(server, key, sender_id)) < count:
        assert asyncio.get_running_loop().time() < deadline, found
        await asyncio.sleep(0.05)
    return found


async def test_a_masked_message_opens_an_automatic_report(masking: Server, moderator: str) -> None:
    customer = await Client(masking.url, "customer", next_id()).connect()
    vendor = await Client(masking.url, "vendor", next_id()).connect()
    try:
        await customer.ready()
        await vendor.ready()
        product = f"p-{next_id()}"
        await send(customer, product, vendor.id, "Is it blue?", new=True)
        ack = await vendor.call(
            "sendMessage",
            {"productId": product, "recipientId": customer.id, "text": "call +44 7911 123456"},
        )
        assert ack["data"]["masked"] is True, ack
        message = ack["data"]
        [auto] = await settled(masking, moderator, vendor.id, 1)
        assert auto["reason"] == "off_platform"
        assert auto["reporter"] == {"userId": 0, "userType": "SYSTEM"}
        assert auto["target"]["kind"] == "message"
        assert auto["target"]["messageId"] == message["id"]
        assert auto["target"]["userId"] == vendor.id
        shown = (await one(masking, moderator, auto["id"]))["snapshot"]["message"]
        assert shown["text"] == message["text"]
        assert "123456" not in shown["text"]
        assert shown["masked"] is True
        assert shown["originalText"] == "call +44 7911 123456"

        # An edit masked again folds into the same open report; a clean message opens none.
        edited = await vendor.call(
            "editMessage", {"messageId": message["id"], "text": "mail me at a.b@example.com"}
        )
        assert edited["data"]["masked"] is True, edited
        await send(vendor, product, customer.id, "It is blue")
        await asyncio.sleep(0.5)
        assert [r["id"] for r in await automatic_reports(masking, moderator, vendor.id)] == [
            auto["id"]
        ]
        # A participant's own report of the message is another report.
        mine = await report(
            customer, "reportMessage", {"messageId": message["id"], "reason": "off_platform"}
        )
        assert mine["id"] != auto["id"]
    finally:
        await customer.close()
        await vendor.close()


# --- the webhook ----------------------------------------------------------------------------


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    yield r
    await r.stop()


async def test_report_created_arrives_signed_once(
    spawn_server: Callable[..., Server], receiver: Receiver, moderator: str
) -> None:
    node = spawn_server(**webhook_env(receiver))
    customer = await Client(node.url, "customer", next_id()).connect()
    vendor = await Client(node.url, "vendor", next_id()).connect()
    try:
        await customer.ready()
        await vendor.ready()
        first = await send(customer, f"p-{next_id()}", vendor.id, "buy it off-site", new=True)
        payload = {"messageId": first["id"], "reason": "off_platform", "note": "asked twice"}
        filed = await report(vendor, "reportMessage", payload)
        await report(vendor, "reportMessage", payload, status=200)  # folded: no second call

        def about(body: Json) -> bool:
            return bool(body["type"] == "report.created" and body["data"]["id"] == filed["id"])

        [call] = await receiver.wait(about)
        assert documented_verifier()(SECRET.encode(), call.headers, call.body)
        assert check_documented(call.headers, call.body) == "report.created"
        data = call.json["data"]
        listed = await one(node, moderator, filed["id"])
        assert data == {k: v for k, v in listed.items() if k != "snapshot"}
        assert "buy it off-site" not in call.body.decode()  # never chat content
        await asyncio.sleep(1.0)  # several polls: nothing more about this report
        assert len(receiver.matching(about)) == 1
    finally:
        await customer.close()
        await vendor.close()


async def test_concurrent_duplicates_fold_into_one_report(
    server: Server, connect: UserFactory, database_url: str
) -> None:
    """Two tabs of one reporter report the same message at once: one report is stored
    (the partial unique index), and both are answered with it."""
    customer, vendor, _product, [first] = await conversation(connect, 1)
    other_tab = await connect("vendor", vendor.id)
    payload = {"messageId": first["id"], "reason": "spam"}
    acks = await asyncio.gather(
        *(c.call("reportMessage", payload) for c in (vendor, other_tab, vendor, other_tab))
    )
    assert {a["data"]["id"] for a in acks} == {acks[0]["data"]["id"]}, acks
    assert sorted(a["statusCode"] for a in acks) == [200, 200, 200, 201]
    rows = await query(
        database_url, "SELECT count(*) FROM reports WHERE target_message_id = :m", m=first["id"]
    )
    assert rows == [(1,)]
    assert customer.id != vendor.id
