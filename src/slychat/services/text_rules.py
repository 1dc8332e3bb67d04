"""The rules every text a user writes goes through, sent or edited: one step, so that a
send, an upload's caption, an edit and the chat fields a client supplies can never be
held to different rules. Its length, and the contact-detail policy (docs/security.md):
`off` leaves texts alone (no detection at all), `mask` replaces each detail by the mask
in what everyone sees (the original kept for moderators), `refuse` answers 400. And the
moderators' rules (services/moderation_rules.py), whatever the policy: a `refuse` match
answers 400, a `mask` match is masked as a contact detail is, a `flag` match is delivered;
both of the latter are named on the result, for automatic reports."""

from __future__ import annotations

import asyncio
import enum
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from slychat.domain.errors import Invalid, TooLarge
from slychat.domain.models import ChatDetails
from slychat.moderation import (
    DEFAULT_MASK,
    Action,
    ContactDetector,
    Fragment,
    Masked,
    RuleResult,
    RuleSet,
    SplitNumber,
    find_split_numbers,
    mask_spans,
)

REFUSED = "Contact details can't be shared in this chat"
BREAKS_RULES = "This message breaks the marketplace's rules and was not sent"
# Detection of a long text runs in a worker thread (up to ~20 ms for 5,000 characters),
# so that one long message never holds up the event loop; short ones cost less than the
# hop to a thread.
THREAD_FROM = 500
# The chat fields a client supplies with a first message, which the policy applies to.
_CHAT_TEXT_FIELDS = ("product_name", "store_name", "customer_name")


class ContactPolicy(enum.StrEnum):
    OFF = "off"
    MASK = "mask"
    REFUSE = "refuse"


@dataclass(frozen=True, slots=True)
class Written:
    """A text as stored and shown, and, when contact details were masked in it, the text
    as its sender wrote it (for moderators only)."""

    text: str | None
    original: str | None = None
    # The moderators' `mask` and `flag` rules that matched (ids, each once, in the order
    # of their first match): each opens an automatic report.
    flagged_by: tuple[str, ...] = ()
    # Contact details (or pieces of a split number) were masked in it: an automatic
    # report (reason off_platform); `masked` alone may be a rule's mask.
    contacts: bool = False

    @property
    def masked(self) -> bool:
        return self.original is not None


_NO_RULES = RuleSet(())
_NO_MATCH = RuleResult(())


def _no_rules() -> RuleSet:
    return _NO_RULES


def _flagged(ruled: RuleResult) -> tuple[str, ...]:
    return tuple(
        dict.fromkeys(m.rule_id for m in ruled.matches if m.action in (Action.MASK, Action.FLAG))
    )


@dataclass(frozen=True, slots=True)
class TextRules:
    max_length: int
    policy: ContactPolicy = ContactPolicy.OFF  # SLYCHAT_CONTACT_POLICY
    detector: ContactDetector = field(default_factory=ContactDetector)
    mask: str = DEFAULT_MASK
    # Contact details found, by (kind, action): slychat_contact_detections_total.
    detections: Counter[tuple[str, str]] = field(default_factory=Counter)
    # The moderators' rules in force (ModerationRules.current: replaced when they change).
    rules: Callable[[], RuleSet] = _no_rules
    # Rules that matched a text, each once per text, by action:
    # slychat_moderation_rule_matches_total.
    rule_matches: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.detector.check_mask(self.mask)  # a mask read as a detail fails at start

    def policy_for(self, chat_policy: str | None) -> ContactPolicy:
        """The policy of a chat: its own (the platform's override), else the setting."""
        return self.policy if chat_policy is None else ContactPolicy(chat_policy)

    def apply(self, text: str | None, *, required: bool) -> str | None:
        """The text as stored before any contact-detail policy: blank is no text (refused
        when `required`), and at most `max_length` characters."""
        if text is None or not text.strip():
            if required:
                raise Invalid("Invalid data provided: text is required")
            return None
        if len(text) > self.max_length:
            raise TooLarge(f"text is longer than {self.max_length} characters")
        return text

    async def check(
        self,
        text: str | None,
        policy: ContactPolicy,
        also: Iterable[tuple[int, int]] = (),
    ) -> Written:
        """`text` (already through `apply`) under the moderators' rules and `policy`:
        masked, refused (Invalid), or as it is; `also`: spans to mask as well (pieces of a
        number split over several messages)."""
        rules = self.rules()
        if text is None or (policy is ContactPolicy.OFF and not len(rules)):
            return Written(text)
        spans = tuple(also)

        def run() -> tuple[RuleResult, Masked | None]:
            ruled = rules.match(text) if len(rules) else _NO_MATCH
            if ruled.action is Action.REFUSE or policy is ContactPolicy.OFF:
                return ruled, None
            hidden = spans + tuple(ruled.spans(Action.MASK))
            return ruled, self.detector.mask(
                text, mask=self.mask, max_length=self.max_length, also=hidden
            )

        ruled, found = await asyncio.to_thread(run) if len(text) > THREAD_FROM else run()
        self.rule_matches.update({m.rule_id: m.action.value for m in ruled.matches}.values())
        if ruled.action is Action.REFUSE:
            raise Invalid(BREAKS_RULES)
        flagged = _flagged(ruled)
        if found is None:  # policy off: only the rules' masks
            rule_spans = ruled.spans(Action.MASK)
            if not rule_spans:
                return Written(text, flagged_by=flagged)
            masked = mask_spans(text, rule_spans, self.mask, self.max_length)
            return Written(masked, text, flagged)
        if found.masked or spans:
            action = "refused" if policy is ContactPolicy.REFUSE else "masked"
            self.detections.update((c.kind.value, action) for c in found.contacts)
            if not found.contacts:  # only pieces of a split number: one phone number
                self.detections[("phone", action)] += 1
            if policy is ContactPolicy.REFUSE:
                raise Invalid(REFUSED)
        if found.text == text:
            return Written(text, flagged_by=flagged)
        return Written(found.text, text, flagged, contacts=found.masked or bool(spans))

    async def details(
        self, details: ChatDetails, policy: ContactPolicy
    ) -> tuple[ChatDetails, tuple[str, ...]]:
        """The client-supplied chat fields under the rules and `policy` (masked in place: a
        chat field has no original kept, the first message's sender wrote it), and the
        mask and flag rules that matched them."""
        if policy is ContactPolicy.OFF and not len(self.rules()):
            return details, ()
        changes = {}
        flagged: dict[str, None] = {}
        for name in _CHAT_TEXT_FIELDS:
            value = getattr(details, name)
            if value:
                written = await self.check(value, policy)
                flagged.update(dict.fromkeys(written.flagged_by))
                if written.masked:
                    changes[name] = written.text
        return (replace(details, **changes) if changes else details), tuple(flagged)

    async def split_numbers(
        self, text: str, sent_at: float, earlier: Sequence[tuple[str, float]]
    ) -> SplitNumber | None:
        """The pieces of phone numbers split between `text` (sent at `sent_at`, seconds)
        and `earlier`, the same sender's last messages (as written, and when, oldest
        first): see `find_split_numbers`."""
        fragments = [Fragment(t, at) for t, at in earlier]

        def run() -> SplitNumber | None:
            return find_split_numbers(self.detector, Fragment(text, sent_at), fragments)

        size = len(text) + sum(len(f.text) for f in fragments)
        return await asyncio.to_thread(run) if size > THREAD_FROM else run()

    async def remask(self, original: str, spans: Iterable[tuple[int, int]]) -> str:
        """An earlier message's text as written, masked again with `spans` (its pieces of
        a split number) as well, and what the rules in force mask in it."""
        rules = self.rules()
        ruled = rules.match(original) if len(rules) else _NO_MATCH
        found = await self._mask(original, (*spans, *ruled.spans(Action.MASK)))
        return found.text

    async def _mask(self, text: str, also: tuple[tuple[int, int], ...]) -> Masked:
        def run() -> Masked:
            return self.detector.mask(text, mask=self.mask, max_length=self.max_length, also=also)

        return await asyncio.to_thread(run) if len(text) > THREAD_FROM else run()
