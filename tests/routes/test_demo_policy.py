"""The demo page's Content-Security-Policy and settings, without a server."""

from __future__ import annotations

from typing import Any

import pytest

from slychat.config.settings import Settings
from slychat.routes.demo import content_security_policy, image_origins, origin_of, page_config

KEY = "k" * 32


def _settings(**values: Any) -> Settings:
    return Settings(**({"jwt_secret": KEY, "public_url": "http://127.0.0.1:8000"} | values))


def _directives(policy: str) -> dict[str, list[str]]:
    parts = (d.strip().split() for d in policy.split(";"))
    return {p[0]: p[1:] for p in parts}


@pytest.mark.parametrize(
    ("values", "shown"),
    [
        ({}, False),  # a key: production
        ({"demo": True}, True),
        ({"jwt_secret": None}, True),  # dev mode
        ({"jwt_secret": None, "demo": False}, False),
    ],
)
def test_the_demo_is_shown_in_dev_mode_or_when_asked(values: dict[str, Any], shown: bool) -> None:
    assert _settings(**values).demo_page is shown


def test_images_come_from_this_origin_and_where_media_live() -> None:
    policy = _directives(
        content_security_policy(_settings(public_url="https://chat.example.com/"), "h:1")
    )
    assert policy["img-src"] == ["'self'", "https://chat.example.com"]
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'", "ws://h:1", "wss://h:1"]


def test_media_hosts_and_buckets_are_allowed_images() -> None:
    settings = _settings(
        media_hosts=["cdn.shop.example"],
        media_store="s3",
        s3_bucket="chat-media",
        s3_region="eu-west-1",
    )
    images = _directives(content_security_policy(settings, None))["img-src"]
    assert "https://cdn.shop.example" in images
    assert "https://*.cdn.shop.example" in images
    # Without a public URL, media links redirect to pre-signed bucket URLs.
    assert "https://chat-media.s3.eu-west-1.amazonaws.com" in images
    public = _settings(media_store="s3", s3_bucket="b", s3_public_url="https://media.example/x")
    assert image_origins(public) == ["http://127.0.0.1:8000", "https://media.example"]
    endpoint = _settings(media_store="s3", s3_bucket="b", s3_endpoint_url="http://10.0.0.9:9000")
    assert "http://10.0.0.9:9000" in image_origins(endpoint)


@pytest.mark.parametrize(
    "host",
    ["evil.example; script-src *", "a b", "x'y", "", None],
)
def test_a_strange_host_header_never_becomes_policy(host: str | None) -> None:
    policy = content_security_policy(_settings(), host)
    assert _directives(policy)["connect-src"] == ["'self'"]
    assert policy.count("script-src") == 1


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://Shop.Example:8443/a/b?c", "https://shop.example:8443"),
        ("http://[::1]:8000/", "http://[::1]:8000"),
        ("javascript:alert(1)", None),
        ("https://a.example;b/", None),
        ("", None),
    ],
)
def test_origins_are_read_strictly(url: str, origin: str | None) -> None:
    assert origin_of(url) == origin


def test_the_page_config_says_what_the_page_needs() -> None:
    config = page_config(_settings(chat_starters=["customer", "vendor"], media_max_files=2))
    assert config["devMode"] is False
    assert config["chatStarters"] == ["CUSTOMER", "VENDOR"]
    assert config["maxFiles"] == 2
    assert config["imageOrigins"] == ["http://127.0.0.1:8000"]
