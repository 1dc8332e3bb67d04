"""Sync cursors: a round trip for their own user only; whatever a client sends as a cursor
decodes to a position this server issued to that user, or to nothing (a `reset`), never an
error; and no number in a cursor is out of the database's range."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slychat.domain.identity import Role, User
from slychat.domain.models import Message
from slychat.protocol.cursors import CursorCodec
from slychat.services.search import SearchPosition
from slychat.services.sync import Position
from tests.strategies import CURSORS, HOSTILE_NUMBERS, HOSTILE_TEXT
from tests.support import signed_cursor

KEY = b"cursor-key-0123456789abcdef012345"
CUSTOMER = User(Role.CUSTOMER, 7)
VENDOR = User(Role.VENDOR, 7)
CODEC = CursorCodec(KEY)


def signed(payload: str) -> str:
    """A cursor of any payload, signed with the codec's key: what a holder of the key (or,
    before, of a public key it was derived from) could write."""
    return signed_cursor(payload, KEY)


def test_a_cursor_decodes_to_its_position_for_its_user_only() -> None:
    position = Position(12, 1_800_000_000_000)
    cursor = CODEC.encode(VENDOR, position)
    assert CODEC.decode(cursor, VENDOR) == position
    assert CODEC.decode(cursor, User(Role.CUSTOMER, 7)) is None
    assert CODEC.decode(cursor, User(Role.VENDOR, 8)) is None
    assert CursorCodec(b"another key, as long as the first").decode(cursor, VENDOR) is None
    assert CODEC.decode(signed("VENDOR:7:12:1800000000000"), VENDOR) == position


@pytest.mark.parametrize(
    "cursor",
    [
        "v1.é.é",  # compare_digest refuses non-ASCII str: this was a 500
        "v1.VkVORE9SOjc6MTI6MTgwMDAwMDAwMDAwMA.\u00e9\u00e9\u00e9",
        "v1.\U0001f600.AAAA",
        "v1.\ud800.AAAA",
        "v1.\x00.\x00",
        "v1.A.AAAA",  # not base64 at all (one character too many)
        "v1.====.AAAA",
        "v1..",
        "v1.x.y.z",
        "v2.VkVORE9SOjc6MTI6MTgwMDAwMDAwMDAwMA.AAAA",
        "v1." + "A" * 10_000 + ".AAAA",
        "",
    ],
)
def test_unreadable_cursors_decode_to_nothing(cursor: str) -> None:
    assert CODEC.decode(cursor, VENDOR) is None


@pytest.mark.parametrize(
    "payload",
    [
        f"VENDOR:7:{-(10**30)}:1800000000000",  # this was a 500 (SQLite OverflowError)
        "VENDOR:7:-1:1800000000000",
        f"VENDOR:7:{2**63}:1800000000000",
        f"VENDOR:7:{10**30}:1800000000000",
        f"VENDOR:7:12:{10**30}",  # dated in the far future: past any retention check
        "VENDOR:7:12:-1",
        "VENDOR:7:+12:1800000000000",
        "VENDOR:7: 12:1800000000000",
        "VENDOR:7:012:1800000000000",
        "VENDOR:7:1_2:1800000000000",
        "VENDOR:7:\u0661\u0662:1800000000000",  # Arabic-Indic digits, which int() reads
        "VENDOR:7:12.0:1800000000000",
        "VENDOR:7:1e3:1800000000000",
        "VENDOR:07:12:1800000000000",
        f"VENDOR:{7 + 2**64}:12:1800000000000",
        "VENDOR:7:12:1800000000000:9",
        "VENDOR:7:12",
        "vendor:7:12:1800000000000",
        "VENDOR:7:" + "9" * 5000 + ":1",  # past int()'s digit limit
    ],
)
def test_signed_cursors_with_numbers_out_of_range_decode_to_nothing(payload: str) -> None:
    assert CODEC.decode(signed(payload), VENDOR) is None


@settings(max_examples=300, deadline=None)
@given(cursor=HOSTILE_TEXT | CURSORS)
def test_any_text_decodes_to_nothing(cursor: str) -> None:
    assert CODEC.decode(cursor, VENDOR) is None


@settings(max_examples=300, deadline=None)
@given(
    role=st.sampled_from(["VENDOR", "CUSTOMER", "", "VENDOR\x00"]) | HOSTILE_TEXT,
    user_id=HOSTILE_NUMBERS,
    pos=HOSTILE_NUMBERS,
    at=HOSTILE_NUMBERS,
)
def test_signed_cursors_of_any_numbers_decode_within_range(
    role: str, user_id: object, pos: object, at: object
) -> None:
    position = CODEC.decode(signed(f"{role}:{user_id}:{pos}:{at}"), VENDOR)
    if position is not None:
        assert 0 <= position.pos < 2**63
        assert 0 <= position.at < 2**63
        assert (role, str(user_id)) == ("VENDOR", "7")


def test_a_cursor_reads_back_for_its_user_only() -> None:
    codec = CursorCodec(b"k" * 32)
    cursor = codec.encode(CUSTOMER, Position(41, 1_700_000_000_000))
    assert cursor.startswith("v1.")
    assert codec.decode(cursor, CUSTOMER) == Position(41, 1_700_000_000_000)
    assert codec.decode(cursor, VENDOR) is None  # the same id under the other role
    assert CursorCodec(b"o" * 32).decode(cursor, CUSTOMER) is None  # another key


def test_a_forged_or_garbled_cursor_is_no_cursor() -> None:
    codec = CursorCodec(b"k" * 32)
    version, body, mac = codec.encode(CUSTOMER, Position(3, 5)).split(".")
    forged = codec.encode(VENDOR, Position(999, 5)).split(".")[1]
    for bad in (f"{version}.{forged}.{mac}", f"v2.{body}.{mac}", "v1..", "", "v1.%%%.x"):
        assert codec.decode(bad, CUSTOMER) is None


def test_a_message_cursor_is_its_position_in_the_viewers_feed() -> None:
    codec = CursorCodec(b"k" * 32)
    m = Message("m", "c", 1, VENDOR, "hi", 1234, False, customer_pos=10, vendor_pos=None)
    after = codec.after(m, CUSTOMER)
    assert after is not None
    assert codec.decode(after, CUSTOMER) == Position(10, 1234)
    assert codec.after(m, VENDOR) is None  # not (yet) in the vendor's feed


# --- search pages' `next` ------------------------------------------------------------------


def test_a_search_next_decodes_for_its_user_only_and_never_as_a_sync_cursor() -> None:
    position = SearchPosition("6b056235102b2bc44fbb2c89")
    cursor = CODEC.encode_search(VENDOR, position)
    assert CODEC.decode_search(cursor, VENDOR) == position
    assert CODEC.decode_search(cursor, CUSTOMER) is None
    assert CODEC.decode_search(cursor, User(Role.VENDOR, 8)) is None
    assert CursorCodec(b"another key, as long as the first").decode_search(cursor, VENDOR) is None
    # Neither kind of cursor reads as the other.
    assert CODEC.decode(cursor, VENDOR) is None
    assert CODEC.decode_search(CODEC.encode(VENDOR, Position(3, 4)), VENDOR) is None
    # Signed, but naming no message id this server writes.
    for payload in ("search:VENDOR:7:", "search:VENDOR:7:a:b", "search:VENDOR:07:abc",
                    "search:VENDOR:7:" + "f" * 25, "search:VENDOR:7:ab c"):  # fmt: skip
        assert CODEC.decode_search(signed(payload), VENDOR) is None, payload


@settings(max_examples=300, deadline=None)
@given(cursor=st.one_of(CURSORS, HOSTILE_TEXT))
def test_anything_as_a_search_next_is_a_position_or_nothing(cursor: str) -> None:
    decoded = CODEC.decode_search(cursor, VENDOR)
    assert decoded is None or isinstance(decoded, SearchPosition)
