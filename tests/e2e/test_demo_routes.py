"""The demo page's routes over HTTP: where `/` leads in each mode, the headers that keep the
page safe, and the dev token route, which exists only in dev mode and only for the page
itself. SQLite only: nothing here touches storage."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from tests.e2e.demo_browser import CLIENT
from tests.support import IN_CI, SECRET, servers_by_mode

DEV = "dev"  # no key configured
DEMO = "demo"  # a key, and SLYCHAT_DEMO=1
PLAIN = "plain"  # a key: production
DEV_NO_DEMO = "dev-no-demo"  # dev mode with SLYCHAT_DEMO=0
MODES = {
    DEV: {"SLYCHAT_JWT_SECRET": ""},
    DEMO: {"SLYCHAT_DEMO": "1"},
    PLAIN: {},
    DEV_NO_DEMO: {"SLYCHAT_JWT_SECRET": "", "SLYCHAT_DEMO": "0"},
}
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory, log_dir: Path) -> Iterator[dict[str, str]]:
    """One server per mode, on one SQLite database: mode -> base URL."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('demo-routes') / 'demo.db'}"
    with servers_by_mode(url, log_dir, MODES) as urls:
        yield urls


def _get(base: str, path: str) -> httpx.Response:
    return httpx.get(f"{base}{path}", timeout=10)


def _mint(base: str, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(f"{base}/api/dev/token", json=body, headers=headers or {}, timeout=10)


@pytest.mark.parametrize("mode", [DEV, DEMO])
def test_the_demo_page_is_served_with_a_strict_policy(servers: dict[str, str], mode: str) -> None:
    base = servers[mode]
    page = _get(base, "/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'src="/demo/js/main.js"' in page.text
    csp = dict(d.strip().split(" ", 1) for d in page.headers["content-security-policy"].split(";"))
    assert csp["default-src"] == "'none'"
    assert csp["script-src"] == "'self'"  # no inline script, no eval
    assert csp["style-src"] == "'self'"
    assert csp["img-src"].split()[0] == "'self'"
    assert "unsafe" not in page.headers["content-security-policy"]
    host = base.removeprefix("http://")
    assert csp["connect-src"] == f"'self' ws://{host} wss://{host}"
    assert csp["frame-ancestors"] == "'none'"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"

    script = _get(base, "/demo/js/main.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["x-content-type-options"] == "nosniff"
    # `make` builds the client package (npm) and copies it there; without npm only CI
    # insists on it.
    library = CLIENT.is_file() or IN_CI
    if library:
        client = _get(base, "/demo/dist/slychat-client.js")
        assert client.status_code == 200, "run `make test`: it builds and copies slychat-client"
    assert _get(base, "/demo/../pyproject.toml").status_code == 404
    assert _get(base, "/demo/%2e%2e/%2e%2e/routes/demo.py").status_code == 404

    config = _get(base, "/demo/config.json").json()
    assert config["devMode"] is (mode == DEV)
    assert config["clientLibrary"] is library
    assert config["chatStarters"] == ["CUSTOMER"]


@pytest.mark.parametrize("mode", [PLAIN, DEV_NO_DEMO])
def test_without_the_demo_root_points_at_the_docs(servers: dict[str, str], mode: str) -> None:
    base = servers[mode]
    page = _get(base, "/")
    assert page.status_code == 200
    assert "docs/protocol.md" in page.text
    assert "demo/js" not in page.text
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for path in ("/demo/js/main.js", "/demo/config.json", "/demo/style.css"):
        assert _get(base, path).status_code == 404, path


@pytest.mark.parametrize("mode", [DEMO, PLAIN])
def test_no_token_is_minted_outside_dev_mode(servers: dict[str, str], mode: str) -> None:
    response = _mint(servers[mode], {"role": "customer", "id": 1})
    assert response.status_code == 404
    assert "token" not in response.text


def test_dev_mode_mints_tokens_for_the_page(servers: dict[str, str]) -> None:
    base = servers[DEV]
    response = _mint(base, {"role": "vendor", "id": "42"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    data = response.json()["data"]
    assert data["userId"] == 42
    assert data["userType"] == "VENDOR"
    claims = jwt.decode(data["token"], options={"verify_signature": False})
    assert claims["types"] == ["vendor"]
    assert claims["data"] == {"id": 42}
    assert claims["exp"] - claims["iat"] == data["expiresIn"] == 12 * 3600
    assert claims["jti"]
    # Signed with the server's own secret, never the tests' one.
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(data["token"], SECRET, algorithms=["HS256"])
    # The same-origin page (Origin and Sec-Fetch-Site as a browser sends them).
    same = {"origin": base, "sec-fetch-site": "same-origin"}
    assert _mint(base, {"role": "customer", "id": 1}, same).status_code == 200


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        # Another site open in the developer's browser.
        ({"role": "customer", "id": 1}, {"origin": "http://evil.example"}, 403),
        ({"role": "customer", "id": 1}, {"sec-fetch-site": "cross-site"}, 403),
        ({"role": "customer", "id": 1}, {"sec-fetch-site": "same-site"}, 403),
        # DNS rebinding: a hostile name that resolves to loopback.
        ({"role": "customer", "id": 1}, {"host": "evil.example"}, 403),
        # Bad requests.
        ({"role": "admin", "id": 1}, {}, 400),
        ({"role": "customer", "id": -1}, {}, 400),
        ({"role": "customer", "id": "1e3"}, {}, 400),
        ({"role": "customer"}, {}, 400),
        (["customer", 1], {}, 400),
    ],
)
def test_dev_tokens_are_refused_to_anyone_but_the_page(
    servers: dict[str, str], body: object, headers: dict[str, str], status: int
) -> None:
    response = _mint(servers[DEV], body, headers)
    assert response.status_code == status, response.text
    assert response.json()["error"] is True
    assert "token" not in response.json()


def test_dev_tokens_need_json(servers: dict[str, str]) -> None:
    """A cross-site form post (no preflight) cannot make the request the page makes."""
    base = servers[DEV]
    form = httpx.post(f"{base}/api/dev/token", data={"role": "customer", "id": "1"}, timeout=10)
    assert form.status_code == 400
    big = httpx.post(
        f"{base}/api/dev/token", content=b"{" + b" " * 4096 + b"}", headers=JSON, timeout=10
    )
    assert big.status_code == 400
    port = base.rsplit(":", 1)[1]
    local = _mint(base, {"role": "customer", "id": 7}, {"host": f"localhost:{port}"})
    assert local.status_code == 200
