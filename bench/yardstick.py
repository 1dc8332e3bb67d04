"""slychat against the Node.js reference server, with the shared load generator."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, Report, running
from tests.support import SECRET, free_port

YARDSTICK = Path(os.environ.get("SLYCHAT_YARDSTICK", ROOT.parent / "shared" / "bench"))


def _loadgen(workdir: Path, url: str, pid: int, args: list[str]) -> dict[str, float]:
    out = subprocess.run(
        ["node", "loadgen.js", "--url", url, "--secret", SECRET, "--server-pid", str(pid), *args],
        cwd=workdir,
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def _reference(workdir: Path, db: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        ["node", "node-ref/server.js"],
        cwd=workdir,
        env={**os.environ, "PORT": str(port), "JWT_SECRET": SECRET, "DB": f"sqlite:{db}"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)
    return proc, f"http://127.0.0.1:{port}"


def run(report: Report, runs: int) -> None:
    report.add("## Against the Node.js reference (shared yardstick)\n")
    if not (YARDSTICK / "loadgen.js").exists() or shutil.which("npm") is None:
        report.add(f"Skipped: needs Node.js/npm and the yardstick at {YARDSTICK}.\n")
        return
    loads = {
        "closed loop, 100 pairs x 100": ["--pairs", "100", "--messages", "100"],
        "open loop, 1,000 msgs/s": ["--pairs", "100", "--messages", "50", "--rate", "1000"],
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "yardstick"
        shutil.copytree(YARDSTICK, work, ignore=shutil.ignore_patterns("node_modules"))
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=work,
            check=True,
            capture_output=True,
            timeout=600,
        )
        results: dict[tuple[str, str], list[dict[str, float]]] = {}
        for n in range(runs):  # alternate the two servers so drift hits both alike
            ref, ref_url = _reference(work, Path(tmp) / f"ref{n}.db")
            try:
                for name, args in loads.items():
                    results.setdefault(("node-ref", name), []).append(
                        _loadgen(work, ref_url, ref.pid, args)
                    )
            finally:
                ref.terminate()
                ref.wait()
            with running(f"sqlite+aiosqlite:///{tmp}/sly{n}.db") as sly:
                assert sly.proc is not None
                for name, args in loads.items():
                    results.setdefault(("slychat", name), []).append(
                        _loadgen(work, sly.url, sly.proc.pid, args)
                    )
    report.add(f"Both on SQLite, one process each, {runs} alternating runs, medians.\n")
    rows = []
    for name in loads:
        ref = {
            k: statistics.median(r[k] for r in results[("node-ref", name)])
            for k in ("throughput", "p50_ms", "p99_ms", "server_cpu_us_per_msg")
        }
        sly = {k: statistics.median(r[k] for r in results[("slychat", name)]) for k in ref}
        rows.append(
            [
                name,
                f"{sly['throughput']:.0f} / {ref['throughput']:.0f}",
                f"{sly['throughput'] / ref['throughput']:.2f}",
                f"{sly['p50_ms']:.1f} / {ref['p50_ms']:.1f}",
                f"{sly['p99_ms']:.1f} / {ref['p99_ms']:.1f}",
                f"{sly['server_cpu_us_per_msg']:.0f} / {ref['server_cpu_us_per_msg']:.0f}",
            ]
        )
    report.table(
        [
            "load",
            "msgs/s slychat / ref",
            "throughput ratio",
            "p50 ms",
            "p99 ms",
            "server CPU us/msg",
        ],
        rows,
    )
