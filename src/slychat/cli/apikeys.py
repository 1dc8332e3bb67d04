"""`slychat apikey create | list | revoke`: the admin API's keys, from the command line."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

from slychat.config.settings import Settings
from slychat.domain.ids import iso

T = TypeVar("T")

# The scopes, spelled here so that the parser needs no database modules; a test checks
# they are the service's own.
SCOPES = (
    "chats:read",
    "chats:write",
    "chats:export",
    "users:erase",
    "moderation:read",
    "moderation:write",
)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    apikey = sub.add_parser("apikey", help="create, list or revoke admin API keys")
    actions = apikey.add_subparsers(dest="apikey_command", required=True)
    create = actions.add_parser("create", help="create a key; its secret is shown once")
    create.add_argument("--name", required=True, help="who or what uses the key")
    create.add_argument(
        "--scope",
        required=True,
        action="append",
        choices=SCOPES,
        dest="scopes",
        help="a scope the key carries (repeat for several)",
    )
    actions.add_parser("list", help="every key: id, name, scopes, times (never secrets)")
    revoke = actions.add_parser("revoke", help="refuse a key from its next request on")
    revoke.add_argument("key_id", help="the key's id (the part after slyk_)")


def _columns(header: list[str], rows: list[list[str]]) -> list[str]:
    """The table as lines, each column as wide as its widest cell, two spaces apart."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]


def run(settings: Settings, args: argparse.Namespace) -> int:
    from slychat.domain.errors import AppError
    from slychat.services.apikeys import ApiKeyService, parse_scopes
    from slychat.storage.database import Database

    def with_keys(action: Callable[[ApiKeyService], Awaitable[T]]) -> T:
        async def go() -> T:
            db = Database(settings.database_url, pool_size=1, retries=settings.db_retries)
            try:
                return await action(ApiKeyService(db))
            finally:
                await db.close()

        return asyncio.run(go())

    try:
        if args.apikey_command == "create":
            scopes = parse_scopes(args.scopes)
            key, text = with_keys(lambda keys: keys.create(args.name, scopes))
            print(f"created API key {key.id} ({key.name}: {' '.join(key.scopes)})")
            print("the key, shown this once (only its hash is stored):")
            print(text)
            return 0
        if args.apikey_command == "list":
            listed = with_keys(lambda keys: keys.list())
            rows = [
                [
                    k.id,
                    k.name,
                    ",".join(k.scopes) or "-",
                    iso(k.created_at) or "-",
                    iso(k.last_used_at) or "-",
                    iso(k.revoked_at) or "-",
                ]
                for k in listed
            ]
            for line in _columns(["id", "name", "scopes", "created", "last used", "revoked"], rows):
                print(line)
            return 0
        with_keys(lambda keys: keys.revoke(args.key_id))
        print(f"revoked API key {args.key_id}; its next request is refused")
        return 0
    except AppError as exc:
        print(exc.message, file=sys.stderr)
        return 2
