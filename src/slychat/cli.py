"""Command line: `slychat serve | migrate | token`."""

from __future__ import annotations

import argparse
import logging
import re
import secrets
import sys
from typing import Any

from slychat import durations
from slychat.config import Settings
from slychat.identity import Role, User
from slychat.services.auth import TokenService


def parse_ttl(text: str) -> int:
    """`90`, `90s`, `15m`, `1h`, `7d` -> seconds."""
    try:
        return int(durations.seconds(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = Settings()
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
        tokens = TokenService(settings.jwt_secret, settings.jwt_algorithms, settings.jwt_public_key)
        user = User(Role(args.role.upper()), args.user_id)
        print(tokens.mint(user, args.ttl, args.shape))
        return 0
    if args.workers > 1:
        return _serve_workers(settings, args.host, args.port, args.workers)
    return _serve(settings, args.host, args.port)


def _with_address(settings: Settings, host: str | None, port: int | None) -> Settings:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return settings.model_copy(
        update={k: v for k, v in (("host", host), ("port", port)) if v is not None}
    )


def _uvicorn_options(settings: Settings) -> dict[str, Any]:
    return {
        "host": settings.host,
        "port": settings.port,
        "loop": "uvloop",
        "http": "httptools",
        "log_level": settings.log_level.lower(),
        "lifespan": "on",
        # Chat frames are small: compressing each one cost more CPU than it saved bytes.
        "ws_per_message_deflate": False,
        # Less memory per idle socket (see slychat.transport.websocket).
        "ws": "slychat.transport.websocket:WebSocketProtocol",
        # engine.io already pings every socket and drops one whose pong is late; uvicorn's
        # own keepalive would be a second ping and timer per socket.
        "ws_ping_interval": None,
    }


def _serve(settings: Settings, host: str | None, port: int | None) -> int:
    import uvicorn

    from slychat.app import create_app
    from slychat.container import Container, token_service

    settings = _with_address(settings, host, port)
    tokens = token_service(settings)
    if tokens.dev_mode:
        _print_dev_banner(tokens)
    uvicorn.run(
        create_app(settings, Container.build(settings, tokens)), **_uvicorn_options(settings)
    )
    return 0


def _serve_workers(settings: Settings, host: str | None, port: int | None, workers: int) -> int:
    """N processes on one port. Connections land on any process, so presence and fan-out
    must be shared (Redis), and long-polling, whose requests must all reach the same
    process, is turned off."""
    import os

    import uvicorn

    if not settings.redis_url:
        print(
            "slychat serve --workers needs SLYCHAT_REDIS_URL: each process must see the "
            "others' connections (presence and message fan-out go through Redis).",
            file=sys.stderr,
        )
        return 2
    settings = _with_address(settings, host, port)
    if "polling" in settings.transports:
        print(
            "note: with --workers the server accepts WebSocket connections only "
            "(HTTP long-polling needs sticky sessions); clients must use "
            "transports: ['websocket'].",
            file=sys.stderr,
        )
    os.environ["SLYCHAT_TRANSPORTS"] = "websocket"
    if settings.dev_mode:
        # Every worker must verify the same tokens: mint the dev secret once, here.
        os.environ["SLYCHAT_JWT_SECRET"] = secrets.token_urlsafe(32)
        settings = Settings()
        _print_dev_banner(TokenService(settings.jwt_secret, settings.jwt_algorithms))
    uvicorn.run(
        "slychat.app:app_from_env", factory=True, workers=workers, **_uvicorn_options(settings)
    )
    return 0


def _print_dev_banner(tokens: TokenService) -> None:
    customer = tokens.mint(User(Role.CUSTOMER, 1), 7 * 86400)
    vendor = tokens.mint(User(Role.VENDOR, 1), 7 * 86400)
    bar = "=" * 78
    print(
        f"{bar}\n"
        "  DEV MODE: SLYCHAT_JWT_SECRET is not set. This process generated its own secret;\n"
        "  tokens below stop working when it exits. NEVER run production like this.\n"
        f"{bar}\n"
        f"  customer 1 token:\n  {customer}\n\n"
        f"  vendor 1 token:\n  {vendor}\n"
        f"{bar}",
        flush=True,
    )


def _redact(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


if __name__ == "__main__":
    sys.exit(main())
