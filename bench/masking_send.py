"""The send path with the contact-detail policy `mask` against `off`, in one session.

The yardstick's closed loop (its load generator, 100 pairs, one message in flight per
pair) runs on slychat on SQLite twice per round, once with SLYCHAT_CONTACT_POLICY=mask and
once with `off`, each on a fresh database; the order flips every round so that drift on
a busy machine hits both alike. The figures are medians over the rounds, and the ratio of
`mask` to `off` says what masking costs the send path (the issue's budget: a tenth).
Every run's stored messages are checked (none lost, repeated or out of order).
"""

from __future__ import annotations

import shutil
import statistics
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.common import Report
from bench.delivery import verify
from bench.yardstick import YARDSTICK, id_bases, loadgen, slychat_target, workdir
from bench.yardstick_plan import FULL, QUICK, Load, Variant, loads

POLICIES = ("off", "mask")
BUDGET = 1.10  # mask may cost at most a tenth more than off
# (result key, label, True when higher is better)
FIGURES = (
    ("throughput", "messages/s", True),
    ("p50_ms", "p50 (ms)", False),
    ("p99_ms", "p99 (ms)", False),
    ("server_cpu_us_per_msg", "server CPU (us/msg)", False),
)


def _round(work: Path, load: Load, policy: str) -> dict[str, Any]:
    variant = Variant(f"slychat-sqlite-{policy}", "slychat", "sqlite", (load.key,), "SQLite")
    with slychat_target(variant, {"SLYCHAT_CONTACT_POLICY": policy}) as target:
        base = next(id_bases)
        result = loadgen(work, target, load, base)
        check = verify(target.database_url, base, load.pairs, load.messages)
    result["stored_ok"] = check.ok
    print(
        f"  {policy}: {result['throughput']:.0f} msgs/s, p50 {result['p50_ms']} ms, "
        f"p99 {result['p99_ms']} ms, server {result['server_cpu_us_per_msg']} us/msg, "
        f"stored {'ok' if check.ok else 'FAILED'}",
        flush=True,
    )
    return result


def run(report: Report, runs: int | None = None, quick: bool = False) -> bool:
    """Measure and report; False when a run's stored messages were wrong."""
    report.add("## The send path with contact masking on and off\n")
    if not (YARDSTICK / "loadgen.js").exists() or shutil.which("npm") is None:
        report.add(f"Skipped: needs Node.js/npm and the yardstick at {YARDSTICK}.\n")
        return True
    sizes = QUICK if quick else FULL
    sizes = replace(sizes, runs=runs or sizes.runs)
    load = loads(sizes)["closed"]
    done: dict[str, list[dict[str, Any]]] = {p: [] for p in POLICIES}
    with workdir() as work:
        for round_no in range(sizes.runs):
            print(f"masking round {round_no + 1}/{sizes.runs}", flush=True)
            order = POLICIES if round_no % 2 == 0 else tuple(reversed(POLICIES))
            for policy in order:
                done[policy].append(_round(work, load, policy))
    medians = {
        p: {key: statistics.median(float(r[key]) for r in done[p]) for key, _, _ in FIGURES}
        for p in POLICIES
    }
    report.add(
        f"{load.label} on SQLite, SLYCHAT_CONTACT_POLICY `mask` and `off` alternating, "
        f"{sizes.runs} round(s), medians. The load generator's texts hold no contact "
        "detail: what every ordinary message pays for being checked. Ratio: mask / off "
        f"(budget: {BUDGET:.2f} on the costs, {1 / BUDGET:.2f} on throughput).\n"
    )
    rows = []
    for key, label, _higher in FIGURES:
        off, mask = medians["off"][key], medians["mask"][key]
        ratio = mask / off if off else float("nan")
        rows.append([label, f"{off:.1f}", f"{mask:.1f}", f"{ratio:.2f}"])
    report.table(["figure", "off", "mask", "mask / off"], rows)
    ok = all(r["stored_ok"] for p in POLICIES for r in done[p])
    report.data["masking_send"] = {"runs": done, "medians": medians, "stored_ok": ok}
    return ok
