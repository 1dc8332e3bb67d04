"""What the yardstick runs and records: the sizes of a run, the loads, the server set-ups
(variants) compared, and one measured run."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

PAIRS = 100
RATES = (300, 1000)


@dataclass(frozen=True)
class Sizes:
    runs: int
    closed_messages: int  # per pair
    paced_seconds: float
    idle_users: int


FULL = Sizes(runs=3, closed_messages=200, paced_seconds=6, idle_users=5_000)
QUICK = Sizes(runs=1, closed_messages=20, paced_seconds=2, idle_users=500)


@dataclass(frozen=True)
class Load:
    key: str
    label: str
    pairs: int = PAIRS
    messages: int = 0  # per pair
    rate: int = 0  # total msgs/s, open loop; 0 is closed loop (one in flight per pair)
    users: int = 0  # idle users (idle-mem.js) instead of messages

    def loadgen_args(self, base: int) -> list[str]:
        args = ["--pairs", str(self.pairs), "--messages", str(self.messages)]
        return [*args, "--id-base", str(base), *(["--rate", str(self.rate)] if self.rate else [])]


def loads(sizes: Sizes) -> dict[str, Load]:
    closed = Load(
        "closed",
        f"closed loop, {PAIRS} pairs x {sizes.closed_messages}",
        PAIRS,
        sizes.closed_messages,
    )
    paced = [
        Load(
            f"paced-{rate}",
            f"open loop, {rate:,} msgs/s",
            messages=max(1, round(rate * sizes.paced_seconds / PAIRS)),
            rate=rate,
        )
        for rate in RATES
    ]
    idle = Load("idle", f"{sizes.idle_users:,} idle users", pairs=0, users=sizes.idle_users)
    return {load.key: load for load in (closed, *paced, idle)}


@dataclass(frozen=True)
class Variant:
    """A server set-up and the loads run on it (each on one server, one fresh database)."""

    key: str
    server: str  # "slychat" or "reference"
    backend: str  # "sqlite" or "postgres"
    loads: tuple[str, ...]
    label: str
    workers: int = 1
    reference: str = ""  # the variant it is compared with
    baseline: str = ""  # and the one-process slychat it scales from
    source: str = ""  # slychat from this `src/` directory (an earlier revision), not this tree's
    successor: str = ""  # the variant of this tree it is the earlier revision of


SQLITE_LOADS = ("closed", *(f"paced-{rate}" for rate in RATES))
# Each group's variants run one after the other (in reverse order every other round).
GROUPS = (
    (
        Variant("reference-sqlite", "reference", "sqlite", SQLITE_LOADS, "SQLite"),
        Variant(
            "slychat-sqlite",
            "slychat",
            "sqlite",
            SQLITE_LOADS,
            "SQLite",
            reference="reference-sqlite",
        ),
        Variant(
            "slychat-sqlite-2w",
            "slychat",
            "sqlite",
            ("closed",),
            "SQLite, 2 workers + Redis",
            workers=2,
            reference="reference-sqlite",
            baseline="slychat-sqlite",
        ),
    ),
    (
        Variant("reference-postgres", "reference", "postgres", ("closed",), "PostgreSQL"),
        Variant(
            "slychat-postgres",
            "slychat",
            "postgres",
            ("closed",),
            "PostgreSQL",
            reference="reference-postgres",
        ),
        Variant(
            "slychat-postgres-2w",
            "slychat",
            "postgres",
            ("closed",),
            "PostgreSQL, 2 workers + Redis",
            workers=2,
            reference="reference-postgres",
            baseline="slychat-postgres",
        ),
    ),
    (
        Variant("reference-idle", "reference", "sqlite", ("idle",), "idle users, SQLite"),
        Variant(
            "slychat-idle",
            "slychat",
            "sqlite",
            ("idle",),
            "idle users, SQLite",
            reference="reference-idle",
        ),
    ),
)


def with_revision(
    groups: tuple[tuple[Variant, ...], ...], revision: str, source: str
) -> tuple[tuple[Variant, ...], ...]:
    """`groups`, each group's one-process slychat closed loop also run on slychat at
    `revision` (its `src/` in `source`), beside this tree's in the same rounds."""
    out = []
    for group in groups:
        earlier = [
            replace(
                v,
                key=f"{v.key}-at-{revision}",
                loads=("closed",),
                label=f"{v.label}, slychat at {revision}",
                source=source,
                successor=v.key,
            )
            for v in group
            if v.server == "slychat" and v.workers == 1 and "closed" in v.loads
        ]
        out.append((*group, *earlier))
    return tuple(out)


@dataclass
class Run:
    round: int
    variant: str
    load: str
    result: dict[str, Any] = field(default_factory=dict)  # the tool's JSON + what we measured
    check: dict[str, Any] | None = None  # bench.delivery.Check, for message loads
    error: str | None = None
