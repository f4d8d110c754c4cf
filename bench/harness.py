"""What every benchmark shares: a running system to measure, result rows, the table, JSON.

Every benchmark measures inside :func:`running_system`, which does the one sequence they all
need — a database and a vhost of their own (:class:`Sandbox`), the demo district seeded, the
processes started and healthy — and undoes it however the block ends (an error, Ctrl-C, or the
SIGTERM ``python -m bench`` turns into an exit)::

    with running_system("ratings") as system:
        token = system.login("operator")
        requests.post(f"{system.api}/feedback/ratings:batch", ...)
"""

import json
import os
import platform
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import requests

from services.common.config import REPO_ROOT, load_config
from services.intake.seed import load_seed
from tools import localrun, private_infra, sandbox

RESULTS_DIR = REPO_ROOT / "bench" / "results"
SEED_DIR = REPO_ROOT / "deploy" / "seed" / "xuanwu"
GATEWAY_OFFSET = 9  # the front door's port is base_port + 9, the services' base_port + 1..5
HEALTHY_TIMEOUT_SECONDS = 90
# set by bench.cluster while it measures: the broker every running_system's processes use
# instead of the sandbox's vhost (the three-node cluster's AMQP_URI list and its management API)
BROKER_ENVIRONMENT: dict[str, str] = {}


@dataclass
class Row:
    """One measured figure, its baseline from the same run, and the target it answers to."""

    benchmark: str
    metric: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    target: str = ""
    met: bool | None = None
    notes: dict = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.value / self.baseline


def percentile(samples: list[float], share: float) -> float:
    """Nearest-rank percentile (``share`` in 0..1) of ``samples``."""
    ordered = sorted(samples)
    index = max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))
    return ordered[index]


def summarize_latencies(samples: list[float]) -> dict:
    return {
        "n": len(samples),
        "p50_ms": percentile(samples, 0.50) * 1000,
        "p99_ms": percentile(samples, 0.99) * 1000,
        "mean_ms": statistics.fmean(samples) * 1000,
    }


class Sandbox:
    """A database and vhost of the benchmark's own, removed at the end."""

    def __init__(self, label: str):
        self.config = load_config()
        self.name = sandbox.sandbox_name(f"bench_{label}")

    def __enter__(self):
        base = self.config
        sandbox.sweep_stale(base["DATABASE_URL"], base["RABBIT_MANAGEMENT_URL"])
        self.database_url = sandbox.create_database(base["DATABASE_URL"], self.name)
        self.own_vhost = not BROKER_ENVIRONMENT.get("AMQP_URI")
        if not self.own_vhost:  # bench.cluster's private broker, nobody else's
            self.amqp_uri = BROKER_ENVIRONMENT["AMQP_URI"]
            return self
        try:
            self.amqp_uri = sandbox.create_vhost(
                base["AMQP_URI"], base["RABBIT_MANAGEMENT_URL"], self.name
            )
        except BaseException:
            sandbox.drop_database(self.database_url)
            raise
        return self

    def __exit__(self, *exc):
        if self.own_vhost:
            sandbox.delete_vhost(self.config["RABBIT_MANAGEMENT_URL"], self.name)
        sandbox.drop_database(self.database_url)
        return False

    def environment(self, **extra: str) -> dict:
        """The environment of the service processes that serve this sandbox."""
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "AMQP_URI": self.amqp_uri,
            "PYTHONWARNINGS": localrun.QUIET_WARNINGS,
            **extra,
        }

    def nameko_config(self) -> dict:
        return {**self.config, "DATABASE_URL": self.database_url, "AMQP_URI": self.amqp_uri}


def concurrently(client: Callable[[], None], clients: int) -> float:
    """Run ``client`` in ``clients`` threads at once; the seconds until the last one ended."""
    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


# below Linux's ephemeral range (32768+), where outgoing connections take ports, and apart from
# the test systems' 20000-29999 and the drills' 30000+
BENCH_PORTS = (10000, 20000)


def free_port_block(size: int = 40) -> int:
    """The first port of ``size`` consecutive ports nobody listens on (runs may overlap)."""
    return private_infra.free_port_block(size, BENCH_PORTS)[0]


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident set (VmHWM) in MiB, from /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU the processes ``pids`` have used so far (from /proc, in seconds)."""
    ticks = 0
    for pid in pids:
        try:
            # the fields after the command's ")": state is the first, utime the 12th, stime 13th
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def cpu_by_process(system, names) -> dict[str, float]:
    """CPU seconds each of the started processes ``names`` has used so far."""
    return {name: cpu_seconds([system.pid(name)]) for name in names}


def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "processor": platform.processor() or platform.machine(),
    }


def print_table(rows: list[Row]) -> None:
    header = f"{'benchmark':<14} {'metric':<34} {'value':>12} {'baseline':>12} {'ratio':>7}  target"
    print(header)
    print("-" * len(header))
    for row in rows:
        baseline = f"{row.baseline:12.2f}" if row.baseline is not None else " " * 12
        ratio = f"{row.ratio:7.2f}" if row.ratio is not None else " " * 7
        verdict = "" if row.met is None else (" ✓" if row.met else " ✗")
        print(
            f"{row.benchmark:<14} {row.metric:<34} {row.value:12.2f} {baseline} {ratio}  {row.target}{verdict}"
        )


def write_results(rows: list[Row], label: str = "latest") -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    document = {
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": machine(),
        "rows": [{**asdict(row), "ratio": row.ratio} for row in rows],
    }
    path = RESULTS_DIR / f"{label}.json"
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2))
    return path


def whole_system(base_port: int) -> list[localrun.Process]:
    """Every Bancheng process, as ``make up`` runs them, on ports from ``base_port``."""
    return localrun.processes(base_port, base_port + GATEWAY_OFFSET)


@dataclass
class RunningSystem:
    """The processes a benchmark started, in its sandbox, and how to reach them."""

    box: Sandbox
    base_port: int
    run_dir: Path
    processes: list[localrun.Process]
    _running: bool = True

    @property
    def database_url(self) -> str:
        return self.box.database_url

    @property
    def api(self) -> str:
        """The front door's JSON API."""
        return f"http://127.0.0.1:{self.port('gateway')}/api/v1"

    def port(self, name: str) -> int:
        """The HTTP port of the started process ``name`` (``gateway``, ``reporting``, ...)."""
        return next(process.port for process in self.processes if process.name == name)

    def pid(self, name: str) -> int:
        return int((self.run_dir / f"{name}.pid").read_text())

    def nameko_config(self) -> dict:
        """A config for nameko's standalone RPC proxy into this system."""
        return self.box.nameko_config()

    def login(self, username: str, password: str = "demo") -> str:
        """A bearer token of a seeded user, from the front door."""
        response = requests.post(
            f"{self.api}/auth/login", json={"username": username, "password": password}, timeout=10
        )
        response.raise_for_status()
        return response.json()["token"]

    def stop(self) -> None:
        """Stop the processes now, keeping the sandbox (for a baseline measured without them)."""
        if self._running:
            self._running = False
            localrun.stop(self.run_dir)


@contextmanager
def running_system(
    label: str,
    *,
    processes: Callable[[int], list[localrun.Process]] = whole_system,
    seed: bool = True,
    prepare: Callable[[str], None] | None = None,
    environment: dict[str, str] | None = None,
    base_port: int | None = None,
) -> Iterator[RunningSystem]:
    """A sandbox, seeded with the demo district unless ``seed`` is False, ``prepare(database_url)``
    run on it (triggers, tables a benchmark needs), then ``processes(base_port)`` started with
    ``environment`` added and healthy; stopped and dropped when the block ends."""
    base_port = base_port or free_port_block()
    with Sandbox(label) as box:
        if seed:
            load_seed(box.database_url, SEED_DIR, demo_logins=True)
        if prepare is not None:
            prepare(box.database_url)
        run_dir = Path(tempfile.mkdtemp(prefix=f"bench-{label}-"))
        started = localrun.start(
            run_dir,
            box.environment(**{**(environment or {}), **BROKER_ENVIRONMENT}),
            plan=processes(base_port),
        )
        system = RunningSystem(box, base_port, run_dir, started)
        try:
            localrun.wait_healthy(started, timeout=HEALTHY_TIMEOUT_SECONDS)
            yield system
        finally:
            system.stop()
