"""What a node remembers of each chat's last messages answers a split-number look only
when it can be sure; otherwise it says so (None) and the database is read."""

from __future__ import annotations

from slychat.domain.identity import Role, User
from slychat.moderation import ContactDetector
from slychat.moderation.split_numbers import MAX_FRAGMENTS
from slychat.services.recent_runs import RecentRuns, Recorded

CUSTOMER = User(Role.CUSTOMER, 1)
VENDOR = User(Role.VENDOR, 2)
T = 1_000_000  # ms


def runs_with(*messages: tuple[int, User, str | None], at: int = T) -> RecentRuns:
    runs = RecentRuns()
    for seq, sender, text in messages:
        runs.record("c", Recorded(seq, sender, at, text))
    return runs


def test_a_chat_held_from_its_first_message_answers() -> None:
    runs = runs_with((1, CUSTOMER, "hi"), (2, CUSTOMER, "06 12"), (3, CUSTOMER, None))
    run = runs.run_of("c", CUSTOMER, T + 1)
    assert run is not None
    assert run.texts == (("hi", T), ("06 12", T))  # a file without text is passed over
    assert run.last_seq == 3


def test_another_senders_message_ends_the_run() -> None:
    runs = runs_with((1, CUSTOMER, "06 12"), (2, VENDOR, "ok"), (3, CUSTOMER, "34"))
    run = runs.run_of("c", CUSTOMER, T)
    assert run is not None
    assert run.texts == (("34", T),)
    vendor = runs.run_of("c", VENDOR, T)
    assert vendor is not None
    assert vendor.texts == ()


def test_a_chat_first_seen_midway_is_not_known_until_its_run_ends_inside() -> None:
    runs = runs_with((5, CUSTOMER, "06 12"), (6, CUSTOMER, "34"))
    assert runs.run_of("c", CUSTOMER, T) is None  # seq 4 and before: read them
    runs.record("c", Recorded(7, VENDOR, T, "ok"))
    vendor = runs.run_of("c", VENDOR, T)  # the customer's message before ends it
    assert vendor is not None
    assert vendor.texts == (("ok", T),)
    customer = runs.run_of("c", CUSTOMER, T)  # and the vendor's ends the customer's
    assert customer is not None
    assert customer.texts == ()
    assert runs.run_of("unknown", CUSTOMER, T) is None


def test_a_gap_in_seq_is_never_walked_over() -> None:
    runs = runs_with((1, CUSTOMER, "06"), (2, CUSTOMER, "12"))
    runs.record("c", Recorded(4, CUSTOMER, T, "34"))  # 3 was stored by another process
    assert runs.run_of("c", CUSTOMER, T) is None
    # A commit that finished later than the next one: memory starts over after the gap
    # and stays unsure until the run ends inside what it holds.
    out_of_order = runs_with((1, VENDOR, "hi"), (3, CUSTOMER, "12"), (2, CUSTOMER, "06"))
    assert out_of_order.run_of("c", CUSTOMER, T) is None
    out_of_order.record("c", Recorded(4, VENDOR, T, "ok"))
    assert out_of_order.run_of("c", CUSTOMER, T) is not None


def test_older_than_the_window_or_beyond_the_limit_ends_the_run() -> None:
    runs = RecentRuns()
    runs.record("c", Recorded(1, CUSTOMER, T, "06 12"))
    runs.record("c", Recorded(2, CUSTOMER, T + 61_000, "34"))
    run = runs.run_of("c", CUSTOMER, T + 62_000)
    assert run is not None
    assert run.texts == (("34", T + 61_000),)
    many = runs_with(*((seq, CUSTOMER, str(seq)) for seq in range(5, 5 + 2 * MAX_FRAGMENTS)))
    run = many.run_of("c", CUSTOMER, T)
    assert run is not None
    assert len(run.texts) == MAX_FRAGMENTS


def test_an_edit_or_deletion_forgets_the_chat_and_memory_is_bounded() -> None:
    runs = runs_with((1, CUSTOMER, "06 12"))
    runs.forget("c")
    assert runs.run_of("c", CUSTOMER, T) is None
    small = RecentRuns(max_chats=2, max_chars=10)
    for chat in ("a", "b", "c"):
        small.record(chat, Recorded(1, CUSTOMER, T, "1234"))
    assert small.run_of("a", CUSTOMER, T) is None  # the least recently written went first
    assert small.run_of("c", CUSTOMER, T) is not None
    small.record("d", Recorded(1, CUSTOMER, T, "0123456789"))
    assert [small.run_of(c, CUSTOMER, T) is None for c in "bcd"] == [True, True, False]


def test_only_a_text_with_a_digit_or_number_word_can_end_a_split_number() -> None:
    detector = ContactDetector()
    for text in ("78", "call me on 06", "five five", "sieben", "٠٦١٢", "b|12:5"):
        assert detector.may_hold_number_part(text), text
    for text in ("hello", "is the lamp blue?", "ok!", "-"):
        assert not detector.may_hold_number_part(text), text
    # And only one whose first word may lie inside a number: it would run into it.
    for text in ("78", "five five", "٠٦١٢", "  +44 20", "(0)20 7946", "-12"):
        assert detector.may_end_split_number(text), text
    for text in ("b|12:5", "call me on 06", "ok 34 56 78", "hello", "-"):
        assert not detector.may_end_split_number(text), text
