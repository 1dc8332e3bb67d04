"""A number split over one sender's consecutive messages within 60 s is one number."""

from __future__ import annotations

from slychat.moderation import DEFAULT_MASK, ContactDetector
from slychat.moderation.split_numbers import Fragment, find_split_numbers

DETECTOR = ContactDetector()


def test_a_number_in_three_messages() -> None:
    earlier = [Fragment("hi!", 0), Fragment("call me on 06 12", 10), Fragment("34 56", 20)]
    split = find_split_numbers(DETECTOR, Fragment("78 ok?", 30), earlier)
    assert split is not None
    assert split.new == ((0, 2),)
    assert split.earlier == ((1, ((11, 16),)), (2, ((0, 5),)))
    masked = [DETECTOR.mask(earlier[i].text, also=spans).text for i, spans in split.earlier]
    assert masked == [f"call me on {DEFAULT_MASK}", DEFAULT_MASK]
    assert DETECTOR.mask("78 ok?", also=split.new).text == f"{DEFAULT_MASK} ok?"


def test_digits_written_as_words_over_messages() -> None:
    earlier = [Fragment("five five five", 0), Fragment("one two three", 5)]
    split = find_split_numbers(DETECTOR, Fragment("four five six seven", 9), earlier)
    assert split is not None
    assert split.earlier == ((0, ((0, 14),)), (1, ((0, 13),)))
    assert split.new == ((0, 19),)


def test_only_messages_within_the_window_count() -> None:
    earlier = [Fragment("06 12", 0), Fragment("34 56", 50)]
    assert find_split_numbers(DETECTOR, Fragment("78", 61), earlier) is None  # 06 12 is stale
    assert find_split_numbers(DETECTOR, Fragment("78", 59), earlier) is not None
    assert find_split_numbers(DETECTOR, Fragment("78", 200), earlier) is None


def test_numbers_that_are_not_split_are_left_to_the_detector() -> None:
    earlier = [Fragment("my number is 0612345678", 0)]
    assert find_split_numbers(DETECTOR, Fragment("thanks", 5), earlier) is None
    assert find_split_numbers(DETECTOR, Fragment("call 0612345678", 5), [Fragment("hi", 0)]) is None
    assert find_split_numbers(DETECTOR, Fragment("06 12", 5), []) is None


def test_ordinary_numbers_in_a_row_are_not_a_phone() -> None:
    earlier = [Fragment("I'll take 2", 0), Fragment("for 45 each", 10)]
    assert find_split_numbers(DETECTOR, Fragment("delivered on 12/05/2024?", 20), earlier) is None
    earlier = [Fragment("order 1234", 0)]
    assert find_split_numbers(DETECTOR, Fragment("5678", 5), earlier) is None


def test_only_texts_a_number_could_run_across_are_joined() -> None:
    # A number spanning two messages covers the end of one and the start of the other:
    # a word that is no number part at either edge rules it out, before any matching.
    assert not DETECTOR.may_join_numbers("b|12:9", "b|12:10")
    assert not DETECTOR.may_join_numbers("06 12", "ok 34 56 78")
    assert not DETECTOR.may_join_numbers("call me at", "06 12 34 56 78")
    for before, after in [
        ("06 12", "34"),
        ("call me on +", "44"),
        ("five", "five"),
        ("06 (", "12"),
    ]:
        assert DETECTOR.may_join_numbers(before, after), (before, after)
    split = find_split_numbers(DETECTOR, Fragment("7911 123456", 5), [Fragment("call +", 0)])
    assert split is not None
    assert split.new == ((0, 11),)
