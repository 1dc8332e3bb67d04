"""TextRules: the contact-detail policy and the moderators' rules in the one step every
user-written text takes. Off runs no detection at all; a long text is checked off the
event loop's thread; the rules apply whatever the policy."""

from __future__ import annotations

import threading

import pytest

from slychat.domain.errors import Invalid
from slychat.domain.models import ChatDetails
from slychat.moderation import Action, Contact, ContactDetector, Rule, RuleKind, RuleSet
from slychat.services.text_rules import (
    BREAKS_RULES,
    REFUSED,
    THREAD_FROM,
    ContactPolicy,
    TextRules,
)

PHONE = "+44 7911 123456"


class Watched(ContactDetector):
    """A real detector that records the thread of each `find`."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[threading.Thread] = []

    def find(self, text: str) -> list[Contact]:
        self.threads.append(threading.current_thread())
        return super().find(text)


def rules(policy: ContactPolicy) -> tuple[TextRules, Watched]:
    detector = Watched()
    made = TextRules(100_000, policy, detector)
    detector.threads.clear()  # the mask's own check at start
    return made, detector


async def test_off_runs_no_detection_and_keeps_the_text() -> None:
    off, detector = rules(ContactPolicy.OFF)
    written = await off.check(f"call {PHONE}", off.policy_for(None))
    assert (written.text, written.masked) == (f"call {PHONE}", False)
    fields = ChatDetails(store_name=f"call {PHONE}")
    assert await off.details(fields, ContactPolicy.OFF) == (fields, ())
    assert (await off.details(fields, ContactPolicy.OFF))[0] is fields
    assert detector.threads == []
    assert off.detections == {}


async def test_mask_replaces_details_and_keeps_the_original() -> None:
    mask, _ = rules(ContactPolicy.MASK)
    written = await mask.check(f"call {PHONE} now", ContactPolicy.MASK)
    assert (written.text, written.original) == ("call [contact hidden] now", f"call {PHONE} now")
    clean = await mask.check("Is the lamp blue?", ContactPolicy.MASK)
    assert (clean.text, clean.masked) == ("Is the lamp blue?", False)
    assert mask.detections == {("phone", "masked"): 1}


async def test_refuse_raises_the_contracts_400() -> None:
    refuse, _ = rules(ContactPolicy.REFUSE)
    with pytest.raises(Invalid, match=REFUSED):
        await refuse.check(f"mail jo.smith@gmail.com {PHONE}", ContactPolicy.REFUSE)
    assert refuse.detections == {("email", "refused"): 1, ("phone", "refused"): 1}
    assert (await refuse.check("fine", ContactPolicy.REFUSE)).text == "fine"


async def test_a_chats_own_policy_wins_over_the_setting() -> None:
    mask, _ = rules(ContactPolicy.MASK)
    assert mask.policy_for(None) is ContactPolicy.MASK
    assert mask.policy_for("off") is ContactPolicy.OFF
    assert mask.policy_for("refuse") is ContactPolicy.REFUSE


async def test_a_long_text_is_checked_in_a_worker_thread() -> None:
    mask, detector = rules(ContactPolicy.MASK)
    short = f"call {PHONE}"
    await mask.check(short, ContactPolicy.MASK)
    assert set(detector.threads) == {threading.current_thread()}
    detector.threads.clear()
    long = "a lamp " * (THREAD_FROM // 7 + 1) + short
    assert len(long) > THREAD_FROM
    written = await mask.check(long, ContactPolicy.MASK)
    assert written.masked
    assert detector.threads
    assert threading.current_thread() not in detector.threads


def test_a_mask_read_as_a_contact_detail_fails_at_start() -> None:
    with pytest.raises(ValueError, match="reads as a contact detail"):
        TextRules(5000, ContactPolicy.MASK, ContactDetector(), "see example.com")


RULES = RuleSet(
    [
        Rule("r-refuse", RuleKind.TERM, "scam", Action.REFUSE),
        Rule("r-mask", RuleKind.TERM, "darn", Action.MASK),
        Rule("r-flag", RuleKind.REGEX, r"\bcash only\b", Action.FLAG),
    ]
)


def ruled(policy: ContactPolicy) -> TextRules:
    return TextRules(100_000, policy, rules=lambda: RULES)


@pytest.mark.parametrize("policy", list(ContactPolicy))
async def test_the_rules_apply_whatever_the_contact_policy(policy: ContactPolicy) -> None:
    made = ruled(policy)
    with pytest.raises(Invalid, match=BREAKS_RULES):
        await made.check("a SCÁM, surely", policy)  # folded: case and accents
    masked = await made.check("darn it, Darn", policy)
    assert (masked.text, masked.original) == (
        "[contact hidden] it, [contact hidden]",
        "darn it, Darn",
    )
    assert masked.flagged_by == ("r-mask",)
    flagged = await made.check("cash only, darn", policy)
    assert flagged.text == "cash only, [contact hidden]"
    assert flagged.flagged_by == ("r-flag", "r-mask")
    only_flag = await made.check("cash only please", policy)
    assert (only_flag.text, only_flag.masked, only_flag.flagged_by) == (
        "cash only please",
        False,
        ("r-flag",),
    )
    clean = await made.check("darning a scammer's socks", policy)  # whole words only
    assert (clean.masked, clean.flagged_by) == (False, ())
    # Each rule once per text, by action.
    assert made.rule_matches == {"refuse": 1, "mask": 2, "flag": 2}


async def test_a_rule_mask_and_a_contact_mask_go_together() -> None:
    made = ruled(ContactPolicy.MASK)
    written = await made.check(f"darn, call {PHONE}", ContactPolicy.MASK)
    assert written.text == "[contact hidden], call [contact hidden]"
    assert made.detections == {("phone", "masked"): 1}


async def test_chat_fields_go_through_the_rules() -> None:
    made = ruled(ContactPolicy.OFF)
    fields = ChatDetails(store_name="Darn lamps", product_name="cash only lamp")
    details, flagged = await made.details(fields, ContactPolicy.OFF)
    assert details.store_name == "[contact hidden] lamps"
    assert details.product_name == "cash only lamp"
    assert set(flagged) == {"r-mask", "r-flag"}
    with pytest.raises(Invalid, match=BREAKS_RULES):
        await made.details(ChatDetails(customer_name="Mr Scam"), ContactPolicy.OFF)


async def test_remasking_an_earlier_piece_keeps_its_rule_masks() -> None:
    made = ruled(ContactPolicy.MASK)
    assert await made.remask("darn +44", [(5, 8)]) == "[contact hidden] [contact hidden]"
