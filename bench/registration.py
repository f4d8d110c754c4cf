"""Registration end to end: HTTP → intake → commit + event → every consumer done.

Bancheng's front door and services run as real ``nameko run`` processes, as ``make up`` starts
them; beside them, in the same run, a bare nameko HTTP → RPC → event loop with three consumers
(``bench.baseline_services``). A request counts as done when all three consumers have
committed: each announces it with ``pg_notify`` (Bancheng's through a benchmark-only trigger on
their timeline tables), and one LISTEN connection hears it.
"""

import threading
import time
import uuid

import psycopg
import requests
from stdnum.cn import ric

from bench.harness import (
    Row,
    concurrently,
    cpu_by_process,
    cpu_seconds,
    peak_rss_mb,
    running_system,
    summarize_latencies,
    whole_system,
)
from tools import localrun

CONSUMERS = 3
# DESIGN §6: p99 at 50 clients at most twice the bare loop's (whose own is ≈400 ms on 2 cores)
P99_FACTOR = 2
BANCHENG = frozenset(process.name for process in whole_system(0))
SMALL = {"levels": ((1, 3), (2, 2))}
NOTIFY_TRIGGERS = """
CREATE OR REPLACE FUNCTION public.bench_notify_done() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('bench_done', TG_TABLE_SCHEMA || ':' || NEW.case_no);
    RETURN NEW;
END $$ LANGUAGE plpgsql;
"""


class Completions:
    """Hears ``bench_done`` notifications and wakes whoever waits for a key."""

    def __init__(self, database_url: str):
        self._seen: dict[str, set] = {}
        self._cond = threading.Condition()
        self._conn = psycopg.connect(database_url, autocommit=True)
        self._conn.execute("LISTEN bench_done")
        self._running = True
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def _listen(self):
        while self._running:
            for notify in self._conn.notifies(timeout=0.2):
                source, _, key = notify.payload.partition(":")
                with self._cond:
                    self._seen.setdefault(key, set()).add(source)
                    self._cond.notify_all()

    def wait(self, key: str, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._seen.get(key, ())) < CONSUMERS:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            del self._seen[key]
        return True

    def close(self):
        self._running = False
        self._thread.join(timeout=2)
        self._conn.close()


def _run_clients(
    clients: int, requests_per_client: int, send_one
) -> tuple[list[float], float, int]:
    """``clients`` threads each send ``requests_per_client`` requests one after another."""
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()

    def client():
        session = requests.Session()
        for _ in range(requests_per_client):
            started = time.perf_counter()
            ok = send_one(session)
            elapsed = time.perf_counter() - started
            with lock:
                if ok:
                    latencies.append(elapsed)
                else:
                    failures[0] += 1

    seconds = concurrently(client, clients)
    return latencies, seconds, failures[0]


def _id_number(seed: int) -> str:
    base = f"3201021980{seed % 12 + 1:02d}{seed % 28 + 1:02d}{seed % 1000:03d}"
    return base + ric.calc_check_digit(base + "0")


def _bancheng_sender(api: str, token: str, completions: Completions):
    def send(session) -> bool:
        seed = uuid.uuid4().int
        response = session.post(
            f"{api}/cases",
            json={
                "site": "HALL",
                "window": "W01",
                "matter": "M001",
                "department": "SCJ",
                "channel": "window",
                "applicant": {
                    "kind": "person",
                    "name": "压测",
                    "id_number": _id_number(seed),
                    "phone": "13912345678",
                },
                "description": "基准测试登记",
                "first_receiver": "S0001",
            },
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        return response.status_code == 201 and completions.wait(response.json()["case_no"])

    return send


def _baseline_sender(url: str, completions: Completions):
    def send(session) -> bool:
        key = uuid.uuid4().hex
        response = session.post(url, data=key, timeout=30)
        return response.status_code == 201 and completions.wait(key)

    return send


BASELINE_PLAN_NAMES = (
    "baseline_gateway",
    "baseline_intake",
    "baseline_consumer_a",
    "baseline_consumer_b",
    "baseline_consumer_c",
)
BASELINE_OFFSET = 20  # the baseline's processes listen from base_port + 20 (its gateway first)


def with_baseline(base_port: int) -> list[localrun.Process]:
    """Bancheng's processes and, beside them, the bare loop's."""
    return whole_system(base_port) + [
        localrun.Process(
            name,
            f"bench.baseline_services:{_class_name(name)}",
            base_port + BASELINE_OFFSET + index,
        )
        for index, name in enumerate(BASELINE_PLAN_NAMES)
    ]


def notify_when_done(database_url: str) -> None:
    """Have each of Bancheng's consumers announce, on commit, the case it has handled."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(NOTIFY_TRIGGERS)
        for schema in ("coordination", "accountability", "reporting"):
            conn.execute(
                f"CREATE TRIGGER bench_done AFTER INSERT ON {schema}.timeline FOR EACH ROW "
                "WHEN (NEW.kind IN ('opened', 'first_receiver', 'counted')) "
                "EXECUTE FUNCTION public.bench_notify_done()"
            )


def run(levels=((1, 100), (10, 50), (50, 20)), base_port: int | None = None) -> list[Row]:
    """Measure both systems at each (clients, requests per client) level."""
    rows: list[Row] = []
    with running_system(
        "registration",
        processes=with_baseline,
        prepare=notify_when_done,
        environment={"MAX_WORKERS": "50"},
        base_port=base_port,
    ) as system:
        completions = Completions(system.database_url)
        try:
            token = system.login("hall.staff")
            bancheng = _bancheng_sender(system.api, token, completions)
            baseline_url = f"http://127.0.0.1:{system.port('baseline_gateway')}/register"
            baseline = _baseline_sender(baseline_url, completions)
            # warm both up: connections, pools, queues
            _run_clients(4, 5, bancheng)
            _run_clients(4, 5, baseline)
            ours_pids = [system.pid(p.name) for p in system.processes if p.name in BANCHENG]
            base_pids = [system.pid(name) for name in BASELINE_PLAN_NAMES]
            for clients, per_client in levels:
                base_cpu = cpu_seconds(base_pids)
                base_lat, base_secs, base_fail = _run_clients(clients, per_client, baseline)
                base_cpu = cpu_seconds(base_pids) - base_cpu
                ours_cpu, by_process = cpu_seconds(ours_pids), cpu_by_process(system, BANCHENG)
                ours_lat, ours_secs, ours_fail = _run_clients(clients, per_client, bancheng)
                ours_cpu = cpu_seconds(ours_pids) - ours_cpu
                done = max(1, len(ours_lat) + ours_fail)
                by_process = {
                    name: round(1000 * (used - by_process[name]) / done, 2)
                    for name, used in cpu_by_process(system, BANCHENG).items()
                }
                ours, base = summarize_latencies(ours_lat), summarize_latencies(base_lat)
                throughput, base_throughput = len(ours_lat) / ours_secs, len(base_lat) / base_secs
                p99_limit = P99_FACTOR * base["p99_ms"]
                target = "ratio ≥ 0.5" + (
                    f", p99 ≤ {P99_FACTOR} × baseline" if clients == 50 else ""
                )
                met = throughput / base_throughput >= 0.5 and (
                    clients != 50 or ours["p99_ms"] <= p99_limit
                )
                rows.append(
                    Row(
                        "registration",
                        f"{clients:>2} clients: registrations/s",
                        throughput,
                        "1/s",
                        baseline=base_throughput,
                        baseline_name="bare nameko HTTP→RPC→event×3",
                        target=target,
                        met=met and not ours_fail,
                        notes={
                            "bancheng": ours,
                            "baseline": base,
                            "failures": ours_fail,
                            "baseline_failures": base_fail,
                        },
                    )
                )
                rows.append(
                    Row(
                        "registration",
                        f"{clients:>2} clients: p50 ms",
                        ours["p50_ms"],
                        "ms",
                        baseline=base["p50_ms"],
                    )
                )
                rows.append(
                    Row(
                        "registration",
                        f"{clients:>2} clients: p99 ms",
                        ours["p99_ms"],
                        "ms",
                        baseline=base["p99_ms"],
                        target=f"≤ {P99_FACTOR} × baseline" if clients == 50 else "",
                        met=(ours["p99_ms"] <= p99_limit) if clients == 50 else None,
                    )
                )
                rows.append(
                    Row(
                        "registration",
                        f"{clients:>2} clients: CPU ms/registration",
                        1000 * ours_cpu / max(1, len(ours_lat) + ours_fail),
                        "ms",
                        baseline=1000 * base_cpu / max(1, len(base_lat) + base_fail),
                        baseline_name="the bare loop's five processes",
                        notes={"ms_by_process": by_process, "excludes": "PostgreSQL, RabbitMQ"},
                    )
                )
            for process in system.processes:
                rss = peak_rss_mb(system.pid(process.name))
                if rss is not None:
                    rows.append(Row("memory", f"peak RSS {process.name}", rss, "MiB"))
        finally:
            completions.close()
    return rows


def _class_name(process_name: str) -> str:
    return "".join(part.capitalize() for part in process_name.split("_"))
