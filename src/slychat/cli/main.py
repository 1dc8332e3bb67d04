"""Command line: `slychat serve | migrate | config | token | revoke | apikey`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from slychat.cli import apikeys as apikey_cli
from slychat.config import durations
from slychat.config import report as config_report
from slychat.config.settings import Settings, is_wildcard, local_url
from slychat.domain.identity import Role, User
from slychat.domain.ids import iso
from slychat.services import dev_secret
from slychat.services.auth import (
    CLOCK_LEEWAY_SECONDS,
    MAX_TOKEN_ID_CHARS,
    TokenService,
    token_service,
)


def parse_ttl(text: str) -> int:
    """`90`, `90s`, `15m`, `1h`, `7d` -> seconds."""
    try:
        return int(durations.seconds(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def parse_until(text: str) -> float:
    """`7d`, `12h` (from now) or an ISO 8601 time (`2026-12-01T00:00:00Z`; UTC when no
    offset is given) -> epoch seconds."""
    try:
        return time.time() + durations.seconds(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a duration (7d, 12h) nor an ISO time (2026-12-01T00:00:00Z)"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="slychat",
        description="The slychat chat server and its tools. Every command reads its settings "
        "from SLYCHAT_* environment variables (`slychat config` shows them).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the chat server")
    serve.add_argument("--host", help="bind address (SLYCHAT_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (SLYCHAT_PORT, default 8000)")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes sharing the port (needs SLYCHAT_REDIS_URL; websocket only)",
    )

    sub.add_parser("migrate", help="create or upgrade the database schema")

    config = sub.add_parser("config", help="print the effective settings, secrets masked")
    config.add_argument("--json", action="store_true", help="as a JSON document")

    token = sub.add_parser("token", help="mint a token with the configured secret")
    token.add_argument("--role", required=True, choices=["customer", "vendor", "admin"])
    token.add_argument("--id", required=True, type=int, dest="user_id")
    token.add_argument("--ttl", default="1h", type=parse_ttl, help="lifetime, e.g. 15m, 1h, 7d")
    token.add_argument(
        "--shape",
        default="platform",
        choices=["platform", "standard"],
        help="platform: {data:{id},types:[role]}; standard: {sub,role}",
    )

    revoke = sub.add_parser("revoke", help="refuse a token by its jti, on every node")
    revoke.add_argument("jti", help="the token's `jti` claim")
    revoke.add_argument(
        "--until",
        type=parse_until,
        help="how long: a duration (7d) or an ISO time; default SLYCHAT_JWT_MAX_LIFETIME, "
        "past which no token it could name is accepted anyway",
    )
    apikey_cli.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = config_report.load()  # a wrong setting: named on stderr, exit status 2
    if args.command == "config":
        config_report.print_settings(settings, as_json=args.json)
        return 0
    if args.command == "migrate":
        from slychat.storage.migrate import upgrade

        before, after = upgrade(settings.database_url)
        where = config_report.masked("database_url", settings.database_url)
        if before is None:
            print(f"created the schema at revision {after} ({where})")
        elif before == after:
            print(f"the schema is already at the latest revision, {after} ({where})")
        else:
            print(f"upgraded the schema from revision {before} to {after} ({where})")
        return 0
    if args.command == "token":
        return _token(settings, User(Role(args.role.upper()), args.user_id), args.ttl, args.shape)
    if args.command == "revoke":
        return _revoke(settings, args.jti, args.until)
    if args.command == "apikey":
        return apikey_cli.run(settings, args)
    if args.workers > 1:
        return _serve_workers(args.host, args.port, args.workers)
    return _serve(args.host, args.port)


def _token(settings: Settings, user: User, ttl: int, shape: str) -> int:
    """Mint with the configured secret, or in dev mode with the one the dev server keeps."""
    kept = dev_secret.read(settings)
    if settings.dev_mode and kept is None:
        where = dev_secret.path_for(settings)
        print(
            "SLYCHAT_JWT_SECRET is not set: a token needs the server's secret. "
            + (
                f"A dev-mode server keeps its own in {where}; none has run on this database "
                "yet: start one (`make run`) first."
                if where
                else "A dev-mode server on this database keeps its own in its process only: "
                "ask it (POST /api/dev/token), or set SLYCHAT_JWT_SECRET."
            ),
            file=sys.stderr,
        )
        return 2
    try:
        print(token_service(settings, kept).mint(user, ttl, shape))
    except ValueError as exc:
        print(f"cannot mint this token: {exc}", file=sys.stderr)
        return 2
    return 0


def _revoke(settings: Settings, jti: str, until: float | None) -> int:
    """Store the revocation; every node reads it within SLYCHAT_REVOCATION_POLL."""
    from slychat.services.revocations import Revocations
    from slychat.storage.database import Database

    if not 0 < len(jti) <= MAX_TOKEN_ID_CHARS:
        print(f"a jti is 1 to {MAX_TOKEN_ID_CHARS} characters", file=sys.stderr)
        return 2
    if until is None:
        until = time.time() + settings.jwt_max_lifetime + CLOCK_LEEWAY_SECONDS
    if until <= time.time():
        print("--until is in the past: nothing to revoke", file=sys.stderr)
        return 2
    until_ms = int(until * 1000)

    async def run() -> None:
        db = Database(settings.database_url, pool_size=1, retries=settings.db_retries)
        try:
            await Revocations(db).revoke(jti, until_ms)
        finally:
            await db.close()

    asyncio.run(run())
    print(
        f"revoked until {iso(until_ms)}; every node refuses it within {settings.revocation_poll:g}s"
    )
    return 0


def _with_address(host: str | None, port: int | None) -> Settings:
    """The settings with `--host`/`--port` in place of SLYCHAT_HOST/SLYCHAT_PORT, and
    everything derived from them (the public URL) derived again. Through the
    environment, so that `--workers` processes, which read it, see them too."""
    from slychat.logs import setup as log_setup

    for name, value in (("SLYCHAT_HOST", host), ("SLYCHAT_PORT", port)):
        if value is not None:
            os.environ[name] = str(value)
    settings = config_report.load()
    log_setup.configure(settings.log_level, settings.log_renderer)
    if note := public_url_note(settings):
        logging.getLogger(__name__).warning(note)
    return settings


def public_url_note(settings: Settings) -> str | None:
    """A warning when a wildcard bind left the public URL to a guess (loopback)."""
    if not is_wildcard(settings.host) or "public_url" in settings.model_fields_set:
        return None
    return (
        f"SLYCHAT_PUBLIC_URL is not set: media links point at {settings.public_url}, "
        "which only this machine reaches; set it to the address clients use"
    )


def _uvicorn_options(settings: Settings) -> dict[str, Any]:
    return {
        "host": settings.host,
        "port": settings.port,
        "loop": "uvloop",
        "http": "httptools",
        # uvicorn's `trace` dumps every ASGI scope, headers and query strings included.
        "log_level": "debug"
        if settings.log_level.lower() == "trace"
        else settings.log_level.lower(),
        # Request lines without their query string (Socket.IO's `sid`, a client's `token`).
        "log_config": _log_config(settings),
        "lifespan": "on",
        # Chat frames are small: compressing each one cost more CPU than it saved bytes.
        "ws_per_message_deflate": False,
        # Less memory per idle socket (see server/websocket.py).
        "ws": "slychat.server.websocket:WebSocketProtocol",
        # engine.io already pings every socket and drops one whose pong is late; uvicorn's
        # own keepalive would be a second ping and timer per socket.
        "ws_ping_interval": None,
        # A frame over the packet cap fails that connection as its header arrives, instead
        # of being buffered whole (up to uvicorn's 16 MiB) and refused afterwards.
        "ws_max_size": int(settings.max_packet_bytes),
        # uvicorn's own bound on its wait for connections at shutdown; process/serving.py
        # narrows it to what the drain left of SLYCHAT_SHUTDOWN_TIMEOUT.
        "timeout_graceful_shutdown": max(1, int(settings.shutdown_timeout)),
    }


def _log_config(settings: Settings) -> dict[str, Any]:
    from slychat.logs.setup import dict_config

    return dict_config(settings.log_level, settings.log_renderer)


def _serve(host: str | None, port: int | None) -> int:
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE

    from slychat.app import create_app
    from slychat.container import Container
    from slychat.process import serving

    settings = _with_address(host, port)
    kept = dev_secret.kept(settings)
    tokens = token_service(settings, kept)
    if tokens.dev_mode:
        where = dev_secret.path_for(settings) if kept else None
        url = local_url(settings.host, settings.port)
        _print_dev_banner(tokens, where, url, settings.demo_page)
    app = create_app(settings, Container.build(settings, tokens))
    config = uvicorn.Config(app, **_uvicorn_options(settings))
    started = serving.serve(config, settings.shutdown_timeout)
    return 0 if started else STARTUP_FAILURE


def _serve_workers(host: str | None, port: int | None, workers: int) -> int:
    """N processes on one port. Connections land on any process, so presence and fan-out
    must be shared (Redis), and long-polling, whose requests must all reach the same
    process, is turned off."""
    import uvicorn

    from slychat.process import supervisor

    settings = _with_address(host, port)
    if not settings.redis_url:
        print(
            "slychat serve --workers needs SLYCHAT_REDIS_URL: each process must see the "
            "others' connections (presence and message fan-out go through Redis).",
            file=sys.stderr,
        )
        return 2
    if "polling" in settings.transports:
        # A log line, not a print: a production log holds nothing but log lines.
        logging.getLogger(__name__).warning(
            "with --workers the server accepts WebSocket connections only "
            "(HTTP long-polling needs sticky sessions); clients must use "
            "transports: ['websocket']."
        )
    os.environ["SLYCHAT_TRANSPORTS"] = "websocket"
    if settings.dev_mode:
        # Every worker must verify the same tokens: they get the dev secret from here.
        kept = dev_secret.kept(settings)
        where = dev_secret.path_for(settings) if kept else None
        os.environ["SLYCHAT_JWT_SECRET"] = kept or secrets.token_urlsafe(32)
        settings = Settings()
        _print_dev_banner(TokenService(settings.jwt_secret, settings.jwt_algorithms), where)
    config = uvicorn.Config(
        "slychat.app:app_from_env", factory=True, workers=workers, **_uvicorn_options(settings)
    )
    return supervisor.serve_workers(config, settings.shutdown_timeout)


def _print_dev_banner(
    tokens: TokenService,
    kept_in: Path | None,
    url: str | None = None,
    with_demo: bool = False,
) -> None:
    """Dev mode's banner: ready tokens, and how to get more. `url` when this process serves
    the dev token route there (`with_demo`: and the demo page)."""
    customer = tokens.mint(User(Role.CUSTOMER, 1), 7 * 86400)
    vendor = tokens.mint(User(Role.VENDOR, 1), 7 * 86400)
    bar = "=" * 78
    secret = (
        f"  Its secret is kept in {kept_in}: tokens stay good across restarts.\n"
        if kept_in
        else "  This process generated its own secret: tokens stop working when it exits.\n"
    )
    more = [f"  {_program()} token --role vendor --id 2"] if kept_in else []
    if url:
        more.append(
            f"  curl -X POST {url}/api/dev/token -H 'Content-Type: application/json' "
            """-d '{"role": "customer", "id": 2}'"""
        )
    others = "\n  other users' tokens:\n" + "\n".join(more) + "\n" if more else ""
    demo = f"\n  demo page: {url}/ (a customer and a vendor window)\n" if url and with_demo else ""
    print(
        f"{bar}\n"
        "  DEV MODE: SLYCHAT_JWT_SECRET is not set. NEVER run production like this.\n"
        f"{secret}"
        f"{bar}\n"
        f"  customer 1 token:\n  {customer}\n\n"
        f"  vendor 1 token:\n  {vendor}\n"
        f"{others}{demo}{bar}",
        flush=True,
    )


def _program() -> str:
    """This command as it was run, to run it again (`.venv/bin/slychat` after `make run`)."""
    run_as = Path(sys.argv[0])
    if run_as.name != "slychat":
        return "python -m slychat"
    if run_as.parent == Path():
        return "slychat"  # found on the PATH
    shown = os.path.relpath(run_as)
    return str(run_as) if shown.startswith("..") else shown


if __name__ == "__main__":
    sys.exit(main())
