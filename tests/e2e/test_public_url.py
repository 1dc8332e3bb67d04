"""Links the server hands out follow its address: on a port other than 8000, with no
SLYCHAT_PUBLIC_URL, an uploaded photo's URLs point at that port and are served there, and
the demo page's policy lets the browser load them. SQLite only: nothing here is about
storage."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import media_files
from tests.e2e.media_support import File, fetch, upload_one
from tests.support import Server


@pytest.fixture(params=["environment", "flags"])
def server_on_a_port(
    request: pytest.FixtureRequest, tmp_path: Path, log_dir: Path
) -> Iterator[Server]:
    """A demo-page server whose address comes from SLYCHAT_HOST/SLYCHAT_PORT, or from
    `serve --host/--port` (which override them: the environment then says 8000)."""
    env = {"SLYCHAT_DEMO": "1"}
    in_env = request.param == "environment"
    if not in_env:
        env["SLYCHAT_PORT"] = "8000"
    srv = Server(f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}", env=env, address_in_env=in_env)
    assert "SLYCHAT_PUBLIC_URL" not in srv.environment()
    assert srv.port != 8000
    srv.migrate()
    srv.start(log_dir)
    yield srv
    srv.stop()


async def test_photo_links_point_at_the_servers_own_port(server_on_a_port: Server) -> None:
    srv = server_on_a_port
    item = await upload_one(srv, "send-image", File(media_files.png(), "a.png", "image/png"))
    for link in ("url", "thumbnailUrl"):
        assert item[link].startswith(f"{srv.url}/media/"), item
        served = await fetch(item[link])
        assert served.status_code == 200
        assert served.headers["content-type"].startswith("image/")

    page = await fetch(f"{srv.url}/")
    assert page.status_code == 200
    policy = dict(
        d.strip().split(" ", 1) for d in page.headers["content-security-policy"].split(";")
    )
    assert srv.url in policy["img-src"].split(), policy["img-src"]
