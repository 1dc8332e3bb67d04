"""An outage is logged when it starts and when it ends, not on every failed call."""

from __future__ import annotations

import logging

import pytest

from slychat.logs.outages import Outage


def test_one_line_at_the_start_and_one_at_the_end(caplog: pytest.LogCaptureFixture) -> None:
    outage = Outage("database")
    with caplog.at_level(logging.INFO, logger="slychat.logs.outages"):
        outage.ok()  # nothing to end
        for i in range(50):
            outage.failed(f"refused {i}")
        assert outage.down
        assert outage.failures == 50
        outage.ok()
        outage.ok()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert lines[0] == "database unavailable: refused 0"
    assert lines[1].startswith("database available again after ")
    assert "(50 failed calls)" in lines[1]
    assert not outage.down
