"""The token verifier on its own: the policy every token meets, and hostile input, which
must always end as `Unauthorized` with a message (never another exception)."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slychat.domain.errors import Unauthorized
from slychat.domain.identity import Role, User
from slychat.services.auth import MAX_TOKEN_CHARS, Credentials, TokenPolicy, TokenService
from tests.strategies import HOSTILE_NUMBERS, HOSTILE_TEXT
from tests.support import ROOT, SECRET, b64url

DAY = 86400


def service(**policy: Any) -> TokenService:
    return TokenService(SECRET, ["HS256"], policy=TokenPolicy(**policy))


def signed(payload: bytes | dict[str, Any], header: Any = None, secret: str = SECRET) -> str:
    """A token HS256-signed over exactly these bytes (which need not be a JSON object)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    head = b64url(json.dumps(header or {"alg": "HS256", "typ": "JWT"}).encode())
    signing_input = f"{head}.{b64url(body)}"
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iat": now, "exp": now + 3600, "data": {"id": 7}, "types": ["customer"]} | extra


def refused(tokens: TokenService, token: object, message: str | None = None) -> str:
    with pytest.raises(Unauthorized) as caught:
        tokens.credentials(token)
    assert caught.value.message
    if message is not None:
        assert caught.value.message == message
    return caught.value.message


# --- what a good token gives ------------------------------------------------------------------


def test_credentials_carry_the_user_the_expiry_and_the_token_id() -> None:
    now = int(time.time())
    got = service().credentials(signed(claims(exp=now + 600, jti="abc-1")))
    assert got == Credentials(User(Role.CUSTOMER, 7), float(now + 600), "abc-1")
    assert got.honoured_until == now + 600 + 30  # the clock leeway
    assert service().verify(signed(claims())) == User(Role.CUSTOMER, 7)


@pytest.mark.parametrize("jti", ["", "x" * 256, 12345, 1.5, True, [], {}])
def test_odd_jti_values_are_refused(jti: Any) -> None:
    refused(service(), signed(claims(jti=jti)))


def test_minted_tokens_carry_issuer_audience_and_a_jti() -> None:
    tokens = service(issuer="https://shop.example", audience="chat")
    token = tokens.mint(User(Role.VENDOR, 3), 600)
    got = tokens.credentials(token)
    assert got.user == User(Role.VENDOR, 3)
    assert got.token_id
    raw = jwt.decode(token, SECRET, algorithms=["HS256"], audience="chat")
    assert raw["iss"] == "https://shop.example"
    with pytest.raises(ValueError, match="MAX_LIFETIME"):
        tokens.mint(User(Role.VENDOR, 3), 31 * DAY)


# --- the policy ---------------------------------------------------------------------------------


def test_issuer_is_checked_when_configured() -> None:
    tokens = service(issuer="https://shop.example")
    assert tokens.credentials(signed(claims(iss="https://shop.example")))
    refused(tokens, signed(claims(iss="https://evil.example")), "Token issuer is not accepted")
    refused(tokens, signed(claims()), "Token has no 'iss' claim")
    refused(tokens, signed(claims(iss=5)), "Token issuer is not accepted")
    # not configured: any issuer
    assert service().credentials(signed(claims(iss="https://evil.example")))


def test_audience_is_checked_when_configured() -> None:
    tokens = service(audience="chat")
    assert tokens.credentials(signed(claims(aud="chat")))
    assert tokens.credentials(signed(claims(aud=["shop", "chat"])))
    refused(tokens, signed(claims(aud="shop")), "Token audience is not accepted")
    refused(tokens, signed(claims()), "Token has no 'aud' claim")
    refused(tokens, signed(claims(aud={"x": 1})), "Token audience is not accepted")
    assert service().credentials(signed(claims(aud="anything")))


def test_exp_is_required_outside_dev_mode() -> None:
    no_exp = {k: v for k, v in claims().items() if k != "exp"}
    refused(service(), signed(no_exp), "Token has no 'exp' claim")
    assert service(require_exp=False).credentials(signed(no_exp)).expires_at is None
    dev = TokenService(None, ["HS256"])
    assert dev.dev_mode
    assert dev.require_exp is False


def test_expired_and_not_yet_valid_tokens_are_refused_with_leeway() -> None:
    now = int(time.time())
    refused(service(), signed(claims(exp=now - 60)), "Token has expired")
    assert service().credentials(signed(claims(exp=now - 10)))  # within the 30 s leeway
    refused(service(), signed(claims(nbf=now + 3600)), "Token is not valid yet")
    refused(service(), signed(claims(iat=now + 3600)), "Token is not valid yet")


# Times PyJWT accepts through int() although they are not JSON integers: each shape of a
# good time. (Named, not listed by value: the values depend on the clock, and pytest-xdist
# workers collecting at different seconds must collect the same test ids.)
_NOT_INTEGERS: dict[str, Callable[[int], Any]] = {
    "float": float,
    "fraction": lambda t: t + 0.5,
    "digits": str,
    "padded digits": lambda t: f" {t} ",
}


@pytest.mark.parametrize("shape", sorted(_NOT_INTEGERS))
@pytest.mark.parametrize("name", ["iat", "nbf", "exp"])
def test_times_that_are_not_integers_are_refused(name: str, shape: str) -> None:
    """The docs say integers: a float, or a digit string, is refused (PyJWT takes both)."""
    now = int(time.time())
    good = {"iat": now - 10, "nbf": now - 10, "exp": now + 600}[name]
    value = _NOT_INTEGERS[shape](good)
    refused(service(), signed(claims(**{name: value})), f"Token has an invalid '{name}' claim")


@pytest.mark.parametrize("name", ["iat", "nbf", "exp"])
@pytest.mark.parametrize(
    "value", [True, False, -1, 2**63, 10**30, -(10**30), None, [], {}, "1e9", "1.0", "abc"]
)
def test_times_of_any_other_type_or_out_of_range_are_refused(name: str, value: Any) -> None:
    refused(service(require_exp=False), signed(claims(**{name: value})))


def test_lifetime_longer_than_the_maximum_is_refused() -> None:
    now = int(time.time())
    message = "Token lifetime is longer than this server accepts"
    refused(service(), signed(claims(iat=now, exp=now + 31 * DAY)), message)
    # without `iat`, from now
    no_iat = {k: v for k, v in claims(exp=now + 31 * DAY).items() if k != "iat"}
    refused(service(), signed(no_iat), message)
    # an `iat` long ago makes a long lifetime even when `exp` is near
    refused(service(), signed(claims(iat=now - 40 * DAY, exp=now + 60)), message)
    assert service().credentials(signed(claims(iat=now, exp=now + 29 * DAY)))
    assert service(max_lifetime=60).credentials(signed(claims(iat=now, exp=now + 60)))
    refused(service(max_lifetime=60), signed(claims(iat=now, exp=now + 61)), message)


def test_algorithms_outside_the_list_and_none_are_refused() -> None:
    message = "Token algorithm is not accepted"
    refused(service(), signed(claims(), {"alg": "none"}), message)
    refused(service(), signed(claims(), {"alg": "None"}), message)
    refused(service(), signed(claims(), {"alg": "HS512"}), message)
    refused(service(), signed(claims(), {"alg": ["HS256"]}), message)
    refused(service(), signed(claims(), {"typ": "JWT"}), message)
    unsigned = signed(claims(), {"alg": "none"}).rsplit(".", 1)[0] + "."
    refused(service(), unsigned, message)
    with pytest.raises(ValueError, match="none"):
        TokenService(SECRET, ["none"])


def test_hs256_signed_with_the_public_key_is_refused() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    rs_only = TokenService(None, ["RS256"], public)
    both = TokenService(SECRET, ["HS256", "RS256"], public)
    forged = signed(claims(), secret=public)
    refused(rs_only, forged, "Token algorithm is not accepted")
    refused(both, forged, "Invalid token")
    good = jwt.encode(claims(), key, algorithm="RS256")
    assert rs_only.credentials(good).user == User(Role.CUSTOMER, 7)
    assert both.credentials(good).user == User(Role.CUSTOMER, 7)


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (None, "Authentication token is missing"),
        ("", "Authentication token is missing"),
        (b"eyJ", "Token must be a string"),
        (12345, "Token must be a string"),
        ({"token": "x"}, "Token must be a string"),
        (["a.b.c"], "Token must be a string"),
        ("x" * (MAX_TOKEN_CHARS + 1), "Token is too long"),
        ("a" * 100_000, "Token is too long"),
        ("not-a-jwt", "Invalid token"),
        ("a.b.c", "Invalid token"),
        ("\x00\x01\x02.\xff.\ud800", "Invalid token"),
    ],
)
def test_odd_tokens_are_refused(token: object, message: str) -> None:
    refused(service(), token, message)


@pytest.mark.parametrize(
    "payload",
    [
        {"data": "7", "types": ["customer"]},  # data not a dict, and no sub
        {"data": {"id": 7}, "types": "customer"},  # types not a list
        {"data": {"id": 7}, "types": [{"role": "customer"}]},
        {"data": {"id": 7}, "types": []},
        {"data": {"id": 7.0}, "types": ["customer"]},  # ids as floats, bools, huge ints
        {"data": {"id": True}, "types": ["customer"]},
        {"data": {"id": 2**63}, "types": ["customer"]},
        {"data": {"id": -1}, "types": ["customer"]},
        {"data": {"id": "9" * 5000}, "types": ["customer"]},
        {"data": {"id": "\uff11\uff12"}, "types": ["customer"]},  # full-width digits
        {"data": {"id": [7]}, "types": ["customer"]},
        {"data": {"id": None}, "types": ["customer"]},
        {"data": {}, "types": ["customer"]},
        {"sub": {"id": 7}, "role": "customer"},
        {"sub": "7", "role": ["customer"]},
        {"sub": "7", "role": "root"},
        {"sub": "7", "role": "adm\u0131n"},  # a dotless i: "adm\u0131n".upper() == "ADMIN"
        {"data": {"id": 7}, "types": ["cu\u017ftomer"]},  # a long s: upper() is "CUSTOMER"
        {"sub": "7"},
        {"role": "vendor"},
        {"data": {"id": {"$gt": 0}}, "types": [["customer"]], "sub": [], "role": {}},
    ],
)
def test_claims_of_the_wrong_shape_are_refused(payload: dict[str, Any]) -> None:
    message = refused(service(), signed({"exp": int(time.time()) + 60} | payload))
    assert message in {"Token has no valid role", "Token has no valid user id"}


@pytest.mark.parametrize(
    "payload",
    [
        b"[1, 2]",
        b'"a string"',
        b"42",
        b"null",
        b"not json",
        b"\xff\xfe\x00",
        b'{"exp": Infinity}',
        b'{"exp": NaN}',
        b'{"exp": 1e400}',
        b'{"exp": "soon"}',
        b'{"exp": ' + b"9" * 5000 + b"}",
        b'{"exp": 99999999999, "iat": -99999999999}',
        b'{"exp": 9999999999, "iat": 9999999999, "nbf": {}}',
        b'{"exp": [1], "data": {"id": 7}, "types": ["customer"]}',
        b'{"exp": true, "data": {"id": 7}, "types": ["customer"]}',
        b"{" + b'"a": {' * 200 + b"}" * 200 + b"}",
    ],
)
def test_payloads_that_are_not_good_json_objects_are_refused(payload: bytes) -> None:
    refused(service(), signed(payload))


def test_headers_that_are_not_objects_are_refused() -> None:
    for header in (b"[]", b'"HS256"', b"\xff", b"{"):
        token = f"{b64url(header)}.{b64url(json.dumps(claims()).encode())}.sig"
        refused(service(), token)


# --- fuzzing: nothing but Unauthorized ever leaves the verifier ---------------------------------

json_values = st.recursive(
    st.none()
    | HOSTILE_NUMBERS
    | st.floats(allow_nan=True, allow_infinity=True)
    | HOSTILE_TEXT
    | st.sampled_from(["customer", "VENDOR", "admin", "adm\u0131n", "cu\u017ftomer"]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(HOSTILE_TEXT, children, max_size=4)
    ),
    max_leaves=20,
)
claim_names = st.sampled_from(
    ["exp", "iat", "nbf", "iss", "aud", "jti", "sub", "role", "data", "types", "id"]
)
payloads = st.dictionaries(claim_names | st.text(max_size=6), json_values, max_size=8)
fuzz = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _only_unauthorized(tokens: TokenService, token: object) -> None:
    outcome: Credentials | Unauthorized
    try:
        outcome = tokens.credentials(token)
    except Unauthorized as exc:  # anything else escaping fails the test
        outcome = exc
    if isinstance(outcome, Unauthorized):
        assert outcome.message
        return
    # whatever got through is a well-formed identity
    assert isinstance(outcome.user.id, int)
    assert 0 <= outcome.user.id < 2**63
    assert outcome.token_id is None or isinstance(outcome.token_id, str)


@fuzz
@given(payload=payloads)
def test_fuzzed_claims_end_as_unauthorized_or_a_valid_user(payload: dict[str, Any]) -> None:
    strict = service(issuer="shop", audience="chat")
    for tokens in (service(), strict, service(require_exp=False)):
        body = json.dumps(payload, allow_nan=True).encode()
        _only_unauthorized(tokens, signed(body))
        _only_unauthorized(tokens, signed(claims() | payload))


@fuzz
@given(header=json_values, payload=json_values)
def test_fuzzed_headers_and_payloads_end_as_unauthorized(header: Any, payload: Any) -> None:
    body = json.dumps(payload, allow_nan=True).encode()
    head = b64url(json.dumps(header, allow_nan=True).encode())
    _only_unauthorized(service(), f"{head}.{b64url(body)}.c2ln")
    _only_unauthorized(service(), signed(body, header if isinstance(header, dict) else None))


@fuzz
@given(token=st.text(max_size=300) | st.binary(max_size=300) | json_values)
def test_fuzzed_raw_input_ends_as_unauthorized(token: Any) -> None:
    _only_unauthorized(service(), token)


@fuzz
@given(segments=st.lists(st.binary(max_size=120), min_size=1, max_size=5))
def test_fuzzed_segments_end_as_unauthorized(segments: list[bytes]) -> None:
    _only_unauthorized(service(), ".".join(b64url(s) for s in segments))


def test_the_token_command_refuses_a_lifetime_the_server_would_refuse() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "slychat", "token", "--role", "vendor", "--id", "1", "--ttl", "60d"],
        env={"SLYCHAT_JWT_SECRET": SECRET, "PATH": ""},
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "SLYCHAT_JWT_MAX_LIFETIME" in result.stderr
