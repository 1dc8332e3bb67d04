"""What a server's start imports. Every test server, every worker of a rolling restart and
every `slychat` command pays its imports in CPU (about 1.5 s in all); what only some
servers or requests need is imported where it is used, and this keeps it so."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.launcher import PRELOAD

# Each with what it cost a start when it was imported at the top (this machine, quiet).
NOT_AT_START = (
    "aioboto3",  # the S3 media store: only with SLYCHAT_MEDIA_STORE=s3 (~0.18 s)
    "alembic",  # migrations: `slychat migrate`, and /readyz's first check on its thread (~0.09 s)
    "confusable_homoglyphs",  # look-alike letters: the first moderation rule folded (~0.08 s)
    "slychat.contracts",  # the OpenAPI/AsyncAPI documents: their first request (~0.15 s)
)


def test_a_server_s_start_leaves_what_few_need_for_when_it_is_needed() -> None:
    # What the tests' launcher imports once for every server it starts.
    script = (
        "import json, sys\n"
        f"import {', '.join(PRELOAD)}\n"
        f"print(json.dumps([m for m in {list(NOT_AT_START)!r} if m in sys.modules]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True
    ).stdout
    assert json.loads(out) == []
