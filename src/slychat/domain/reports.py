"""Reports and suspensions: what a user (or the server, for contact details it masked)
flagged for the platform's moderators, what they decided, and who is suspended.

One report concept for every source: a user's `reportMessage`/`reportUser`, an automatic
report (reporter SYSTEM) when contact details were masked or a moderation rule flagged a
text. The JSON shapes are built here because the admin API and the `report.created`
webhook carry the same report object (docs/admin-api.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from slychat.domain.identity import User
from slychat.domain.ids import iso

REASONS = ("spam", "scam", "harassment", "off_platform", "inappropriate", "other")
ACTIONS = ("dismiss", "delete_message", "suspend_user")
LIFT = "lift"  # a decision recorded on the report whose suspension was lifted
OPEN = "open"
RESOLVED = "resolved"
MESSAGE = "message"
USER = "user"
NOTE_LENGTH = 1000


@dataclass(frozen=True, slots=True)
class Decision:
    """What a moderator (an API key of theirs) decided about a report."""

    action: str
    note: str | None
    until: int | None  # suspend_user: when the suspension ends (None: until lifted)
    key_id: str
    key_name: str
    decided_at: int


@dataclass(frozen=True, slots=True)
class Report:
    id: str
    status: str
    reason: str
    note: str | None
    automatic: bool
    reporter: User
    target_kind: str  # MESSAGE or USER
    target_user: User
    target_message_id: str | None
    target_chat_id: str | None
    created_at: int
    decisions: tuple[Decision, ...] = ()
    target_open_reports: int = 0  # open reports against the target user
    # Frozen when the report was made (GET one only); None when not read.
    snapshot: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Suspension:
    user: User
    reason: str
    until: int | None  # None: until lifted
    suspended_at: int
    key_id: str | None
    report_id: str | None = None  # the report whose decision it was, if any

    def in_force(self, now: int) -> bool:
        return self.until is None or self.until > now


def target_key(kind: str, user: User, message_id: str | None) -> str:
    """What one reporter may have one open report about: a message, or a user."""
    return f"{MESSAGE}:{message_id}" if kind == MESSAGE else f"{USER}:{user.key}"


def report_json(r: Report, *, with_snapshot: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": r.id,
        "status": r.status,
        "reason": r.reason,
        "note": r.note,
        "createdAt": iso(r.created_at),
        "automatic": r.automatic,
        "reporter": {"userId": r.reporter.id, "userType": r.reporter.role.value},
        "target": {
            "kind": r.target_kind,
            "userId": r.target_user.id,
            "userType": r.target_user.role.value,
            "messageId": r.target_message_id,
            "chatId": r.target_chat_id,
        },
        "targetOpenReports": r.target_open_reports,
        "decisions": [
            {
                "action": d.action,
                "note": d.note,
                "until": iso(d.until),
                "keyId": d.key_id,
                "keyName": d.key_name,
                "decidedAt": iso(d.decided_at),
            }
            for d in r.decisions
        ],
    }
    if with_snapshot:
        body["snapshot"] = r.snapshot
    return body


def suspension_json(s: Suspension) -> dict[str, Any]:
    return {
        "userId": s.user.id,
        "userType": s.user.role.value,
        "reason": s.reason,
        "until": iso(s.until),
        "suspendedAt": iso(s.suspended_at),
        "keyId": s.key_id,
    }


@dataclass(frozen=True, slots=True)
class ReportPage:
    reports: list[Report]
    has_more: bool
    counts_by_reason: dict[str, int] = field(default_factory=dict)
