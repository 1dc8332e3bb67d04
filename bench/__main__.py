"""`python -m bench [storage|sync|fanout|yardstick|all] [--quick] ...`"""

from __future__ import annotations

import argparse
import asyncio

from bench import fanout, storage, sync, yardstick
from bench.common import Report

FULL = {
    "total_messages": 1_000_000,
    "total_chats": 20_000,
    "vendor_chats": 500,
    "big_chat_messages": 10_000,
    "unread": 1_000,
}
QUICK = {
    "total_messages": 60_000,
    "total_chats": 2_000,
    "vendor_chats": 500,
    "big_chat_messages": 10_000,
    "unread": 1_000,
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "what", nargs="?", default="all", choices=["storage", "sync", "fanout", "yardstick", "all"]
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--runs", type=int, default=7, help="repetitions per figure")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--messages", type=int, help="total messages to seed")
    parser.add_argument("--chats", type=int, help="total chats to seed")
    args = parser.parse_args()
    sizes = dict(QUICK if args.quick else FULL)
    if args.messages:
        sizes["total_messages"] = args.messages
    if args.chats:
        sizes["total_chats"] = args.chats
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    report = Report("slychat benchmarks")
    if args.what in ("storage", "all"):
        asyncio.run(storage.run(report, backends, sizes, args.runs))
    if args.what in ("sync", "all"):
        asyncio.run(sync.run(report, backends, min(args.runs, 5)))
    if args.what in ("fanout", "all"):
        asyncio.run(fanout.run(report, min(args.runs, 5)))
    if args.what in ("yardstick", "all"):
        yardstick.run(report, min(args.runs, 3))
    report.save(args.what)


if __name__ == "__main__":
    main()
