"""Moderation rules end to end, on both engines (docs/security.md, docs/admin-api.md): the
admin API's routes and each of their refusals; a `refuse` rule answers 400 and stores
nothing, `mask` masks for both parties (the original kept for the export), `flag`
delivers unchanged; a hostile regex is refused or runs in linear time; a rule added on
one node is in effect on another within SLYCHAT_REVOCATION_POLL.

Every server of a session shares its database, and so its rules: each test's terms are
words of its own (`word()`), and each rule is deleted at the end.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.dbcheck import chat_state, query
from tests.e2e.media_support import File, upload
from tests.e2e.test_admin_api import UNKNOWN_ID, admin, create_key
from tests.e2e.test_metrics import scrape, value
from tests.e2e.test_reports import automatic_reports, settled
from tests.media_files import png
from tests.support import ON_POSTGRES, Client, Server, new_chat_fields, next_id, nodes_sharing
from tests.support.chat import Json, check_message, ok

RULES = "/api/v1/admin/moderation/rules"
MASK = "[contact hidden]"
BREAKS = "This message breaks the marketplace's rules and was not sent"
QUIET = 0.4
POLL = 0.5  # the nodes' SLYCHAT_REVOCATION_POLL in the two-node test


def word() -> str:
    """A word no other test writes: letters only (digits would be read as leet)."""
    return "zqe" + "".join("bcdfghjklm"[int(d)] for d in str(next_id()))


@pytest.fixture(scope="module")
def key(server: Server) -> str:
    return create_key(
        server, "moderation:read", "moderation:write", "chats:export", name="moderation-rules"
    )


@pytest.fixture
async def rules(server: Server, key: str) -> AsyncIterator[Callable[..., Any]]:
    """`await rules(kind, pattern, action)` -> the rule added; deleted after the test."""
    added: list[str] = []

    async def add(kind: str, pattern: str, action: str, on: Server | None = None) -> Json:
        body = {"kind": kind, "pattern": pattern, "action": action, "note": f"test {action}"}
        response = await admin(on or server, "POST", RULES, key, json=body)
        assert response.status_code == 201, response.text
        rule: Json = response.json()["data"]
        added.append(rule["id"])
        return rule

    yield add
    for rule_id in added:
        await admin(server, "DELETE", f"{RULES}/{rule_id}", key)


@pytest.fixture
async def clients() -> AsyncIterator[Callable[[Server, str], Any]]:
    opened: list[Client] = []

    async def make(srv: Server, role: str) -> Client:
        client = Client(srv.url, role, next_id())
        opened.append(client)
        return await (await client.connect()).ready()

    yield make
    await asyncio.gather(*(c.close() for c in opened))


async def chat_between(customer: Client, vendor: Client) -> tuple[str, str]:
    product = f"p-{next_id()}"
    payload = {"productId": product, "recipientId": vendor.id, "text": "Hello"}
    ack = await customer.call("sendMessage", payload | new_chat_fields())
    assert ack["error"] is False, ack
    await vendor.wait("newChat")
    return product, ack["data"]["chatId"]


async def say(client: Client, product: str, to: int, text: str) -> Json:
    """sendMessage's ack, whatever it says."""
    ack: Json = await client.call("sendMessage", {"productId": product, "recipientId": to,
                                                  "text": text})  # fmt: skip
    return ack


async def test_the_routes_refuse_without_the_right_key_or_a_usable_rule(
    server: Server, key: str
) -> None:
    good = {"kind": "term", "pattern": word(), "action": "flag"}
    assert (await admin(server, "GET", RULES, None)).status_code == 401
    assert (await admin(server, "POST", RULES, None, json=good)).status_code == 401
    unknown = "slyk_" + "0" * 24 + "_" + "x" * 40
    assert (await admin(server, "GET", RULES, unknown)).status_code == 401
    chats = create_key(server, "chats:read", "chats:write", name="no-moderation")
    reader = create_key(server, "moderation:read", name="moderation-reader")
    writer = create_key(server, "moderation:write", name="moderation-writer")
    assert (await admin(server, "GET", RULES, chats)).status_code == 403
    assert (await admin(server, "GET", RULES, writer)).status_code == 403
    assert (await admin(server, "POST", RULES, reader, json=good)).status_code == 403
    assert (await admin(server, "DELETE", f"{RULES}/{UNKNOWN_ID}", reader)).status_code == 403
    assert (await admin(server, "GET", RULES, reader)).status_code == 200
    for bad in (
        good | {"kind": "glob"},
        good | {"action": "ban"},
        good | {"pattern": ""},
        good | {"pattern": "x" * 1001},
        good | {"note": "n" * 1001},
        {"kind": "term", "action": "flag"},
        good | {"pattern": "--"},  # a term needs a letter or digit
        good | {"kind": "regex", "pattern": "(a"},  # not a regex
        good | {"kind": "regex", "pattern": r"(\w+)\s\1"},  # a backreference: not under RE2
        good | {"kind": "regex", "pattern": "(?=a)b"},  # look-ahead: not under RE2
        good | {"kind": "regex", "pattern": "a*"},  # matches every message
        [good],
    ):
        response = await admin(server, "POST", RULES, writer, json=bad)
        assert response.status_code == 400, (bad, response.text)
        assert response.json()["error"] is True
    look_ahead = good | {"kind": "regex", "pattern": "(?=a)b"}
    response = await admin(server, "POST", RULES, writer, json=look_ahead)
    assert "RE2" in response.json()["message"]
    assert (await admin(server, "DELETE", f"{RULES}/{UNKNOWN_ID}", writer)).status_code == 404
    assert (await admin(server, "DELETE", f"{RULES}/not-an-id", writer)).status_code == 404
    listed = ok((await admin(server, "GET", RULES, key)).json())["rules"]
    assert good["pattern"] not in [r["pattern"] for r in listed]  # nothing refused was stored


async def test_a_rule_is_added_listed_and_deleted(server: Server, key: str) -> None:
    term = word()
    body = {"kind": "term", "pattern": term, "action": "mask", "note": "scam word"}
    response = await admin(server, "POST", RULES, key, json=body)
    assert response.status_code == 201, response.text
    envelope = response.json()
    assert (envelope["statusCode"], envelope["error"]) == (201, False)
    rule = envelope["data"]
    assert set(rule) == {"id", "kind", "pattern", "action", "note", "createdAt", "keyId"}
    assert {k: rule[k] for k in body} == body
    assert rule["keyId"] == key.split("_")[1]
    listed = ok((await admin(server, "GET", RULES, key)).json())["rules"]
    assert rule in listed
    deleted = await admin(server, "DELETE", f"{RULES}/{rule['id']}", key)
    assert ok(deleted.json())["id"] == rule["id"]
    listed = ok((await admin(server, "GET", RULES, key)).json())["rules"]
    assert rule["id"] not in [r["id"] for r in listed]
    assert (await admin(server, "DELETE", f"{RULES}/{rule['id']}", key)).status_code == 404


async def test_refuse_answers_400_and_stores_nothing(
    server: Server, rules: Any, clients: Any
) -> None:
    term = word()
    await rules("term", term, "refuse")
    customer, vendor = await clients(server, "customer"), await clients(server, "vendor")
    product, chat_id = await chat_between(customer, vendor)
    sent = await say(customer, product, vendor.id, "Hi")
    before = await chat_state(server.database_url, chat_id)
    mark = len(vendor.events)
    # Folded: case, accents and a look-alike letter still match the whole word.
    variant = term.upper().replace("E", "\u00c9", 1)
    for event, payload in (
        ("sendMessage", {"productId": product, "recipientId": vendor.id,
                         "text": f"this is {variant}!"}),
        ("editMessage", {"messageId": sent["data"]["id"], "text": f"{term} now"}),
    ):  # fmt: skip
        ack = await customer.call(event, payload)
        assert (ack["error"], ack["statusCode"], ack["message"]) == (True, 400, BREAKS), ack
    # A new chat whose fields break a rule is refused whole; an upload's caption too.
    ack = await customer.call(
        "sendMessage",
        {"productId": f"p-{next_id()}", "recipientId": vendor.id, "text": "Hello",
         **new_chat_fields(), "storeName": f"The {term} shop"},
    )  # fmt: skip
    assert ack["statusCode"] == 400, ack
    response = await upload(
        server,
        "send-image",
        [File(png(), "photo.png", "image/png")],
        user_id=customer.id,
        recipient_id=vendor.id,
        product_id=product,
        text=f"look {term}",
    )
    assert response.status_code == 400, response.text
    assert response.json()["message"] == BREAKS
    await asyncio.sleep(QUIET)
    assert await chat_state(server.database_url, chat_id) == before
    assert [e for _, e, _ in vendor.events[mark:]] == []
    # A word that merely contains the term is not it.
    assert (await say(customer, product, vendor.id, f"{term}s"))["error"] is False


async def test_mask_masks_for_both_parties_and_keeps_the_original(
    server: Server, rules: Any, clients: Any, key: str
) -> None:
    term = word()
    await rules("term", term, "mask")
    await rules("regex", r"\bsecret-[0-9]{3}\b", "mask")
    customer, vendor = await clients(server, "customer"), await clients(server, "vendor")
    product, chat_id = await chat_between(customer, vendor)
    written = f"a {term.capitalize()} deal, code secret-123"
    ack = await say(customer, product, vendor.id, written)
    message = check_message(ack["data"])
    assert (message["text"], message["masked"]) == (f"a {MASK} deal, code {MASK}", True)
    got = await vendor.wait("receiveMessage", lambda d: d["data"][0]["id"] == message["id"])
    assert (got["data"][0]["text"], got["data"][0]["masked"]) == (message["text"], True)
    history = await vendor.request("joinChat", {"chatId": chat_id}, "loadMessages")
    listed = {m["id"]: m for m in ok(history)["messages"]}
    assert (listed[message["id"]]["text"], listed[message["id"]]["masked"]) == (
        message["text"],
        True,
    )
    # An edit is masked as well.
    edited = await customer.call("editMessage", {"messageId": message["id"], "text": f"{term}!"})
    assert (edited["data"]["text"], edited["data"]["masked"]) == (f"{MASK}!", True)
    export = await admin(server, "GET", f"/api/v1/admin/chats/{chat_id}/export", key)
    kept = {m["id"]: m for m in export.json()["data"]["messages"]}[message["id"]]
    assert kept["originalText"] == f"{term}!"
    assert [v["text"] for v in kept["versions"]] == [written]
    rows = await query(
        server.database_url, "SELECT original_text FROM messages WHERE id = :m", m=message["id"]
    )
    assert [r[0] for r in rows] == [f"{term}!"]


async def test_flag_delivers_unchanged_and_is_counted(
    server: Server, rules: Any, clients: Any
) -> None:
    term = word()
    await rules("term", term, "flag")
    before = value(await scrape(server), "slychat_moderation_rule_matches_total", action="flag")
    customer, vendor = await clients(server, "customer"), await clients(server, "vendor")
    product, _chat_id = await chat_between(customer, vendor)
    text = f"is {term} ok?"
    ack = await say(customer, product, vendor.id, text)
    assert (ack["data"]["text"], ack["data"]["masked"]) == (text, False)
    got = await vendor.wait("receiveMessage", lambda d: d["data"][0]["id"] == ack["data"]["id"])
    assert got["data"][0]["text"] == text
    after = value(await scrape(server), "slychat_moderation_rule_matches_total", action="flag")
    assert after == before + 1
    samples = await scrape(server)
    for action in ("mask", "refuse"):  # served from the start, at 0 or more
        assert value(samples, "slychat_moderation_rule_matches_total", action=action) >= 0


async def test_a_hostile_regex_runs_in_linear_time_on_a_long_message(
    server: Server, rules: Any, clients: Any, key: str
) -> None:
    """`(a+)+$` backtracks exponentially in a backtracking engine on "aaa…a!"; RE2 takes it
    and answers in linear time: the 5,000-character message is answered (a backtracking
    engine would never answer, and the call's timeout would fail the test)."""
    prefix = word()
    await rules("regex", prefix + "(a+)+$", "mask")
    customer, vendor = await clients(server, "customer"), await clients(server, "vendor")
    product, _chat_id = await chat_between(customer, vendor)
    hostile = prefix + "a" * (5000 - len(prefix) - 1) + "!"
    ack = await say(customer, product, vendor.id, hostile)
    assert (ack["data"]["text"], ack["data"]["masked"]) == (hostile, False)
    matching = prefix + "a" * (5000 - len(prefix))
    ack = await say(customer, product, vendor.id, matching)
    assert (ack["data"]["text"], ack["data"]["masked"]) == (MASK, True)
    # What RE2 cannot take is refused, with the reason.
    response = await admin(server, "POST", RULES, key, json={"kind": "regex",
                           "pattern": r"(a+)+\1", "action": "mask"})  # fmt: skip
    assert response.status_code == 400
    assert "linear-time" in response.json()["message"]


async def test_system_messages_are_never_held_to_the_rules(
    server: Server, rules: Any, clients: Any
) -> None:
    term = word()
    await rules("term", term, "refuse")
    chats = create_key(server, "chats:write", name="system-notices")
    customer, vendor = await clients(server, "customer"), await clients(server, "vendor")
    _product, chat_id = await chat_between(customer, vendor)
    path = f"/api/v1/admin/chats/{chat_id}/messages"
    response = await admin(server, "POST", path, chats, json={"text": f"About {term}"})
    assert response.status_code == 201, response.text
    assert response.json()["data"]["text"] == f"About {term}"


@pytest.fixture
def two_nodes(server: Server, log_dir: Path) -> Iterator[list[Server]]:
    with nodes_sharing(server.database_url, log_dir, SLYCHAT_REVOCATION_POLL=f"{POLL}s") as started:
        yield started


@ON_POSTGRES
async def test_a_rule_added_on_one_node_is_in_effect_on_the_other(
    two_nodes: list[Server], rules: Any, clients: Any, key: str
) -> None:
    first, second = two_nodes
    customer, vendor = await clients(second, "customer"), await clients(second, "vendor")
    product, _chat_id = await chat_between(customer, vendor)
    term = word()
    rule = await rules("term", term, "refuse", on=first)
    # Within the poll (and then some, on a busy machine): the other node refuses it.
    deadline = time.monotonic() + 30 * POLL
    while (ack := await say(customer, product, vendor.id, term))["error"] is False:
        assert time.monotonic() < deadline, "the rule never reached the other node"
        await asyncio.sleep(POLL / 5)
    assert (ack["statusCode"], ack["message"]) == (400, BREAKS)
    # And deleted on one node, the other lets the word through again.
    assert (await admin(first, "DELETE", f"{RULES}/{rule['id']}", key)).status_code == 200
    deadline = time.monotonic() + 30 * POLL
    while (await say(customer, product, vendor.id, term))["error"] is True:
        assert time.monotonic() < deadline, "the deletion never reached the other node"
        await asyncio.sleep(POLL / 5)


async def test_a_flag_or_mask_rule_opens_an_automatic_report_naming_the_rule(
    server: Server, rules: Any, clients: Any, key: str
) -> None:
    flag_term, mask_term = word(), word()
    flag = await rules("term", flag_term, "flag")
    mask = await rules("term", mask_term, "mask")
    customer, vendor = await clients(server, "customer"), await clients(server, "vendor")
    product, _chat_id = await chat_between(customer, vendor)
    flagged = (await say(vendor, product, customer.id, f"a {flag_term} deal"))["data"]
    masked = (await say(vendor, product, customer.id, f"so {mask_term}"))["data"]
    await say(vendor, product, customer.id, "a clean one")  # opens none
    reports = await settled(server, key, vendor.id, 2)
    by_message = {r["target"]["messageId"]: r for r in reports}
    assert set(by_message) == {flagged["id"], masked["id"]}
    for message, rule in ((flagged, flag), (masked, mask)):
        auto = by_message[message["id"]]
        assert auto["reason"] == "inappropriate"
        assert auto["automatic"] is True
        assert auto["reporter"] == {"userId": 0, "userType": "SYSTEM"}
        assert rule["id"] in auto["note"]
        assert rule["pattern"] in auto["note"]
    await asyncio.sleep(QUIET)
    assert len(await automatic_reports(server, key, vendor.id)) == 2
    # A refused message opens none: nothing was stored.
    refused = await rules("term", word(), "refuse")
    assert (await say(vendor, product, customer.id, refused["pattern"]))["error"] is True
    await asyncio.sleep(QUIET)
    assert len(await automatic_reports(server, key, vendor.id)) == 2
