"""The moderation console's Content-Security-Policy, without a server."""

from __future__ import annotations

from typing import Any

from slychat.config.settings import Settings
from slychat.routes.moderation_page import content_security_policy

KEY = "k" * 32


def _directives(**values: Any) -> dict[str, list[str]]:
    settings = Settings(**({"jwt_secret": KEY} | values))
    parts = (d.strip().split() for d in content_security_policy(settings).split(";"))
    return {p[0]: p[1:] for p in parts}


def test_the_console_runs_and_connects_to_this_origin_only() -> None:
    policy = _directives(public_url="https://chat.example.com")
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "blob:"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]


def test_with_the_s3_store_it_may_follow_the_media_route_to_the_bucket() -> None:
    """Report media answers with a redirect to the bucket, which the page's fetch follows;
    images stay blob: (what the fetch read), never the bucket itself."""
    presigned = _directives(media_store="s3", s3_bucket="evidence", s3_region="eu-west-1")
    assert "https://evidence.s3.eu-west-1.amazonaws.com" in presigned["connect-src"]
    assert presigned["connect-src"][0] == "'self'"
    assert presigned["img-src"] == ["'self'", "blob:"]
    endpoint = _directives(
        media_store="s3", s3_bucket="b", s3_endpoint_url="http://10.0.0.9:9000/ignored"
    )
    assert "http://10.0.0.9:9000" in endpoint["connect-src"]
    public = _directives(media_store="s3", s3_bucket="b", s3_public_url="https://media.example/x")
    assert "https://media.example" in public["connect-src"]
