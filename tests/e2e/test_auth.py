"""Handshake authentication: both claim shapes, every place a token may travel, and prompt
refusals (`connect_error` with `{error, message, statusCode: 401}`) for bad tokens."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.support import SECRET, RawClient, Server, b64url, next_id, rs256, rsa_keys, token

BOTH = ("/presence", "/chat")


def handmade(claims: dict[str, Any], alg: str, secret: str = SECRET) -> str:
    """A JWT built by hand (for algorithms PyJWT would not sign with here)."""
    header = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    signing_input = f"{header}.{body}".encode()
    digests = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}
    signature = (
        ""
        if alg == "none"
        else b64url(hmac.new(secret.encode(), signing_input, digests[alg]).digest())
    )
    return f"{header}.{body}.{signature}"


def claims(role: str, user_id: Any, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iat": now, "exp": now + 3600, "data": {"id": user_id}, "types": [role]} | extra


async def admitted_as(p: RawClient, user_id: int, user_type: str) -> None:
    """Both namespaces are up and the server knows the user as (user_type, user_id)."""
    online = await p.wait("userIsOnline", "/presence")
    assert online["data"] == {"userId": user_id, "userType": user_type}
    offline = await p.wait("offlineMessages", "/chat")
    assert offline["error"] is False
    chats = [d for ns, e, d in p.events if ns == "/chat" and e == "userChats"]
    assert len(chats) == 1
    assert chats[0]["error"] is False
    assert [e for ns, e, _ in p.events if e == "appError"] == []


def refused_with(p: RawClient, ns: str, status: int = 401) -> dict[str, Any]:
    """The namespace's connect_error: `data` is `{error: true, message, statusCode}`."""
    assert p.refused is not None, "the connection was admitted"
    # a server that never answers the handshake leaves the client waiting out its timeout
    assert p.errors[ns], f"no connect_error on {ns} after {p.elapsed:.1f}s: {p.refused!r}"
    error = p.errors[ns][0]
    assert isinstance(error, dict), error
    assert isinstance(error.get("message"), str), error
    data = error.get("data")
    assert isinstance(data, dict), error
    assert set(data) >= {"error", "message", "statusCode"}, data
    assert data["error"] is True, data
    assert data["statusCode"] == status, data
    assert isinstance(data["message"], str), data
    assert data["message"], data
    return data


# --- accepted tokens --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "role", "user_type"),
    [
        ("platform", "customer", "CUSTOMER"),
        ("platform", "vendor", "VENDOR"),
        ("standard", "customer", "CUSTOMER"),
        ("standard", "vendor", "VENDOR"),
        ("platform", "CUSTOMER", "CUSTOMER"),
        ("platform", "Vendor", "VENDOR"),
        ("standard", "VENDOR", "VENDOR"),
        ("standard", "cUsToMeR", "CUSTOMER"),
    ],
)
async def test_both_claim_shapes_and_any_role_case_are_accepted(
    server: Server, raw_client: Callable[[], RawClient], shape: str, role: str, user_type: str
) -> None:
    user_id = next_id()
    p = raw_client()
    assert await p.connect(server.url, BOTH, auth={"token": token(role, user_id, shape=shape)})
    await admitted_as(p, user_id, user_type)


async def test_digit_string_user_ids_are_normalised(
    server: Server, raw_client: Callable[[], RawClient]
) -> None:
    platform_id = next_id()
    p = raw_client()
    tok = token("customer", platform_id, data={"id": str(platform_id)})
    assert await p.connect(server.url, BOTH, auth={"token": tok})
    await admitted_as(p, platform_id, "CUSTOMER")

    standard_id = next_id()
    q = raw_client()
    assert await q.connect(
        server.url, BOTH, auth={"token": token("vendor", standard_id, shape="standard")}
    )
    await admitted_as(q, standard_id, "VENDOR")

    # ids are integers on the wire whichever form the token used
    ack = await p.sio.call(
        "sendMessage",
        {
            "productId": f"p-{next_id()}",
            "recipientId": str(standard_id),
            "text": "hi",
            "productName": "n",
            "storeName": "s",
            "customerName": "c",
        },
        namespace="/chat",
        timeout=10,
    )
    assert ack["error"] is False, ack
    assert ack["data"]["senderId"] == platform_id
    assert type(ack["data"]["senderId"]) is int
    new_chat = (await q.wait("newChat", "/chat"))["message"]
    assert new_chat["customerId"] == platform_id
    assert new_chat["vendorId"] == standard_id


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param(lambda uid: {"sub": uid, "role": "vendor"}, id="standard-integer-sub"),
        pytest.param(
            lambda uid: {"data": {"id": uid}, "types": ["vendor"], "sub": uid},
            id="platform-with-integer-sub",
        ),
    ],
)
async def test_integer_user_ids_in_sub_are_accepted(
    server: Server, raw_client: Callable[[], RawClient], shape: Callable[[int], dict[str, Any]]
) -> None:
    """docs/protocol.md: user ids are integers (digit strings are also accepted)."""
    user_id = next_id()
    p = raw_client()
    assert await p.connect(server.url, BOTH, auth={"token": handmade_hs256(shape(user_id))}), (
        p.errors
    )
    await admitted_as(p, user_id, "VENDOR")


async def test_issued_at_slightly_ahead_of_the_server_clock_is_accepted(
    server: Server, raw_client: Callable[[], RawClient]
) -> None:
    """Only exp and nbf are enforced: a token minted on a clock a few seconds ahead of this
    server's (its `iat` in our future) is still valid."""
    user_id = next_id()
    p = raw_client()
    tok = token("customer", user_id, iat=int(time.time()) + 5)
    assert await p.connect(server.url, BOTH, auth={"token": tok}), p.errors
    await admitted_as(p, user_id, "CUSTOMER")


@pytest.mark.parametrize("where", ["auth", "token-header", "bearer-header", "query"])
async def test_token_travels_in_auth_headers_or_query(
    server: Server, raw_client: Callable[[], RawClient], where: str
) -> None:
    user_id = next_id()
    tok = token("vendor", user_id)
    url, auth, headers = server.url, None, None
    if where == "auth":
        auth = {"token": tok}
    elif where == "token-header":
        headers = {"token": tok}
    elif where == "bearer-header":
        headers = {"Authorization": f"Bearer {tok}"}
    else:
        url = f"{server.url}?token={tok}"
    p = raw_client()
    assert await p.connect(url, BOTH, auth=auth, headers=headers)
    await admitted_as(p, user_id, "VENDOR")


async def test_polling_handshake_is_accepted(
    server: Server, raw_client: Callable[[], RawClient]
) -> None:
    """The official client's default: the handshake over polling, then an upgrade."""
    user_id = next_id()
    p = raw_client()
    assert await p.connect(
        server.url,
        BOTH,
        auth={"token": token("customer", user_id)},
        transports=["polling", "websocket"],
    )
    await admitted_as(p, user_id, "CUSTOMER")
    # (python-engineio's client only closes a polling connection after the server's next
    # long-poll timeout, so end this one on the upgraded websocket.)
    deadline = asyncio.get_running_loop().time() + 5
    while p.sio.eio.current_transport != "websocket":
        assert asyncio.get_running_loop().time() < deadline, "no websocket upgrade"
        await asyncio.sleep(0.02)


# --- refused tokens ---------------------------------------------------------------------------


def _bad_tokens() -> dict[str, Callable[[int], Any]]:
    """Each maps a user id onto a handshake `auth` that must be refused with 401."""
    return {
        "missing": lambda _uid: None,
        "empty-auth": lambda _uid: {},
        "empty-token": lambda _uid: {"token": ""},
        "malformed": lambda _uid: {"token": "not-a-jwt"},
        "garbage-segments": lambda _uid: {"token": "abc.def.ghi"},
        "expired": lambda uid: {"token": token("customer", uid, ttl=-120)},
        "not-yet-valid": lambda uid: {"token": token("customer", uid, nbf=int(time.time()) + 3600)},
        "wrong-signature": lambda uid: {
            "token": token("customer", uid, secret="some-other-secret-0123456789abcdef")
        },
        "alg-none": lambda uid: {"token": handmade(claims("customer", uid), "none")},
        "hs512-not-configured": lambda uid: {"token": handmade(claims("customer", uid), "HS512")},
        "platform-no-role": lambda uid: {
            "token": handmade_hs256({"data": {"id": uid}, "exp": int(time.time()) + 60})
        },
        "platform-empty-types": lambda uid: {
            "token": handmade_hs256({"data": {"id": uid}, "types": []})
        },
        "platform-no-id": lambda _uid: {
            "token": handmade_hs256({"data": {"name": "x"}, "types": ["customer"]})
        },
        "standard-no-role": lambda uid: {"token": handmade_hs256({"sub": str(uid)})},
        "standard-no-sub": lambda _uid: {"token": handmade_hs256({"role": "vendor"})},
        "non-numeric-id": lambda _uid: {
            "token": handmade_hs256({"sub": "abc", "role": "customer"})
        },
        "unknown-role": lambda uid: {"token": token("superuser", uid)},
        # the token policy
        "no-exp": lambda uid: {
            "token": handmade({"data": {"id": uid}, "types": ["customer"]}, "HS256")
        },
        "lifetime-too-long": lambda uid: {"token": token("customer", uid, ttl=31 * 86400)},
        "jti-too-long": lambda uid: {"token": token("customer", uid, jti="j" * 256)},
        "jti-not-a-string": lambda uid: {"token": token("customer", uid, jti=12345)},
        # times are JSON integers: PyJWT alone takes floats and digit strings
        "iat-a-float": lambda uid: {"token": token("customer", uid, iat=time.time())},
        "iat-a-digit-string": lambda uid: {
            "token": token("customer", uid, iat=str(int(time.time())))
        },
        "exp-a-float": lambda uid: {"token": token("customer", uid, exp=time.time() + 600.5)},
        "exp-a-digit-string": lambda uid: {
            "token": token("customer", uid, exp=str(int(time.time()) + 600))
        },
        "nbf-a-float": lambda uid: {"token": token("customer", uid, nbf=time.time() - 10)},
        # hostile shapes: the auth payload and the token may be anything at all
        "auth-a-list": lambda _uid: ["token"],
        "auth-a-string": lambda _uid: "not-a-dict",
        "auth-a-number": lambda _uid: 42,
        "token-a-number": lambda _uid: {"token": 12345},
        "token-a-list": lambda uid: {"token": [token("customer", uid)]},
        "token-a-dict": lambda uid: {"token": {"token": token("customer", uid)}},
        "token-true": lambda _uid: {"token": True},
        "token-nested-junk": lambda _uid: {"token": {"a": [1, {"b": None, "c": [[[]]]}]}},
        "token-non-text": lambda _uid: {"token": "\x00\x01\x7f\ufffe\u00ff.\x00.\x00"},
        "token-60kb": lambda _uid: {"token": "e" * 60_000},
        "id-a-float": lambda uid: {"token": token("customer", uid, data={"id": uid + 0.5})},
        "id-a-bool": lambda _uid: {"token": token("customer", 1, data={"id": True})},
        "id-huge": lambda _uid: {"token": token("customer", 1, data={"id": 2**70})},
        "id-huge-digits": lambda _uid: {"token": token("customer", 1, data={"id": "9" * 5000})},
        "data-not-a-dict": lambda uid: {"token": token("customer", uid, data=[uid])},
        "types-not-a-list": lambda uid: {"token": token("customer", uid, types="customer")},
    }


def handmade_hs256(payload: dict[str, Any]) -> str:
    """These claims, HS256 with the test secret: no `iat` added, and an `exp` a minute
    ahead only when they have none (the server requires one; `handmade` makes a token
    without)."""
    return handmade({"exp": int(time.time()) + 60} | payload, "HS256")


BAD = _bad_tokens()


@pytest.mark.parametrize("namespace", BOTH)
@pytest.mark.parametrize("case", sorted(BAD))
async def test_bad_tokens_are_refused_with_401(
    server: Server, raw_client: Callable[[], RawClient], case: str, namespace: str
) -> None:
    p = raw_client()
    assert not await p.connect(server.url, (namespace,), auth=BAD[case](next_id()))
    refused_with(p, namespace)
    assert p.events == []


@pytest.mark.parametrize(
    "headers",
    [{"token": "not-a-jwt"}, {"Authorization": "Bearer not-a-jwt"}, {"Authorization": "Bearer"}],
)
async def test_bad_tokens_in_headers_are_refused_with_401(
    server: Server, raw_client: Callable[[], RawClient], headers: dict[str, str]
) -> None:
    p = raw_client()
    assert not await p.connect(server.url, ("/presence",), headers=headers)
    refused_with(p, "/presence")


async def test_bad_token_in_query_is_refused_with_401(
    server: Server, raw_client: Callable[[], RawClient]
) -> None:
    p = raw_client()
    expired = token("vendor", next_id(), ttl=-120)
    assert not await p.connect(f"{server.url}?token={expired}", ("/chat",))
    refused_with(p, "/chat")


async def test_bad_token_refuses_both_namespaces_at_once(
    server: Server, raw_client: Callable[[], RawClient]
) -> None:
    """A bad token on both namespaces at once: both are refused, promptly."""
    p = raw_client()
    assert not await p.connect(server.url, BOTH, auth={"token": "not-a-jwt"})
    for ns in BOTH:
        refused_with(p, ns)


# --- admins -------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["platform", "standard"])
async def test_admin_is_refused_on_chat_but_accepted_on_presence(
    server: Server, raw_client: Callable[[], RawClient], shape: str
) -> None:
    admin_id = next_id()
    tok = token("admin", admin_id, shape=shape)

    chat = raw_client()
    assert not await chat.connect(server.url, ("/chat",), auth={"token": tok})
    error = chat.errors["/chat"][0]
    assert error["data"]["error"] is True
    assert error["data"]["statusCode"] in (401, 403)
    assert error["data"]["message"]

    presence = raw_client()
    assert await presence.connect(server.url, ("/presence",), auth={"token": tok})
    online = await presence.wait("userIsOnline", "/presence")
    assert online["data"] == {"userId": admin_id, "userType": "ADMIN"}

    # an admin may ask about a vendor's presence like anyone else
    vendor_id = next_id()
    ack = await presence.sio.call(
        "checkOnlinePresence",
        {"userId": vendor_id, "userType": "VENDOR"},
        namespace="/presence",
        timeout=10,
    )
    assert ack["error"] is False, ack
    assert ack["data"]["status"] == "offline"


# --- public-key configurations ------------------------------------------------------------------


def forged_with_public_key(role: str, user_id: int) -> str:
    """The algorithm-confusion attack: HS256 "signed" with the server's public key."""
    now = int(time.time())
    claims = {"iat": now, "exp": now + 3600, "sub": str(user_id), "role": role}
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    signing_input = f"{header}.{body}".encode()
    signature = hmac.new(rsa_keys()[1].encode(), signing_input, hashlib.sha256).digest()
    return f"{header}.{body}.{b64url(signature)}"


SHORT = 4.0  # these servers answer on loopback at once; a hang fails within this


async def test_rs256_public_key_configuration(
    server: Server, spawn_server: Callable[..., Server], raw_client: Callable[[], RawClient]
) -> None:
    """RS256 only, with a public key and no shared secret."""
    srv = spawn_server(
        SLYCHAT_JWT_ALGORITHMS="RS256", SLYCHAT_JWT_PUBLIC_KEY=rsa_keys()[1], SLYCHAT_JWT_SECRET=""
    )
    user_id = next_id()
    p = raw_client()
    assert await p.connect(srv.url, BOTH, auth={"token": rs256("vendor", user_id)}, timeout=SHORT)
    await admitted_as(p, user_id, "VENDOR")

    for bad in (
        token("vendor", next_id()),  # HS256 is not configured here
        forged_with_public_key("vendor", next_id()),
        handmade(claims("vendor", next_id()), "none"),
    ):
        q = raw_client()
        assert not await q.connect(srv.url, ("/presence",), auth={"token": bad}, timeout=SHORT)
        refused_with(q, "/presence")


async def test_public_key_used_as_hmac_secret_is_refused_promptly(
    server: Server, spawn_server: Callable[..., Server], raw_client: Callable[[], RawClient]
) -> None:
    """HS256 and RS256 both configured: a token "signed" with the public key as an HMAC
    secret (algorithm confusion) gets `connect_error` 401 at once, not silence."""
    srv = spawn_server(SLYCHAT_JWT_ALGORITHMS="HS256,RS256", SLYCHAT_JWT_PUBLIC_KEY=rsa_keys()[1])
    for ns in BOTH:
        forged = raw_client()
        assert not await forged.connect(
            srv.url,
            (ns,),
            auth={"token": forged_with_public_key("vendor", next_id())},
            timeout=SHORT,
        )
        refused_with(forged, ns)


async def test_shared_secret_and_public_key_both_verify(
    server: Server, spawn_server: Callable[..., Server], raw_client: Callable[[], RawClient]
) -> None:
    """HS256 with the shared secret and RS256 with the public key, both configured: each
    algorithm in the list verifies with its own key."""
    srv = spawn_server(SLYCHAT_JWT_ALGORITHMS="HS256,RS256", SLYCHAT_JWT_PUBLIC_KEY=rsa_keys()[1])
    for tok_of in (rs256, token):
        user_id = next_id()
        p = raw_client()
        assert await p.connect(
            srv.url, BOTH, auth={"token": tok_of("customer", user_id)}, timeout=SHORT
        ), f"{tok_of.__name__} token refused: {p.errors}"
        await admitted_as(p, user_id, "CUSTOMER")
