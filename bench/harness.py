"""What every benchmark shares: a private system to measure, result rows, the table, JSON."""

import json
import os
import platform
import random
import socket
import statistics
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from services.common import localrun, sandbox
from services.common.config import REPO_ROOT, load_config

RESULTS_DIR = REPO_ROOT / "bench" / "results"


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
        self.name = f"bancheng_bench_{label}_{uuid.uuid4().hex[:6]}"

    def __enter__(self):
        base = self.config
        self.database_url = sandbox.create_database(base["DATABASE_URL"], self.name)
        self.amqp_uri = sandbox.create_vhost(
            base["AMQP_URI"], base["RABBIT_MANAGEMENT_URL"], self.name
        )
        return self

    def __exit__(self, *exc):
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


def free_port_block(size: int = 40) -> int:
    """The first port of ``size`` consecutive ports nobody listens on (runs may overlap)."""
    rng = random.Random()
    for _ in range(200):
        # below Linux's ephemeral range (32768+), where outgoing connections take ports, and
        # apart from the test system's 20000-29999
        base = rng.randrange(10000, 20000 - size)
        sockets = []
        try:
            for port in range(base, base + size):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no block of free ports found")


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident set (VmHWM) in MiB, from /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


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


class Stopwatch:
    def __enter__(self):
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.started
        return False
