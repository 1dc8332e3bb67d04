"""Every inbound schema, fed hostile values in every field (the whole of Unicode, numbers
of every size and type, JSON of any shape): it accepts a value it can store, or refuses
with `Invalid data provided: <field>: <reason>` in the protocol's words, never with the
validator's own phrasing or another exception."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slychat.domain.errors import AppError, Invalid
from slychat.protocol import admin_requests, inbound
from tests.strategies import (
    CURSORS,
    HOSTILE_NUMBERS,
    HOSTILE_TEXT,
    IDS,
    URLS,
    json_values,
)
from tests.support import speaks_the_protocol


def _models() -> list[type[inbound.Payload]]:
    found: list[type[inbound.Payload]] = []
    todo = [inbound.Payload]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found:
                found.append(sub)
                todo.append(sub)
    return sorted(found, key=lambda m: m.__name__)


MODELS = [m for m in _models() if m.__module__ in (inbound.__name__, admin_requests.__name__)]
VALUES = HOSTILE_TEXT | HOSTILE_NUMBERS | URLS | CURSORS | IDS | json_values(6) | st.none()
MAX_INT = 2**63


def _fields(model: type[inbound.Payload]) -> list[str]:
    return list(model.model_fields)


def _check(model: type[inbound.Payload], payload: dict[str, Any]) -> None:
    outcome: inbound.Payload | AppError
    try:
        outcome = inbound.parse(model, (payload,))
    except AppError as exc:  # anything else escaping fails the test
        outcome = exc
    if isinstance(outcome, AppError):
        assert speaks_the_protocol(outcome.message), outcome.message
        if isinstance(outcome, Invalid):
            assert outcome.message.startswith("Invalid data provided"), outcome.message
        return
    # Accepted: storable (no lone surrogate, no NUL) and every integer a BIGINT.
    dumped = outcome.model_dump()
    assert b"\\u0000" not in orjson.dumps(dumped)
    for value in dumped.values():
        if isinstance(value, int) and not isinstance(value, bool):
            assert -MAX_INT <= value < MAX_INT, (payload, value)


def _fuzz(model: type[inbound.Payload], examples: int) -> None:
    fields = _fields(model)
    payloads = (
        st.dictionaries(st.sampled_from(fields), VALUES, max_size=len(fields))
        if fields
        else st.just({})
    )

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(payload=payloads)
    def run(payload: dict[str, Any]) -> None:
        _check(model, payload)

    run()


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_field_refuses_hostile_values_in_the_protocols_words(
    model: type[inbound.Payload],
) -> None:
    _fuzz(model, examples=40)


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_field_refuses_hostile_values_at_length(model: type[inbound.Payload]) -> None:
    _fuzz(model, examples=2000)


@pytest.mark.parametrize(
    ("model", "payload", "message"),
    [
        (
            inbound.JoinChat,
            {"chatId": "c", "before": "b" * 65},
            "Invalid data provided: before: must be at most 64 characters long",
        ),
        (
            inbound.JoinChat,
            {"chatId": "c", "before": 1.5},
            "Invalid data provided: before: must be a string or an integer",
        ),
        (
            inbound.GetUserChats,
            {"limit": "5"},
            "Invalid data provided: limit: must be an integer",
        ),
        (
            inbound.SendMessage,
            {"recipientId": 1, "text": "hi"},
            "Invalid data provided: productId: is required",
        ),
        (
            inbound.SendMessage,
            {"productId": "p", "recipientId": 1, "clientMessageId": "c" * 129},
            "Invalid data provided: clientMessageId: must be at most 128 characters long",
        ),
        (
            inbound.SyncMessages,
            {"since": ""},
            "Invalid data provided: since: must not be empty",
        ),
        (
            inbound.CheckOnlinePresence,
            {"userId": 1, "userType": "SYSTEM"},
            "Invalid data provided: userType: must be CUSTOMER, VENDOR or ADMIN",
        ),
        (
            admin_requests.UserPath,
            {"userType": "admin", "userId": 1},
            "Invalid data provided: userType: must be 'CUSTOMER' or 'VENDOR'",
        ),
    ],
)
def test_refusals_name_the_field_and_the_rule(
    model: type[inbound.Payload], payload: dict[str, Any], message: str
) -> None:
    with pytest.raises(Invalid) as caught:
        inbound.parse(model, (payload,))
    assert caught.value.message == message
