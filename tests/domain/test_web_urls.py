"""The host slychat decides for a URL is the host browsers fetch it from. Every URL slychat
accepts (metadata URLs, settings, origins) is read by Node.js's `URL` (the WHATWG parser
browsers follow) and by Chromium's, and must name the very same host; the demo page's own
check (`safeUrl` in dom.js) must accept exactly what the server accepts. Node and Chromium
are needed: skipped without them, except in CI, where that fails."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slychat.config import rules as config_rules
from slychat.domain import web_urls
from slychat.domain.errors import Invalid
from slychat.domain.identity import Role, User
from slychat.domain.models import ChatDetails
from slychat.protocol import inbound
from slychat.services.chat_policy import NewChatPolicy
from tests.support import ROOT, unavailable

# Accepted: plain URLs, whatever their letter case, port or path.
PLAIN = [
    "https://cdn.example.com/pixel.png",
    "HTTPS://CDN.Example.COM/Pixel.PNG",
    "http://cdn.example.com:8080/a/b?c=d#e",
    "https://cdn.example.com:443/x.png",
    "http://cdn.example.com:80/x.png",
    "https://img.cdn.example.com/ü.png",
    "https://xn--bcher-kva.example/x.png",
    "https://cdn.example.com./x.png",
    "http://127.0.0.1:8000/media/abc.jpg",
    "http://[::1]:8000/x",
    "https://cdn.example.com/a%2F..%2Fb",
    "https://cdn.example.com/..\u2024/x",  # a one-dot leader in the path only
    "https://cdn.example.com?x",
    "https://cdn.example.com#frag",
]
# Refused: every way a browser's host and Python's (or a reader's) can part.
DISGUISED = [
    "https://evil.com\\.cdn.example.com/pixel.png",  # browsers: host evil.com
    "https://evil.com\\@cdn.example.com/",
    "https:\\\\evil.com/x",
    "https://cdn.exam\tple.com/",  # browsers drop tabs and newlines inside a URL
    "https://cdn.example.com\n.evil.com/",
    "https://evil\r.com/",
    " https://cdn.example.com/",
    "https://cdn.example.com/ x",
    "https://cdn.example.com/\x00",
    "https://cdn.example.com/\x7f",
    "https://cdn.example.com/\u200b",
    "https://cdn.example.com/\u202e",
    "https://cdn\u00a0.example.com/",
    "https://cdn%2Eexample.com/",  # browsers decode it: cdn.example.com
    "https://evil.com%2Fcdn.example.com/",
    "https://evil.com%5C.cdn.example.com/",
    "https://cdn\u3002example\u3002com/",  # ideographic full stops read as dots
    "https://cdn\uff0eexample\uff0ecom/",  # fullwidth full stops
    "https://\uff43\uff44\uff4e.example.com/",  # fullwidth letters
    "https://bücher.example/x.png",  # browsers fetch xn--bcher-kva.example
    "https://CDN.EXAMPLE.COM\u212a/",  # Kelvin sign: folds to k
    "http://0x7f.1/",  # IPv4 shorthand: 127.0.0.1
    "http://127.1/",
    "http://2130706433/",
    "http://0177.0.0.1/",
    "http://1.2.3/",
    "http://[0:0:0:0:0:0:0:1]/",  # another spelling of [::1]
    "http://[::ffff:127.0.0.1]/",
    "https://user:pass@cdn.example.com/",
    "https://cdn.example.com@evil.com/",
    "https://evil.com@cdn.example.com/",
    "https://@cdn.example.com/",
    "https://:@cdn.example.com/",
    "https:cdn.example.com/x",  # browsers: https://cdn.example.com/x
    "https:/cdn.example.com/x",
    "https:///cdn.example.com/x",
    "//cdn.example.com/x",
    "/x.png",
    "cdn.example.com/x.png",
    "javascript:alert(1)",
    "data:image/png;base64,AAAA",
    "ftp://cdn.example.com/x",
    "blob:https://cdn.example.com/x",
    "https://a;b.example/",
    "https://a'b.example/",
    "https://a_b.example/",
    "https://example.123/",
    "https://cdn.example.com:99999/",
    "https://cdn.example.com:0x50/",
    "https:// cdn.example.com/",
    "https://[::1/",
    "https://\ud800.example/",
    "",
]
CORPUS = PLAIN + DISGUISED


class NodeUrls:
    """A Node.js process answering, for each URL, what `new URL` and the demo page read."""

    def __init__(self, node: str) -> None:
        self.proc = subprocess.Popen(
            [node, str(ROOT / "tests" / "js" / "url_hosts.mjs")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )

    def read(self, value: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(value) + "\n")
        self.proc.stdin.flush()
        answer: dict[str, Any] = json.loads(self.proc.stdout.readline())
        return answer

    def close(self) -> None:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.close()
        self.proc.wait(10)
        self.proc.stdout.close()


@pytest.fixture(scope="module")
def node() -> Iterator[NodeUrls]:
    path = shutil.which("node")
    if path is None:
        unavailable("Node.js not installed: node not found on PATH")
    urls = NodeUrls(str(path))
    try:
        yield urls
    finally:
        urls.close()


def _agrees_with_node(node: NodeUrls, value: str) -> web_urls.WebUrl | None:
    """slychat's reading of `value`, checked against Node's and the demo page's."""
    ours = web_urls.parse(value)
    theirs = node.read(value)
    if ours is not None:
        assert theirs["url"] is not None, value
        assert ours.host == theirs["url"]["host"], value
        assert ours.hostname == theirs["url"]["hostname"], value
        assert ours.origin == theirs["url"]["origin"], value
    assert theirs["demo"] == (ours.host if ours else None), value
    return ours


@pytest.mark.node
@pytest.mark.parametrize("value", CORPUS)
def test_the_host_slychat_reads_is_the_host_node_reads(node: NodeUrls, value: str) -> None:
    ours = _agrees_with_node(node, value)
    assert (ours is not None) is (value in PLAIN), value


# Pieces of URLs where parsers are known to part ways, put together by hypothesis.
_SCHEMES = st.sampled_from(["http://", "https://", "HTTPS://", "http:", "http:/", "http:\\\\"])
_USERINFO = st.sampled_from(["", "", "", "u@", "u:p@", "@", "a%40b@", "x\\@"])
_HOSTS = st.sampled_from(
    [
        "cdn.example.com", "CDN.example.com", "cdn.example.com.", "evil.com\\.cdn.example.com",
        "cdn%2eexample.com", "cdn\u3002example.com", "bücher.example", "xn--bcher-kva.example",
        "0x7f.1", "127.0.0.1", "127.1", "[::1]", "[0::1]", "1.2.3.4.5", "a..b", "-a.b",
        "a_b.c", "1e2.example", "ex\tample.com", "ex%00ample.com", "",
    ]
)  # fmt: skip
_PORTS = st.sampled_from(["", "", ":443", ":80", ":8080", ":", ":0", ":65536", ":+1", ": 1"])
_PATHS = st.sampled_from(["", "/", "/x.png", "\\x", "/a/../b", "?q", "#f", "/%2e%2e/", "/ü"])
_NOISE = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cn"]), max_size=3
)  # anything, anywhere (no unassigned code point: Unicode versions differ)
URLS = st.builds(
    lambda *parts: "".join(parts), _SCHEMES, _USERINFO, _HOSTS, _PORTS, _PATHS, _NOISE
) | st.builds(
    lambda base, at, noise: base[:at] + noise + base[at:],
    st.sampled_from(PLAIN),
    st.integers(min_value=0, max_value=40),
    _NOISE,
)


@pytest.mark.node
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=URLS)
def test_generated_urls_get_the_host_node_reads(node: NodeUrls, value: str) -> None:
    _agrees_with_node(node, value)


async def test_the_host_slychat_reads_is_the_host_chromium_reads() -> None:
    from tests.e2e.demo_browser import chromium

    values = [v for v in CORPUS if web_urls.parse(v) is not None]
    async with chromium() as browser:
        page = await browser.new_page()
        read = await page.evaluate(
            """(values) => values.map((value) => {
                const url = new URL(value);
                return {host: url.host, hostname: url.hostname, origin: url.origin};
            })""",
            values,
        )
    for value, theirs in zip(values, read, strict=True):
        ours = web_urls.parse(value)
        assert ours is not None
        assert (ours.host, ours.hostname, ours.origin) == (
            theirs["host"],
            theirs["hostname"],
            theirs["origin"],
        ), value


# --- where slychat vets URLs --------------------------------------------------------------


def _new_chat(**urls: str) -> ChatDetails:
    return ChatDetails(product_name="Lamp", store_name="Lights", customer_name="Ann", **urls)


# The schema trims its fields first, and refuses NUL and lone surrogates before it looks.
@pytest.mark.parametrize(
    "value", [v for v in DISGUISED if v and v == v.strip() and not {"\x00", "\ud800"} & set(v)]
)
def test_a_disguised_metadata_url_is_refused_by_the_schema(value: str) -> None:
    fields = {"productId": "p", "recipientId": 1, "productImageUrl": value}
    with pytest.raises(Invalid, match="productImageUrl: must be a plain http or https URL"):
        inbound.parse(inbound.SendMessage, (fields,))


def test_the_allowlist_checks_the_host_browsers_fetch_from() -> None:
    policy = NewChatPolicy(media_hosts=("cdn.example.com",))
    customer = User(Role.CUSTOMER, 1)
    for url in ("https://cdn.example.com/p.png", "https://img.cdn.example.com/p.png"):
        policy.check(customer, _new_chat(product_image_url=url))
    for url in [
        "https://evil.com\\.cdn.example.com/pixel.png",
        "https://evil.com/.cdn.example.com",
        "https://cdn.example.com.evil.com/p.png",
        "https://evilcdn.example.com/p.png",
        "https://cdn%2eexample.com/p.png",
        "https://cdn.example.com@evil.com/p.png",
    ]:
        with pytest.raises(Invalid, match="this host is not allowed"):
            policy.check(customer, _new_chat(store_logo_url=url))


@pytest.mark.parametrize("value", ["https://evil.com\\.chat.example.com", "http://0x7f.1:8000"])
def test_settings_urls_are_held_to_the_same_rule(value: str) -> None:
    with pytest.raises(ValueError, match="absolute http"):
        config_rules.http_url(value)
    with pytest.raises(ValueError, match="is not an origin"):
        config_rules.origins([value])


def test_origins_are_kept_as_browsers_send_them() -> None:
    given = ["*", "HTTPS://Shop.Example.com:443/", "http://localhost:8000"]
    assert config_rules.origins(given) == ["*", "https://shop.example.com", "http://localhost:8000"]


@pytest.mark.parametrize("name", ["127.1", "0x7f.1", "example.123", "a%2eb"])
def test_media_hosts_are_names_browsers_write_alike(name: str) -> None:
    with pytest.raises(ValueError, match="is not a host name"):
        config_rules.host_names([name])
