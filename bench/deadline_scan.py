"""The deadline clock over many open deadlines: finding what is due soon and overdue.

Open deadlines are generated from a seed and loaded with COPY into coordination's table; the
real coordination service runs as a process (its own timer slowed down so it stays out of the
way) and the benchmark calls its ``scan_deadlines`` RPC — the same code the timer runs:

* a steady-state scan, when nothing new is due (what every tick of the clock costs);
* a scan that finds and breaches a batch of overdue deadlines (and writes their events);

each at few and at many open deadlines, the few being the baseline (no growth is the target).
"""

import random
import time
from datetime import UTC, datetime, timedelta
from statistics import median

import psycopg

from bench.harness import Row, running_system
from services.common.rpc import SignedClusterRpcProxy
from tools import localrun

SMALL = {"sizes": (100, 1_000), "overdue": 20, "repeats": 3}
COLUMNS = ("case_no", "kind", "stage", "working_days", "due_at", "warn_at", "department", "site")


def load_open_deadlines(database_url: str, count: int, *, seed: int, first: int) -> None:
    """COPY ``count`` open deadlines due over the next weeks (none due yet)."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    with psycopg.connect(database_url) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY coordination.deadlines ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for number in range(first, first + count):
                due = now + timedelta(days=2 + rng.random() * 40)
                copy.write_row(
                    (
                        f"BENCH-{number:08d}",
                        "reply",
                        "reply",
                        3,
                        due,
                        due - timedelta(days=1),
                        rng.choice(("SPJ", "RSJ", "SCJ", "FCJ")),
                        rng.choice(("HALL", "XJK", "RS")),
                    )
                )
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE coordination.deadlines")


def make_overdue(database_url: str, count: int) -> None:
    """Move ``count`` open deadlines into the past, as the clock would find them."""
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "UPDATE coordination.deadlines SET due_at = now() - interval '1 hour', "
            "warn_at = now() - interval '1 day' WHERE id IN (SELECT id FROM coordination.deadlines "
            "WHERE breached_at IS NULL AND met_at IS NULL ORDER BY id LIMIT %s)",
            (count,),
        )


def coordination_only(base_port: int) -> list[localrun.Process]:
    return [
        localrun.Process(
            "coordination", "services.coordination.service:CoordinationService", base_port
        )
    ]


def _timed_scan(rpc) -> tuple[float, dict]:
    started = time.perf_counter()
    result = rpc.coordination.scan_deadlines()
    return time.perf_counter() - started, result


def run(
    sizes=(1_000, 1_000_000),
    overdue: int = 200,
    repeats: int = 20,
    seed: int = 20261129,
    base_port: int | None = None,
) -> list[Row]:
    rows: list[Row] = []
    steady, breach = {}, {}
    with running_system(
        "deadlines",
        processes=coordination_only,
        seed=False,
        environment={"DEADLINE_SCAN_SECONDS": "3600"},  # its own timer stays out of the way
        base_port=base_port,
    ) as system:
        with SignedClusterRpcProxy(system.nameko_config()) as rpc:
            loaded = 0
            for size in sizes:
                load_open_deadlines(
                    system.database_url, size - loaded, seed=seed + size, first=loaded
                )
                loaded = size
                _timed_scan(rpc)  # warm up
                scans = [_timed_scan(rpc) for _ in range(repeats)]
                assert all(result == {"warned": 0, "breached": 0} for _, result in scans)
                steady[size] = median(seconds for seconds, _ in scans)
                make_overdue(system.database_url, overdue)
                seconds, result = _timed_scan(rpc)
                assert result["breached"] == overdue, result  # each overdue one, once
                breach[size] = seconds
    few, many = sizes[0], sizes[-1]
    rows.append(
        Row(
            "deadlines",
            f"scan, nothing due, {many:,} open (ms)",
            steady[many] * 1000,
            "ms",
            baseline=steady[few] * 1000,
            baseline_name=f"same at {few:,} open",
            target="≤ 50 ms",
            met=steady[many] <= 0.05,
        )
    )
    rows.append(
        Row(
            "deadlines",
            f"scan breaching {overdue}, {many:,} open (ms)",
            breach[many] * 1000,
            "ms",
            baseline=breach[few] * 1000,
            baseline_name=f"same at {few:,} open",
            target="≤ 50 ms to find",
            met=None,
            notes={"includes": "writing each breach event"},
        )
    )
    return rows
