"""Dev mode keeps its secret beside the SQLite database (mode 0600): `slychat token` mints
tokens the running dev server accepts, they stay good across a restart, and the banner's
`curl` call mints a token for any other user. SQLite only: the file lives beside a SQLite
database (on PostgreSQL the secret stays in the process, as
tests/services/test_dev_secret.py checks)."""

from __future__ import annotations

import shlex
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import ROOT, Client, Server, new_chat_fields, next_id


@pytest.fixture
def dev_server(tmp_path: Path, log_dir: Path) -> Iterator[Server]:
    srv = Server(f"sqlite+aiosqlite:///{tmp_path / 'dev.db'}", env={"SLYCHAT_JWT_SECRET": ""})
    srv.migrate()
    srv.start(log_dir)
    yield srv
    srv.stop()


def _cli_token(srv: Server, role: str, user_id: int) -> str:
    """`slychat token` in another process, with the server's environment (no secret)."""
    result = subprocess.run(
        [sys.executable, "-m", "slychat", "token", "--role", role, "--id", str(user_id)],
        env=srv.environment(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


async def _talk(srv: Server, tokens: dict[tuple[str, int], str], text: str) -> None:
    """The customer and the vendor connect with their tokens; one writes to the other."""
    [customer, vendor] = [Client(srv.url, role, user_id) for role, user_id in tokens]
    try:
        for client in (customer, vendor):
            await client.connect(auth={"token": tokens[client.role, client.id]})
            await client.ready()
        ack = await customer.call(
            "sendMessage",
            {"productId": f"p-{next_id()}", "recipientId": vendor.id, "text": text}
            | new_chat_fields(),
        )
        assert ack["error"] is False, ack
        chat = (await vendor.wait("newChat"))["message"]
        assert (chat["customerId"], chat["vendorId"]) == (customer.id, vendor.id)
    finally:
        await customer.close()
        await vendor.close()


async def test_cli_tokens_work_against_the_dev_server_and_across_restarts(
    dev_server: Server, log_dir: Path, tmp_path: Path
) -> None:
    kept = tmp_path / "dev.db.dev-secret"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    secret = kept.read_text()
    # Users the banner printed no token for; their tokens minted by another process.
    users = [("customer", next_id()), ("vendor", next_id())]
    tokens = {user: _cli_token(dev_server, *user) for user in users}
    await _talk(dev_server, tokens, "Before the restart")

    dev_server.stop()
    dev_server.start(log_dir)
    assert kept.read_text() == secret
    await _talk(dev_server, tokens, "After the restart")


async def test_the_banners_curl_call_mints_a_token_for_another_user(dev_server: Server) -> None:
    """The banner's `curl` line, run as it is written (its words, sent by httpx)."""
    assert dev_server.log_path is not None
    lines = dev_server.log_path.read_text().splitlines()
    [curl] = [shlex.split(line) for line in lines if line.strip().startswith("curl ")]
    assert curl[:3] == ["curl", "-X", "POST"]
    url, header, body = curl[3], curl[curl.index("-H") + 1], curl[curl.index("-d") + 1]
    assert url == f"{dev_server.url}/api/dev/token"
    name, _, value = header.partition(":")
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(url, headers={name: value.strip()}, content=body)
    assert response.status_code == 200, response.text
    minted = response.json()["data"]
    assert (minted["userType"], minted["userId"]) == ("CUSTOMER", 2)

    customer = Client(dev_server.url, "customer", 2)
    try:
        await customer.connect(auth={"token": minted["token"]})
        await customer.ready()
    finally:
        await customer.close()
