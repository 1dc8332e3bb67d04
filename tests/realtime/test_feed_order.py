"""FeedOrder: what each socket was sent, held when the fan-out breaks, released once caught up."""

from __future__ import annotations

import time

from slychat.domain.identity import Role, User
from slychat.realtime.feed_order import LAG, FeedOrder

ALICE = User(Role.CUSTOMER, 1)
BOB = User(Role.VENDOR, 2)


def test_nothing_is_held_while_the_fan_out_works() -> None:
    order = FeedOrder()
    order.opened("s1", ALICE, 10)
    order.sent("s1", 11, "m11")
    assert order.hold_of(ALICE) is None
    assert order.held() == []


def test_a_break_holds_each_socket_before_it_could_have_begun() -> None:
    order = FeedOrder()
    order.opened("s1", ALICE, 10)
    order.opened("s2", BOB, 3)
    order.sent("s1", 11, "m11")
    # Noticed now; it may have begun LAG earlier: m11 came after that, so it may have
    # come after a change that was dropped. Held at what came before (the opening's 10).
    assert order.hold_all(time.monotonic()) == 2
    assert order.hold_of(ALICE) == 10
    assert order.hold_of(BOB) == 3
    assert sorted((sid, user, hold, seen) for sid, user, hold, seen in order.held()) == [
        ("s1", ALICE, 10, frozenset({"m11"})),
        ("s2", BOB, 3, frozenset()),
    ]
    order.sent("s1", 14, "m14")  # delivered locally during the break: not pushed again
    assert order.seen("s1") == {"m11", "m14"}
    order.caught_up("s1", 15)
    assert order.hold_of(ALICE) is None
    assert order.hold_of(BOB) == 3
    # A later break holds at what the catch-up delivered.
    order.caught_up("s2", 3)
    order.hold_all(time.monotonic() + LAG + 1)
    assert order.hold_of(ALICE) == 15


def test_a_socket_opened_during_a_break_is_held_at_its_opening() -> None:
    order = FeedOrder()
    order.broken = True
    order.opened("s1", ALICE, 7)
    assert order.hold_of(ALICE) == 7
    order.closed("s1")
    assert order.hold_of(ALICE) is None
    assert order.held() == []


def test_the_lowest_hold_of_a_users_sockets_counts() -> None:
    order = FeedOrder()
    order.opened("tab1", ALICE, 5)
    order.opened("tab2", ALICE, 9)
    order.hold_all(time.monotonic())
    assert order.hold_of(ALICE) == 5
    order.caught_up("tab1", 12)
    assert order.hold_of(ALICE) == 9


def test_a_message_sent_to_a_socket_is_not_sent_to_it_again() -> None:
    # A publish Redis took in while it hung arrives when it resumes, perhaps after the
    # catch-up pushed the same message: the socket that has it is left out.
    order = FeedOrder()
    order.opened("tab1", ALICE, 5)
    order.opened("tab2", ALICE, 5)
    order.sent("tab1", 6, "m6")
    assert order.unsent(["tab1", "tab2"], "m6") == ["tab2"]
    assert order.unsent(["tab1", "tab2"], "m7") == ["tab1", "tab2"]
    order.sent("tab1", 6, "m6")  # noted once
    order.hold_all(time.monotonic() + LAG + 1)
    assert order.held()[0][3] == frozenset()
    order.closed("tab1")
    assert order.unsent(["tab1"], "m6") == ["tab1"]  # unknown sockets are not filtered
