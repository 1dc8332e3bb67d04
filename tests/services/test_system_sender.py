"""SYSTEM, the sender of the platform's notices: no side of a chat, so every rule that
pairs a sender with a recipient must treat it apart."""

from __future__ import annotations

import pytest

from slychat.domain.identity import SYSTEM_USER, Role, User
from slychat.domain.models import ChatKey, Message
from slychat.services.events import MessageSent
from slychat.services.messages import Sent

KEY = ChatKey("p", vendor_id=7, customer_id=1)


def test_system_has_no_counterpart() -> None:
    with pytest.raises(ValueError, match="system"):
        _ = Role.SYSTEM.counterpart
    with pytest.raises(ValueError, match="system"):
        KEY.counterpart_of(SYSTEM_USER)
    assert KEY.counterpart_of(User(Role.CUSTOMER, 1)) == KEY.vendor
    assert KEY.counterpart_of(User(Role.VENDOR, 7)) == KEY.customer


def test_a_system_message_is_sent_to_both_participants() -> None:
    notice = Message("m", "c", 3, SYSTEM_USER, "Order #123 shipped", 0, recipient_online=False)
    [event] = Sent(KEY, notice, None, duplicate=False).events
    assert event == MessageSent(notice, (KEY.customer, KEY.vendor))
    assert Sent(KEY, notice, None, duplicate=True).events == []
