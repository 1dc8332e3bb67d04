"""slychat against the Node.js reference server, with the shared load generator.

Servers are started here, one at a time on a fresh database, and rounds alternate slychat and
the reference (the order flips every round) so that machine drift hits both alike. Each figure
is a median over rounds, reported as a ratio to the reference measured in the same session.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import redis
from sqlalchemy.engine import make_url

from bench import yardstick_report
from bench.common import REDIS_URL, ROOT, Report, fresh_database, running, wait_healthy
from bench.delivery import verify
from bench.procstat import Sampler, cpu_between, cpu_sampler, family, open_sockets
from bench.yardstick_plan import (
    FULL,
    GROUPS,
    QUICK,
    Load,
    Run,
    Variant,
    loads,
    with_revision,
)
from tests.support import SECRET, free_port

YARDSTICK = Path(os.environ.get("SLYCHAT_YARDSTICK", ROOT.parent / "shared" / "bench"))
# Load tests measure the send path, not the abuse guard: rate limits are turned off (a setting
# the server does not know is ignored).
SLYCHAT_ENV = {"SLYCHAT_LOG_LEVEL": "error", "SLYCHAT_RATE_LIMITS": "off"}
NODE_LIMIT_S = 600

T = TypeVar("T")


class RunFailed(Exception):
    """A node tool (load generator, idle-mem) that did not finish its run."""


@dataclass(frozen=True)
class Target:
    """A running server under test."""

    url: str
    pids: list[int]  # all its processes (a multi-worker server's workers too)
    database_url: str  # where it stores, as a SQLAlchemy URL


# ---------- servers ----------


@contextlib.contextmanager
def _redis_env(workers: int) -> Iterator[dict[str, str]]:
    """Redis settings for a multi-worker server: a fresh prefix, whose keys go afterwards."""
    if workers == 1:
        yield {}
        return
    prefix = f"bench-{secrets.token_hex(4)}"
    try:
        yield {"SLYCHAT_REDIS_URL": REDIS_URL, "SLYCHAT_REDIS_PREFIX": prefix}
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)
        client.close()


def _processes(pid: int, workers: int, limit_s: float = 30) -> list[int]:
    """The server's processes, once its workers are spawned and have had time to listen."""
    if workers == 1:
        return [pid]
    deadline = time.monotonic() + limit_s
    while len(family(pid)) <= workers and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(2.0)
    return family(pid)


@contextlib.contextmanager
def slychat_target(variant: Variant, settings: dict[str, str] | None = None) -> Iterator[Target]:
    """slychat as `variant` says, on a fresh database, with `settings` (environment) more."""
    serve_args = ("--workers", str(variant.workers)) if variant.workers > 1 else ()
    env = SLYCHAT_ENV | (settings or {})
    if variant.source:  # an earlier revision's package ahead of this tree's installed one
        env["PYTHONPATH"] = variant.source
    with (
        fresh_database(variant.backend) as database_url,
        _redis_env(variant.workers) as redis_env,
        running(database_url, *serve_args, **env, **redis_env) as server,
    ):
        assert server.proc is not None
        pids = _processes(server.proc.pid, variant.workers)
        yield Target(server.url, pids, database_url)


def _node_database(database_url: str) -> str:
    """The reference server's `DB` for a SQLAlchemy URL."""
    url = make_url(database_url)
    if url.drivername.startswith("sqlite"):
        return f"sqlite:{url.database}"
    return url.set(drivername="postgres").render_as_string(hide_password=False)


def _stop(proc: subprocess.Popen[Any]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def _reference(work: Path, variant: Variant) -> Iterator[Target]:
    with fresh_database(variant.backend) as database_url, tempfile.TemporaryDirectory() as logs:
        port, log = free_port(), Path(logs) / "node-ref.log"
        env = {"PORT": str(port), "JWT_SECRET": SECRET, "DB": _node_database(database_url)}
        with log.open("wb") as out:
            proc = subprocess.Popen(
                ["node", "node-ref/server.js"],
                cwd=work,
                env=os.environ | env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_healthy(url, proc, log)
            yield Target(url, [proc.pid], database_url)
        finally:
            _stop(proc)


def _target(work: Path, variant: Variant) -> contextlib.AbstractContextManager[Target]:
    return slychat_target(variant) if variant.server == "slychat" else _reference(work, variant)


# ---------- the node tools ----------


def _json_line(proc: subprocess.Popen[str]) -> tuple[str | None, float]:
    """The tool's JSON line and when it arrived (it prints it as soon as it has measured)."""
    found: tuple[str | None, float] = (None, 0.0)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("{"):
            found = (line, time.monotonic())
    return found


def _node_json(
    work: Path, args: list[str], sampler: Callable[[int], Sampler[T]]
) -> tuple[dict[str, Any], float, Sampler[T]]:
    """Run `node *args`, sampling `sampler(its pid)` meanwhile: its JSON line, the time that
    line arrived, and the samples."""
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            ["node", *args], cwd=work, stdout=subprocess.PIPE, stderr=errors, text=True
        )
        watchdog = threading.Timer(NODE_LIMIT_S, proc.kill)
        watchdog.start()
        try:
            with sampler(proc.pid) as samples:
                line, arrived = _json_line(proc)
                code = proc.wait()
        finally:
            watchdog.cancel()
        if code != 0 or line is None:
            errors.seek(0)
            tail = errors.read().decode(errors="replace").strip().splitlines()[-3:]
            raise RunFailed(f"{args[0]} exited {code}: {' / '.join(tail)}")
    return json.loads(line), arrived, samples


def loadgen(work: Path, target: Target, load: Load, base: int) -> dict[str, Any]:
    """One load generator run, with the CPU of the server and of the load generator measured
    here over the loadgen's measured window (the connect phase excluded)."""
    args = ["loadgen.js", "--url", target.url, "--secret", SECRET, "--timeout", "120000"]
    args += ["--server-pid", str(target.pids[0]), *load.loadgen_args(base)]
    # Each server process on its own too: how evenly a multi-worker server shares the load.
    groups = {str(pid): [pid] for pid in target.pids} | {"server": target.pids}
    result, arrived, samples = _node_json(
        work, args, lambda pid: cpu_sampler(groups | {"loadgen": [pid]})
    )
    seconds, messages = float(result["seconds"]), int(result["messages"])
    used = cpu_between(samples, arrived - seconds, arrived)
    result["loadgen_reported_server_cpu_us_per_msg"] = result.pop("server_cpu_us_per_msg")
    for name in ("server", "loadgen"):
        result[f"{name}_cpu_us_per_msg"] = round(used[name] / messages * 1e6, 1)
        result[f"{name}_cores"] = round(used[name] / seconds, 3)
    result["server_cores_by_process"] = {
        pid: round(used[pid] / seconds, 3) for pid in map(str, target.pids)
    }
    # Everything else that ran meanwhile: the database servers, and any other work on the
    # machine (noise, when it is large).
    rest = used["machine"] - used["server"] - used["loadgen"]
    result["other_cores"] = round(rest / seconds, 3)
    return result


def _idle_memory(work: Path, target: Target, users: int) -> dict[str, Any]:
    """idle-mem.js, counting the sockets the server holds open meanwhile (the first sample
    is taken before any user connects)."""
    server = target.pids[0]
    args = ["idle-mem.js", target.url, SECRET, str(server), str(users)]
    result, _, samples = _node_json(
        work, args, lambda _pid: Sampler(lambda: open_sockets(server), interval=0.25)
    )
    opened = max(samples.values()) - samples.values()[0]
    result["websockets_per_user"] = round(opened / users, 2)
    return result


# ---------- runs ----------


id_bases = itertools.count(random.randint(1_000, 9_000) * 1_000_000, 1_000)


def _measure(work: Path, target: Target, load: Load, round_no: int, variant: Variant) -> Run:
    run = Run(round_no, variant.key, load.key)
    try:
        if load.users:
            run.result = _idle_memory(work, target, load.users)
        else:
            base = next(id_bases)
            run.result = loadgen(work, target, load, base)
            run.check = verify(target.database_url, base, load.pairs, load.messages).to_json()
    except Exception as exc:  # a failed run is reported, the others go on
        run.error = _short(exc)
    _progress(run)
    return run


def _run_variant(work: Path, variant: Variant, plan: dict[str, Load], round_no: int) -> list[Run]:
    done: list[Run] = []
    try:
        with _target(work, variant) as target:
            for key in variant.loads:
                done.append(_measure(work, target, plan[key], round_no, variant))
    except Exception as exc:  # the server did not start or stop cleanly: say so, go on
        error = f"server: {_short(exc)}"
        done += [Run(round_no, variant.key, key, error=error) for key in variant.loads[len(done) :]]
        print(f"  {variant.key}: {error}", flush=True)
    return done


def _short(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {' / '.join(lines[:1] + lines[-3:])}"[:600]


def _progress(run: Run) -> None:
    r = run.result
    if run.error:
        summary = f"FAILED {run.error}"
    elif "kb_per_user" in r:
        summary = f"{r['kb_per_user']} KiB/user, {r['websockets_per_user']} websockets/user"
    else:
        ok = "ok" if run.check and run.check["ok"] else f"CHECK FAILED {run.check}"
        summary = (
            f"{r['throughput']:.0f} msgs/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, "
            f"server {r['server_cpu_us_per_msg']} us/msg, loadgen {r['loadgen_cores']:.2f} "
            f"cores; stored {ok}"
        )
    print(f"  [{run.round + 1}] {run.variant} {run.load}: {summary}", flush=True)


def _rounds(
    work: Path, plan: dict[str, Load], runs: int, groups: tuple[tuple[Variant, ...], ...]
) -> list[Run]:
    done: list[Run] = []
    for round_no in range(runs):
        print(f"yardstick round {round_no + 1}/{runs}", flush=True)
        for group in groups:
            for variant in group if round_no % 2 == 0 else reversed(group):
                done += _run_variant(work, variant, plan, round_no)
    return done


@contextlib.contextmanager
def workdir() -> Iterator[Path]:
    """A copy of the shared yardstick with its own `npm ci` (the shared one stays untouched)."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "yardstick"
        shutil.copytree(YARDSTICK, work, ignore=shutil.ignore_patterns("node_modules"))
        for path in (work, *work.rglob("*")):
            path.chmod(path.stat().st_mode | 0o200)
        npm = ["npm", "ci", "--no-audit", "--no-fund"]
        subprocess.run(npm, cwd=work, check=True, capture_output=True, timeout=600)
        yield work


@contextlib.contextmanager
def revision_source(revision: str) -> Iterator[str]:
    """The `src/` of `revision` of this repository (`git archive`), in a temporary directory."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", revision, "src"],
            check=True,
            capture_output=True,
            timeout=120,
        ).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True, timeout=120)
        yield str(Path(tmp) / "src")


def run(
    report: Report, runs: int | None = None, quick: bool = False, before: str | None = None
) -> bool:
    """Measure and report; False when a run failed or slychat lost, repeated or reordered a
    stored message. `before`: a git revision whose slychat also runs the closed loops, beside
    this tree's in the same rounds (what a change did to the send path)."""
    report.add("## Against the Node.js reference (shared yardstick)\n")
    if not (YARDSTICK / "loadgen.js").exists() or shutil.which("npm") is None:
        report.add(f"Skipped: needs Node.js/npm and the yardstick at {YARDSTICK}.\n")
        return True
    sizes = QUICK if quick else FULL
    sizes = replace(sizes, runs=runs or sizes.runs)
    plan = loads(sizes)
    with contextlib.ExitStack() as stack:
        groups: tuple[tuple[Variant, ...], ...] = GROUPS
        if before:
            source = stack.enter_context(revision_source(before))
            groups = with_revision(GROUPS, before, source)
        work = stack.enter_context(workdir())
        done = _rounds(work, plan, sizes.runs, groups)
    variants = [variant for group in groups for variant in group]
    return yardstick_report.write(report, sizes, plan, variants, done)
