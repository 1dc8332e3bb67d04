"""The yardstick's report: medians over rounds, ratios to the reference, the stored-messages
check, load generator saturation, the raw runs (JSON) and a chart (PNG)."""

from __future__ import annotations

import os
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.common import Report
from bench.delivery import Check
from bench.yardstick_plan import Load, Run, Sizes, Variant

METRICS = (
    "throughput",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
    "errors",
    "connect_seconds",
    "server_cpu_us_per_msg",
    "loadgen_cpu_us_per_msg",
    "server_cores",
    "loadgen_cores",
    "other_cores",
    "kb_per_user",
    "rss_before_kb",
    "rss_after_kb",
    "websockets_per_user",
)
SATURATED = 0.9  # of one core: the load generator is one node process
KEPT_UP = 0.95  # of the paced rate, delivered
DASH = "-"

# medians[variant][load][metric]; ratios[variant][f"{load} / {other variant}"][metric]
Table = dict[str, dict[str, dict[str, float]]]


def medians(runs: Iterable[Run]) -> Table:
    values: dict[str, dict[str, dict[str, list[float]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    for run in runs:
        if run.error is None:
            for metric in METRICS:
                if isinstance(run.result.get(metric), int | float):
                    values[run.variant][run.load][metric].append(float(run.result[metric]))
            values[run.variant][run.load]["runs"].append(1)
    return {
        variant: {
            load: {m: statistics.median(v) for m, v in metrics.items() if m != "runs"}
            | {"runs": len(metrics["runs"])}
            for load, metrics in by_load.items()
        }
        for variant, by_load in values.items()
    }


def ratios(variants: Sequence[Variant], med: Table) -> Table:
    out: Table = {}
    for variant in variants:
        for other in (variant.reference, variant.baseline, variant.successor):
            for load, mine in med.get(variant.key, {}).items() if other else ():
                theirs = med.get(other, {}).get(load, {})
                both = [m for m in METRICS if m in mine and theirs.get(m)]
                out.setdefault(variant.key, {})[f"{load} / {other}"] = {
                    m: mine[m] / theirs[m] for m in both
                }
    return out


def checks(runs: Iterable[Run]) -> dict[str, dict[str, dict[str, Any]]]:
    """The stored-messages checks of each variant and load, added up over rounds."""
    totals: dict[str, dict[str, Check]] = defaultdict(dict)
    counts: dict[tuple[str, str], list[bool]] = defaultdict(list)
    for run in runs:
        if run.check is not None:
            one = Check(**{k: v for k, v in run.check.items() if k != "ok"})
            totals[run.variant].setdefault(run.load, Check()).add(one)
            counts[(run.variant, run.load)].append(bool(run.check["ok"]))
    return {
        variant: {
            load: total.to_json()
            | {"runs": len(counts[(variant, load)]), "ok": all(counts[(variant, load)])}
            for load, total in by_load.items()
        }
        for variant, by_load in totals.items()
    }


# ---------- formatting ----------


def _get(med: Table, variant: str, load: str, metric: str) -> float | None:
    return med.get(variant, {}).get(load, {}).get(metric)


def _fmt(value: float | None, spec: str) -> str:
    return DASH if value is None else format(value, spec)


def _both(med: Table, mine: str, theirs: str, load: str, metric: str, spec: str) -> str:
    """`mine / theirs`, each formatted with `spec`."""
    values = (_get(med, key, load, metric) for key in (mine, theirs))
    return " / ".join(_fmt(value, spec) for value in values)


def _ratio_of(med: Table, mine: str, theirs: str, load: str, metric: str) -> float | None:
    a, b = _get(med, mine, load, metric), _get(med, theirs, load, metric)
    return a / b if a is not None and b else None


def _ratio_text(ratio: float | None) -> str:
    return DASH if ratio is None else format(ratio, ".2f" if ratio < 100 else ",.0f")


def _ratio(med: Table, mine: str, theirs: str, load: str, metric: str) -> str:
    return f"**{_ratio_text(_ratio_of(med, mine, theirs, load, metric))}**"


def _ms(value: float | None) -> str:
    return _fmt(value, ".2f" if value is not None and value < 10 else ",.0f")


def _short_number(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


# ---------- sections ----------


def _method(report: Report, sizes: Sizes, plan: dict[str, Load]) -> None:
    closed, idle = plan["closed"], plan["idle"]
    paced = ", ".join(
        f"{load.rate:,} msgs/s ({load.pairs * load.messages:,} messages)"
        for load in plan.values()
        if load.rate
    )
    report.add(
        f"Method: {sizes.runs} round(s). In each, every set-up runs on a freshly started server "
        "with a fresh database (a SQLite file, or a PostgreSQL database dropped afterwards), "
        "slychat and the reference one after the other, in reversed order every other round, "
        "so that machine drift hits both. Figures are medians over rounds; ratios are "
        "slychat / reference measured in the same session (throughput: higher is better; "
        "latency, CPU and memory: lower is better).\n"
    )
    report.add(
        f"- Load: the shared `loadgen.js` (one node process; socket.io-client over websocket), "
        f"{closed.pairs} customer/vendor pairs. Closed loop: one message in flight per pair, "
        f"{closed.messages} per pair ({closed.pairs * closed.messages:,} messages). Open loop "
        f"(paced): {paced}.\n"
        "- CPU per message: user + system time from `/proc/<pid>/stat` over the load "
        "generator's measured window (its connect phase excluded), for the server (all its "
        "processes) and for the load generator.\n"
        f"- Memory: the shared `idle-mem.js`, {idle.users:,} users, the server's RSS growth "
        "per user.\n"
        "- slychat: `slychat serve`, `SLYCHAT_LOG_LEVEL=error`, **rate limits off for load "
        "tests** (`SLYCHAT_RATE_LIMITS=off`). Reference: `node-ref/server.js` (Node + "
        "socket.io 4; better-sqlite3 in WAL mode, or pg). Two workers: "
        "`slychat serve --workers 2` with Redis (a fresh key prefix per run), on PostgreSQL "
        "and on SQLite, each compared with one slychat process on the same database and with "
        "the reference (one process).\n"
    )
    if sizes.runs < 3:
        report.add("**Smoke run** (`--quick`): one round, small sizes; not figures to quote.\n")


def _throughput(
    report: Report, variants: Sequence[Variant], med: Table, runs: Sequence[Run]
) -> None:
    report.add("### Throughput: closed loop, delivered msgs/s\n")
    rows = []
    for v in variants:
        if v.reference and "closed" in v.loads:
            r = v.reference
            rows.append(
                [
                    v.label + (" (reference: 1 process)" if v.workers > 1 else ""),
                    _both(med, v.key, r, "closed", "throughput", ",.0f"),
                    _ratio(med, v.key, r, "closed", "throughput"),
                    _both(med, v.key, r, "closed", "server_cpu_us_per_msg", ",.0f"),
                    _both(med, v.key, r, "closed", "loadgen_cpu_us_per_msg", ",.0f"),
                    _both(med, v.key, r, "closed", "server_cores", ".2f"),
                    _both(med, v.key, r, "closed", "loadgen_cores", ".2f"),
                    _both(med, v.key, r, "closed", "other_cores", ".2f"),
                    _both(med, v.key, r, "closed", "p50_ms", ".1f"),
                ]
            )
    report.table(
        [
            "set-up",
            "msgs/s slychat / ref",
            "slychat / ref",
            "server CPU µs/msg",
            "loadgen CPU µs/msg",
            "server cores used",
            "loadgen cores used",
            "other cores busy",
            "p50 ms",
        ],
        rows,
    )
    for v in variants:
        if v.baseline:
            ratio = _ratio(med, v.key, v.baseline, "closed", "throughput")
            both = _both(med, v.key, v.baseline, "closed", "throughput", ",.0f")
            report.add(
                f"{v.label}: {ratio} x the throughput of one slychat process on the same "
                f"database in the same rounds ({both} msgs/s). {_cores_by_process(v, runs)}\n"
            )
    for v in variants:
        if v.successor:
            now = v.successor
            report.add(
                f"{v.label}: this tree / that revision, same rounds: throughput "
                f"{_ratio(med, now, v.key, 'closed', 'throughput')} "
                f"({_both(med, now, v.key, 'closed', 'throughput', ',.0f')} msgs/s), server CPU "
                f"per message {_ratio(med, now, v.key, 'closed', 'server_cpu_us_per_msg')} "
                f"({_both(med, now, v.key, 'closed', 'server_cpu_us_per_msg', ',.0f')} µs); "
                f"against the reference {_ratio(med, now, v.reference, 'closed', 'throughput')}"
                f" now, {_ratio(med, v.key, v.reference, 'closed', 'throughput')} then.\n"
            )


def _cores_by_process(variant: Variant, runs: Sequence[Run]) -> str:
    """How a multi-process server's CPU was shared among its processes, run by run."""
    splits = [
        " + ".join(f"{cores:.2f}" for cores in run.result["server_cores_by_process"].values())
        for run in runs
        if run.variant == variant.key and "server_cores_by_process" in run.result
    ]
    return f"Cores used by its processes (supervisor first), per run: {'; '.join(splits)}."


def _latency(
    report: Report, variants: Sequence[Variant], plan: dict[str, Load], med: Table
) -> None:
    report.add("### Latency at a steady rate (open loop), SQLite\n")
    rows, notes = [], []
    for v in variants:
        for load in (plan[key] for key in v.loads if plan[key].rate):
            if not v.reference:
                continue
            r, k = v.reference, load.key
            rows.append(
                [
                    f"{load.rate:,} msgs/s",
                    f"{_ms(_get(med, v.key, k, 'p50_ms'))} / {_ms(_get(med, r, k, 'p50_ms'))}",
                    _ratio(med, v.key, r, k, "p50_ms"),
                    f"{_ms(_get(med, v.key, k, 'p99_ms'))} / {_ms(_get(med, r, k, 'p99_ms'))}",
                    _ratio(med, v.key, r, k, "p99_ms"),
                    _both(med, v.key, r, k, "throughput", ",.0f"),
                    _both(med, v.key, r, k, "server_cpu_us_per_msg", ",.0f"),
                    _both(med, v.key, r, k, "loadgen_cpu_us_per_msg", ",.0f"),
                ]
            )
            for name, key in (("slychat", v.key), ("the reference", r)):
                delivered = _get(med, key, k, "throughput")
                if delivered is not None and delivered < KEPT_UP * load.rate:
                    notes.append(
                        f"- {name} did not keep up with {load.rate:,} msgs/s (delivered "
                        f"{delivered:,.0f} msgs/s): its latencies include the backlog that "
                        "built up during the run."
                    )
    report.table(
        [
            "rate",
            "p50 ms slychat / ref",
            "p50 ratio",
            "p99 ms slychat / ref",
            "p99 ratio",
            "delivered msgs/s",
            "server CPU µs/msg",
            "loadgen CPU µs/msg",
        ],
        rows,
    )
    if notes:
        report.add("\n".join(notes) + "\n")


def _memory(report: Report, variants: Sequence[Variant], plan: dict[str, Load], med: Table) -> None:
    users = plan["idle"].users
    report.add(f"### Memory per idle connected user ({users:,} users)\n")
    rows = [
        [
            v.label,
            _both(med, v.key, v.reference, "idle", "kb_per_user", ".1f"),
            _ratio(med, v.key, v.reference, "idle", "kb_per_user"),
            _both(med, v.key, v.reference, "idle", "rss_after_kb", ",.0f"),
            _both(med, v.key, v.reference, "idle", "websockets_per_user", ".2f"),
        ]
        for v in variants
        if "idle" in v.loads and v.reference
    ]
    report.table(
        [
            "set-up",
            "KiB per user slychat / ref",
            "slychat / ref",
            "RSS with all connected, KiB",
            "websockets per user (counted)",
        ],
        rows,
    )
    report.add(
        "Each user connects `/presence` then `/chat`. The last column counts the sockets the "
        "server opened while the users connected (from `/proc/<pid>/fd`): `idle-mem.js` reuses "
        "socket.io-client's cached Manager for the first user only, so every other user holds "
        "two websockets (one per namespace) rather than one carrying both. Both servers get the "
        "same clients, so the ratio stands; the per-user figure is for that client.\n"
    )


def _correctness(report: Report, variants: Sequence[Variant], found: dict[str, Any]) -> bool:
    report.add("### Correctness under load: what was stored\n")
    report.add(
        "After each message run, the run's chats are read back from the server's database: "
        "every chat must hold seq 1..N with no gap, exactly the messages sent (the pairs' "
        "opening messages + pairs x messages), no (chat, clientMessageId) twice, and, ordered "
        "by seq, the loadgen's `b|<pair>:<n>` texts in the order they were sent. The "
        "reference is checked the same way, for comparison.\n"
    )
    rows, ok = [], True
    for v in variants:
        for load, c in found.get(v.key, {}).items():
            ok = ok and (c["ok"] or v.server != "slychat")
            rows.append(
                [
                    f"{v.server}, {v.label}",
                    load,
                    str(c["runs"]),
                    f"{c['stored']:,} / {c['expected']:,}",
                    *(str(c[k]) for k in ("seq_gaps", "missing", "duplicated", "reordered")),
                    "ok" if c["ok"] else "**FAILED**",
                ]
            )
    report.table(
        [
            "server",
            "load",
            "runs",
            "stored / expected",
            "chats with seq gaps",
            "missing",
            "duplicated",
            "chats reordered",
            "result",
        ],
        rows,
    )
    verdict = (
        "slychat stored every message exactly once, gapless and in order, in every checked run."
        if ok
        else "**slychat FAILED the check**: see the rows marked FAILED (raw counts in the JSON)."
    )
    report.add(verdict + "\n")
    return ok


def _saturation(report: Report, variants: Sequence[Variant], runs: Sequence[Run]) -> None:
    report.add("### Load generator and machine\n")
    labels = {v.key: f"{v.server} {v.label}" for v in variants}
    busy: dict[tuple[str, str], list[float]] = defaultdict(list)
    for run in runs:
        if run.result.get("loadgen_cores", 0.0) >= SATURATED:
            busy[(run.variant, run.load)].append(run.result["loadgen_cores"])
    if busy:
        where = "; ".join(
            f"{labels[variant]}, {load}: {len(cores)} run(s), up to {max(cores):.2f} cores"
            for (variant, load), cores in busy.items()
        )
        report.add(
            f"**The load generator saturates** (≥ {SATURATED} of a core; it is one node "
            f"process) in: {where}. There it, not the server, limits the rate: those "
            "throughputs are lower bounds for the server, and a slychat / reference ratio "
            "where only the reference's runs saturate overstates slychat.\n"
        )
    else:
        peak = max((run.result.get("loadgen_cores", 0.0) for run in runs), default=0.0)
        report.add(
            f"The load generator (one node process) stayed under {SATURATED} of a core in "
            f"every run (at most {peak:.2f}): it did not limit the figures.\n"
        )
    sqlite = {v.key for v in variants if v.backend == "sqlite"}
    noise = [
        r.result["other_cores"] for r in runs if r.variant in sqlite and "other_cores" in r.result
    ]
    spread = (
        f": median {statistics.median(noise):.2f}, up to {max(noise):.2f} cores" if noise else ""
    )
    report.add(
        f"This machine has {os.cpu_count()} cores, shared by the server, the load generator "
        "and the database servers. *Other cores busy* is the CPU that everything else used "
        "during a run: PostgreSQL (and Redis) in their runs, and any other work on the "
        f"machine. On the SQLite runs it is noise{spread}.\n"
    )


def _failures(report: Report, runs: Sequence[Run]) -> None:
    failed = [run for run in runs if run.error]
    if failed:
        report.add(f"### Failed runs ({len(failed)}, left out of the medians)\n")
        report.add(
            "\n".join(f"- round {r.round + 1}, {r.variant}, {r.load}: {r.error}" for r in failed)
            + "\n"
        )


# ---------- chart ----------


def _spread(runs: Sequence[Run], variant: str, load: str, metric: str) -> tuple[float, float]:
    values = [
        float(r.result[metric])
        for r in runs
        if r.variant == variant and r.load == load and not r.error and metric in r.result
    ]
    return (min(values), max(values)) if values else (0.0, 0.0)


def _bars(
    axis: Any,
    labels: list[str],
    series: dict[str, list[tuple[str, str, str]]],
    med: Table,
    runs: Sequence[Run],
) -> None:
    """Grouped bars, one group per label, one bar per series; whiskers span min..max of runs."""
    width = 0.8 / len(series)
    for n, (name, cells) in enumerate(series.items()):
        xs = [i + (n - (len(series) - 1) / 2) * width for i in range(len(labels))]
        heights = [_get(med, v, load, metric) or 0.0 for v, load, metric in cells]
        spreads = [_spread(runs, v, load, metric) for v, load, metric in cells]
        yerr = [
            [max(0.0, h - lo) for h, (lo, _) in zip(heights, spreads, strict=True)],
            [max(0.0, hi - h) for h, (_, hi) in zip(heights, spreads, strict=True)],
        ]
        bars = axis.bar(xs, heights, width, yerr=yerr, capsize=3, label=name)
        axis.bar_label(bars, labels=[_short_number(h) for h in heights], fontsize=8, padding=2)
    axis.set_xticks(range(len(labels)), labels, fontsize=8)
    axis.legend(fontsize=8)


def chart(
    variants: Sequence[Variant], plan: dict[str, Load], med: Table, runs: Sequence[Run]
) -> Callable[[Path], None]:
    compared = [v for v in variants if v.reference and "closed" in v.loads]
    paced = [(v, plan[k]) for v in variants if v.reference for k in v.loads if plan[k].rate]
    cells = [(v, load, p) for v, load in paced for p in ("p50_ms", "p99_ms")]

    def caption(head: str, mine: str, theirs: str, load: str, metric: str) -> str:
        return f"{head}\nslychat / ref: {_ratio_text(_ratio_of(med, mine, theirs, load, metric))}"

    def draw(path: Path) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib import ticker

        fig, (left, right) = plt.subplots(1, 2, figsize=(14, 5.5))
        _bars(
            left,
            [
                caption(v.label.replace(", ", ",\n"), v.key, v.reference, "closed", "throughput")
                for v in compared
            ],
            {
                "slychat": [(v.key, "closed", "throughput") for v in compared],
                "reference (1 process)": [(v.reference, "closed", "throughput") for v in compared],
            },
            med,
            runs,
        )
        left.set_title("Closed loop throughput (msgs/s, higher is better)")
        _bars(
            right,
            [
                caption(f"{p[:3]} at {load.rate:,}/s", v.key, v.reference, load.key, p)
                for v, load, p in cells
            ],
            {
                "slychat": [(v.key, load.key, p) for v, load, p in cells],
                "reference": [(v.reference, load.key, p) for v, load, p in cells],
            },
            med,
            runs,
        )
        right.set_yscale("log")
        plain = ticker.FuncFormatter(lambda value, _pos: f"{value:g}")
        low, high = right.get_ylim()
        right.yaxis.set_major_formatter(plain)
        right.yaxis.set_minor_formatter(plain if high / low < 100 else ticker.NullFormatter())
        right.set_title("Open loop latency, SQLite (ms, log scale, lower is better)")
        fig.suptitle("slychat vs the Node.js reference: medians, whiskers min..max of runs")
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)

    return draw


# ---------- the whole ----------


def write(
    report: Report,
    sizes: Sizes,
    plan: dict[str, Load],
    variants: Sequence[Variant],
    runs: Sequence[Run],
) -> bool:
    """Add the yardstick's sections, raw data and chart to `report`; False when slychat failed
    the stored-messages check or a run failed."""
    med, found = medians(runs), checks(runs)
    _method(report, sizes, plan)
    _throughput(report, variants, med, runs)
    _latency(report, variants, plan, med)
    _memory(report, variants, plan, med)
    ok = _correctness(report, variants, found)
    _saturation(report, variants, runs)
    _failures(report, runs)
    draw = chart(variants, plan, med, runs)
    report.chart("yardstick", "throughput and latency, slychat vs reference", draw)
    report.add(f"Raw runs, medians and ratios: `{report.path('.json').name}`.\n")
    report.data["yardstick"] = {
        "sizes": asdict(sizes),
        "loads": {key: asdict(load) for key, load in plan.items()},
        "variants": [asdict(v) for v in variants],
        "runs": [asdict(run) for run in runs],
        "medians": med,
        "ratios": ratios(variants, med),
        "checks": found,
        "slychat_checks_ok": ok,
    }
    return ok and not any(run.error for run in runs)
