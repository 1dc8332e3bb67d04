"""The detector reads the Public Suffix List bundled with tldextract and never fetches it."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from slychat.moderation import ContactDetector, Kind, domains


def test_no_network_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args)
        raise OSError("the detector must not use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    domains._extractor.cache_clear()  # a fresh extractor loads its suffix list now
    try:
        assert domains.registrable("shop.example.co.uk") == ("example", "co.uk")
        assert domains.registrable("пример.рф") == ("пример", "рф")
        assert domains.registrable("hello.thanks") is None
        found = ContactDetector().find("see evil.com or mail x@y.io")
        assert [c.kind for c in found] == [Kind.URL, Kind.EMAIL]
    finally:
        domains._extractor.cache_clear()
    assert attempts == []
