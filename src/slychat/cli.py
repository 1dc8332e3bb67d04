"""Command line: `slychat serve | migrate | token | revoke`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import secrets
import sys
import time
from datetime import UTC, datetime
from typing import Any

from slychat import apikey_cli, config_report, durations
from slychat.config import Settings
from slychat.identity import Role, User
from slychat.ids import iso
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
    parser = argparse.ArgumentParser(prog="slychat", description=__doc__)
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

    revoke = sub.add_parser(
        "revoke", help="refuse a token (by its jti) on every node, live sockets included"
    )
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

        upgrade(settings.database_url)
        print(f"schema is up to date ({_redact(settings.database_url)})")
        return 0
    if args.command == "token":
        if settings.dev_mode:
            print(
                "SLYCHAT_JWT_SECRET is not set: a token needs the server's secret.", file=sys.stderr
            )
            return 2
        user = User(Role(args.role.upper()), args.user_id)
        try:
            print(token_service(settings).mint(user, args.ttl, args.shape))
        except ValueError as exc:
            print(f"cannot mint this token: {exc}", file=sys.stderr)
            return 2
        return 0
    if args.command == "revoke":
        return _revoke(settings, args.jti, args.until)
    if args.command == "apikey":
        return apikey_cli.run(settings, args)
    if args.workers > 1:
        return _serve_workers(settings, args.host, args.port, args.workers)
    return _serve(settings, args.host, args.port)


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


def _with_address(settings: Settings, host: str | None, port: int | None) -> Settings:
    from slychat import log_setup

    log_setup.configure(settings.log_level, settings.log_renderer)
    return settings.model_copy(
        update={k: v for k, v in (("host", host), ("port", port)) if v is not None}
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
        # Less memory per idle socket (see slychat.transport.websocket).
        "ws": "slychat.transport.websocket:WebSocketProtocol",
        # engine.io already pings every socket and drops one whose pong is late; uvicorn's
        # own keepalive would be a second ping and timer per socket.
        "ws_ping_interval": None,
        # A frame over the packet cap fails that connection as its header arrives, instead
        # of being buffered whole (up to uvicorn's 16 MiB) and refused afterwards.
        "ws_max_size": int(settings.max_packet_bytes),
        # uvicorn's own bound on its wait for connections at shutdown; slychat.serving
        # narrows it to what the drain left of SLYCHAT_SHUTDOWN_TIMEOUT.
        "timeout_graceful_shutdown": max(1, int(settings.shutdown_timeout)),
    }


def _log_config(settings: Settings) -> dict[str, Any]:
    from slychat.log_setup import dict_config

    return dict_config(settings.log_level, settings.log_renderer)


def _serve(settings: Settings, host: str | None, port: int | None) -> int:
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE

    from slychat import serving
    from slychat.app import create_app
    from slychat.container import Container, token_service

    settings = _with_address(settings, host, port)
    tokens = token_service(settings)
    if tokens.dev_mode:
        _print_dev_banner(tokens, _demo_url(settings))
    app = create_app(settings, Container.build(settings, tokens))
    config = uvicorn.Config(app, **_uvicorn_options(settings))
    started = serving.serve(config, settings.shutdown_timeout)
    return 0 if started else STARTUP_FAILURE


def _serve_workers(settings: Settings, host: str | None, port: int | None, workers: int) -> int:
    """N processes on one port. Connections land on any process, so presence and fan-out
    must be shared (Redis), and long-polling, whose requests must all reach the same
    process, is turned off."""
    import os

    import uvicorn

    from slychat import serving

    if not settings.redis_url:
        print(
            "slychat serve --workers needs SLYCHAT_REDIS_URL: each process must see the "
            "others' connections (presence and message fan-out go through Redis).",
            file=sys.stderr,
        )
        return 2
    settings = _with_address(settings, host, port)
    if "polling" in settings.transports:
        # A log line, not a print: a production log holds nothing but log lines.
        logging.getLogger(__name__).warning(
            "with --workers the server accepts WebSocket connections only "
            "(HTTP long-polling needs sticky sessions); clients must use "
            "transports: ['websocket']."
        )
    os.environ["SLYCHAT_TRANSPORTS"] = "websocket"
    if settings.dev_mode:
        # Every worker must verify the same tokens: mint the dev secret once, here.
        os.environ["SLYCHAT_JWT_SECRET"] = secrets.token_urlsafe(32)
        settings = Settings()
        _print_dev_banner(TokenService(settings.jwt_secret, settings.jwt_algorithms))
    config = uvicorn.Config(
        "slychat.app:app_from_env", factory=True, workers=workers, **_uvicorn_options(settings)
    )
    return serving.serve_workers(config, settings.shutdown_timeout)


def _demo_url(settings: Settings) -> str | None:
    """Where a browser on this machine finds the demo page, when it is served."""
    if not settings.demo_page:
        return None
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    return f"http://{'[' + host + ']' if ':' in host else host}:{settings.port}/"


def _print_dev_banner(tokens: TokenService, demo_url: str | None = None) -> None:
    customer = tokens.mint(User(Role.CUSTOMER, 1), 7 * 86400)
    vendor = tokens.mint(User(Role.VENDOR, 1), 7 * 86400)
    bar = "=" * 78
    demo = f"\n  demo page: {demo_url} (a customer and a vendor window)\n" if demo_url else ""
    print(
        f"{bar}\n"
        "  DEV MODE: SLYCHAT_JWT_SECRET is not set. This process generated its own secret;\n"
        "  tokens below stop working when it exits. NEVER run production like this.\n"
        f"{bar}\n"
        f"  customer 1 token:\n  {customer}\n\n"
        f"  vendor 1 token:\n  {vendor}\n"
        f"{demo}{bar}",
        flush=True,
    )


def _redact(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


if __name__ == "__main__":
    sys.exit(main())
