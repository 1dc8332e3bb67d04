"""`python -m bench [storage|big-vendor|sync|search|fanout|yardstick|uploads|moderation|masking|all]
[--quick] ...`"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from bench import (
    big_vendor,
    fanout,
    masking_send,
    moderation,
    search,
    storage,
    sync,
    uploads,
    yardstick,
)
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
        "what",
        nargs="?",
        default="all",
        choices=[
            "storage",
            "big-vendor",
            "sync",
            "search",
            "fanout",
            "yardstick",
            "uploads",
            "moderation",
            "masking",
            "all",
        ],
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--runs",
        type=int,
        help=(
            "repetitions per figure (default 7; yardstick: 3, --quick 1; uploads: 5, --quick 2;"
            " moderation: 5, --quick 1; masking: 3, --quick 1)"
        ),
    )
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument(
        "--messages", type=int, help="total messages to seed (search: the user's, 1,000,000)"
    )
    parser.add_argument("--chats", type=int, help="total chats to seed")
    parser.add_argument(
        "--before",
        metavar="REVISION",
        help="yardstick: also run the closed loops on slychat at this git revision",
    )
    args = parser.parse_args()
    # Every server as production starts it, by `python -m slychat`: not forked from the
    # tests' launcher (tests/support/launcher.py), whose shared pages would blur memory
    # per user and whose start-up would not be a real one.
    os.environ["SLYCHAT_TESTS_FORK"] = "0"
    sizes = dict(QUICK if args.quick else FULL)
    if args.messages:
        sizes["total_messages"] = args.messages
    if args.chats:
        sizes["total_chats"] = args.chats
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    runs = args.runs or 7
    report = Report("slychat benchmarks", name=args.what)
    ok = True
    if args.what in ("storage", "all"):
        asyncio.run(storage.run(report, backends, sizes, runs))
    if args.what in ("big-vendor", "all"):
        asyncio.run(big_vendor.run(report, backends, args.quick, args.runs or 7))
    if args.what in ("sync", "all"):
        asyncio.run(sync.run(report, backends, min(runs, 5)))
    if args.what in ("search", "all"):
        searched = args.messages or (100_000 if args.quick else 1_000_000)
        asyncio.run(
            search.run(report, backends, searched, args.runs or (20 if args.quick else 100))
        )
    if args.what in ("fanout", "all"):
        asyncio.run(fanout.run(report, min(runs, 5)))
    if args.what in ("yardstick", "all"):
        ok = yardstick.run(report, args.runs, args.quick, args.before)
    if args.what in ("uploads", "all"):
        uploads.run(report, args.runs or (2 if args.quick else 5))
    if args.what in ("moderation", "all"):
        moderation.run(report, args.runs or (1 if args.quick else 5))
    if args.what in ("masking", "all"):
        ok = masking_send.run(report, args.runs, args.quick) and ok
    report.save()
    if not ok:
        sys.exit("a run failed or slychat failed the stored-messages check (see report)")


if __name__ == "__main__":
    main()
