"""`python -m slychat.contracts openapi|asyncapi|write|check`: print, write or check the
generated documents (docs/openapi.json and docs/asyncapi.json in the checkout)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from slychat.contracts.documents import DOCUMENTS, render


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m slychat.contracts", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in DOCUMENTS:
        sub.add_parser(name, help=f"print the {name} document")
    for name, verb in (("write", "write"), ("check", "compare with")):
        p = sub.add_parser(name, help=f"{verb} <dir>/openapi.json and <dir>/asyncapi.json")
        p.add_argument("dir", nargs="?", default="docs", type=Path)
    args = parser.parse_args(argv)
    if args.command in DOCUMENTS:
        sys.stdout.write(render(DOCUMENTS[args.command]()))
        return 0
    stale = []
    for name, build in DOCUMENTS.items():
        path = args.dir / f"{name}.json"
        text = render(build())
        if args.command == "write":
            path.write_text(text, encoding="utf-8")
        elif not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(str(path))
    if stale:
        print(
            f"out of date: {', '.join(stale)}; run python -m slychat.contracts write",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
