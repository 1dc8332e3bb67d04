"""Trust and safety, pure and I/O-free: contact details found and masked, numbers split
over several messages, and moderators' rules matched.

    detector = ContactDetector(allowed_hosts=["shop.example.com"])
    result = detector.mask(text, mask="[contact hidden]", max_length=5000)
    result.text, result.masked, result.contacts
"""

from slychat.moderation.detector import ContactDetector, Masked
from slychat.moderation.masking import DEFAULT_MASK, mask_spans
from slychat.moderation.rules import (
    Action,
    Rule,
    RuleError,
    RuleKind,
    RuleMatch,
    RuleResult,
    RuleSet,
    check_rule,
)
from slychat.moderation.spans import Contact, Kind
from slychat.moderation.split_numbers import Fragment, SplitNumber, find_split_numbers

__all__ = [
    "DEFAULT_MASK",
    "Action",
    "Contact",
    "ContactDetector",
    "Fragment",
    "Kind",
    "Masked",
    "Rule",
    "RuleError",
    "RuleKind",
    "RuleMatch",
    "RuleResult",
    "RuleSet",
    "SplitNumber",
    "check_rule",
    "find_split_numbers",
    "mask_spans",
]
