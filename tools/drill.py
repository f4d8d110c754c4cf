"""``make drill``: faults under registration load, on a system of its own, and what survived.

The drilled system runs on a private RabbitMQ node and a private PostgreSQL cluster
(:mod:`tools.private_infra`), never on the machine's shared ones, under the same supervisor as
``make up`` (:mod:`tools.localrun`). Each drill puts registration load on the front
door from several clients, injects its fault, lets every consumer settle, and counts
(:mod:`tools.drill_report`): acknowledged, refused (503), lost, duplicated, other 5xx, hung
requests, the longest request, and whether every process is alive — the same process after a
broker or database fault, a new one (restarted by the supervisor) only after ``kill -9``.

    python -m tools.drill                 # every drill (a few minutes)
    python -m tools.drill --short         # broker restart + kill -9 of one service (make test)
    python -m tools.drill --only broker-restart --json out.json
    python -m tools.drill --only cluster-node-stopped   # on a three-node cluster (drill_cluster)
    python -m tools.drill --only site-link-cut          # + a site node linked to it (drill_network)

The exit status is non-zero when any drill found a loss, a duplicate, a non-503 5xx, a hang or
a dead process; the logs of the drilled system stay in ``run/drills/<time>/``.
"""

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from services.common.config import REPO_ROOT
from tools import drill_report, localrun
from tools.drill_report import Observed, Processes
from tools.load import RegistrationLoad, login
from tools.private_infra import PostgresCluster, RabbitNode, free_port_block, wait_until

RPC_TIMEOUT_SECONDS = 5.0
SETTLE_SECONDS = 60.0
# nothing new stored or consumed for this long: every late registration and event is in
QUIET_SECONDS = 2.0
HEALTHY_SECONDS = 60.0
DRILL_RUNS = REPO_ROOT / "run" / "drills"

# where each consumer records a registered case, and its timeline entry for it
CONSUMERS = {
    "coordination": ("coordination.cases", "opened"),
    "accountability": ("accountability.first_responsibility", "first_receiver"),
    "reporting": ("reporting.cases", "counted"),
}


@dataclass(frozen=True)
class Drill:
    name: str
    fault: str  # broker, database, kill, hang
    load_seconds: float
    fault_at: float  # seconds into the load
    target: str | None = None  # the process killed or hung
    outage_seconds: float = 0.0


def full_plan(processes: list[localrun.Process]) -> list[Drill]:
    from tools import drill_cluster, drill_network  # they build on this module

    return [
        Drill("broker-restart", "broker", 24, 4, outage_seconds=10),
        Drill("database-restart", "database", 16, 4, outage_seconds=5),
        *[Drill(f"kill-9 {p.name}", "kill", 9, 3, target=p.name) for p in processes],
        Drill("hung intake-1", "hang", 16, 3, "intake-1", RPC_TIMEOUT_SECONDS + 3),
        Drill("hung coordination", "hang", 16, 3, "coordination", RPC_TIMEOUT_SECONDS + 3),
        *drill_cluster.plan(),  # on the three-node cluster
        *drill_network.plan(),  # the cluster and a site node linked to it
    ]


def systems_for(plan: list[Drill], run_dir: Path) -> list[tuple[type, list[Drill], Path]]:
    """The drills of ``plan`` by the system they run on: (system class, drills, its run dir).
    A ``cluster-node`` drill runs on the three-node cluster (tools.drill_cluster), the others
    on one broker node."""
    from tools import drill_cluster, drill_network

    on_cluster = [drill for drill in plan if drill.fault in drill_cluster.FAULTS]
    on_network = [drill for drill in plan if drill.fault in drill_network.FAULTS]
    single = [drill for drill in plan if drill not in on_cluster + on_network]
    systems = [
        (DrilledSystem, single, run_dir),
        (drill_cluster.ClusterDrilledSystem, on_cluster, run_dir / "cluster"),
        (drill_network.NetworkDrilledSystem, on_network, run_dir / "network"),
    ]
    return [(system, drills, where) for system, drills, where in systems if drills]


def short_plan() -> list[Drill]:
    return [
        Drill("broker-restart", "broker", 10, 2, outage_seconds=4),
        Drill("kill-9 coordination", "kill", 6, 2, target="coordination"),
    ]


class DrilledSystem:
    """The whole system on a private broker node and database cluster, in one temp dir."""

    def __init__(self, run_dir: Path, clients: int):
        self.run_dir = run_dir
        self.clients = clients
        self.base_dir = Path(tempfile.mkdtemp(prefix="bancheng-drill-"))
        self.base_dir.chmod(0o755)  # the postgres user must reach its cluster below
        ports = free_port_block(20)
        self.node = RabbitNode(
            f"bancheng-drill-{os.getpid()}@localhost",
            amqp_port=ports[0],
            dist_port=ports[1],
            ctl_ports=(ports[2], ports[5]),
            base_dir=self.base_dir / "rabbitmq",
            # the management API: tools.localrun makes each service's broker user through it
            plugins=("rabbitmq_management",),
            config_lines=(f"management.tcp.port = {ports[7]}", "management.tcp.ip = 127.0.0.1"),
        )
        self.postgres = PostgresCluster(ports[6], self.base_dir / "postgres")
        self.processes = localrun.processes(base_port=ports[10], gateway_port=ports[19])
        self.api = f"http://127.0.0.1:{ports[19]}/api/v1"
        self.database_url = self.postgres.url("bancheng")
        self.env = {
            **os.environ,
            "AMQP_URI": self.node.amqp_uri,
            # the private node's administrator (guest, from 127.0.0.1 only) makes the users
            "RABBITMQ_ADMIN_URI": f"http://guest:guest@127.0.0.1:{ports[7]}/",
            "DATABASE_URL": self.database_url,
            "RPC_TIMEOUT_SECONDS": str(RPC_TIMEOUT_SECONDS),
            "PYTHONWARNINGS": localrun.QUIET_WARNINGS,
        }
        self.token = None

    def start(self) -> None:
        say(f"private RabbitMQ node {self.node.name} on {self.node.amqp_port}")
        self.node.start()
        say(f"private PostgreSQL cluster on {self.postgres.port}")
        self.postgres.start()
        localrun.prepare_database(self.env)
        localrun.start(self.run_dir, self.env, plan=self.processes)
        localrun.wait_healthy(self.processes, timeout=120)
        self.token = login(self.api)
        say(f"system up: front door {self.api}, logs in {self.run_dir}/")

    def stop(self) -> None:
        try:
            localrun.stop(self.run_dir)
        finally:
            try:
                self.node.stop()
            finally:
                self.postgres.stop()
                shutil.rmtree(self.base_dir, ignore_errors=True)

    def pids(self) -> dict[str, int | None]:
        pids = {}
        for process in self.processes:
            pid_file = self.run_dir / f"{process.name}.pid"
            pids[process.name] = int(pid_file.read_text()) if pid_file.exists() else None
        return pids

    def health(self, timeout: float) -> dict[str, str]:
        """Each process's /healthz in a word, waiting up to ``timeout`` (in all) for ``ok``."""
        deadline = time.monotonic() + timeout
        words = {}
        for process in self.processes:
            while (word := localrun.health(process.port)) != "ok" and time.monotonic() < deadline:
                time.sleep(0.3)
            words[process.name] = word
        return words

    # -- faults -------------------------------------------------------------------------

    def inject(self, drill: Drill) -> None:
        if drill.fault == "broker":
            self.node.stop_app()
            time.sleep(drill.outage_seconds)
            self.node.start_app()
        elif drill.fault == "database":
            self.postgres.restart(down_for=drill.outage_seconds)
        elif drill.fault == "kill":
            os.kill(self.pids()[drill.target], signal.SIGKILL)
        elif drill.fault == "hang":
            pid = self.pids()[drill.target]
            os.kill(pid, signal.SIGSTOP)
            try:
                time.sleep(drill.outage_seconds)
            finally:
                os.kill(pid, signal.SIGCONT)
        else:
            raise ValueError(f"unknown fault {drill.fault}")

    # -- what the databases hold --------------------------------------------------------

    def observe(self, key_prefix: str) -> Observed:
        """Intake's cases for the drill's keys, and what each consumer recorded of them."""
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            stored: dict[str, list[str]] = {}
            for key, case_no in conn.execute(
                "SELECT idempotency_key, case_no FROM intake.cases "
                "WHERE idempotency_key LIKE %s ORDER BY case_no",
                (key_prefix + "%",),
            ):
                stored.setdefault(key, []).append(case_no)
            case_nos = [case_no for found in stored.values() for case_no in found]
            consumers, repeated = {}, {}
            for consumer, (table, kind) in CONSUMERS.items():
                consumers[consumer] = _case_nos(
                    conn, f"SELECT case_no FROM {table} WHERE case_no = ANY(%s)", case_nos
                )
                repeated[f"{consumer}'s timeline ({kind})"] = _case_nos(
                    conn,
                    f"SELECT case_no FROM {consumer}.timeline WHERE kind = '{kind}' "
                    "AND case_no = ANY(%s) GROUP BY case_no HAVING count(*) > 1",
                    case_nos,
                )
            repeated["intake's outbox (case_registered)"] = _case_nos(
                conn,
                "SELECT payload->'data'->>'case_no' FROM intake.outbox "
                "WHERE event_type = 'case_registered' AND payload->'data'->>'case_no' = ANY(%s) "
                "GROUP BY 1 HAVING count(*) > 1",
                case_nos,
            )
        return Observed(stored=stored, consumers=consumers, repeated=repeated)

    def settle(self, key_prefix: str, timeout: float = SETTLE_SECONDS) -> Observed:
        """Wait until every stored case reached every consumer and nothing moved for a while
        (a registration answered 503 may still commit late); what is there then."""
        deadline = time.monotonic() + timeout
        last, quiet_since = None, time.monotonic()
        while True:
            try:
                observed = self.observe(key_prefix)
            except psycopg.OperationalError:
                observed = None  # the database is still coming back
            if observed is not None:
                snapshot = _fingerprint(observed)
                if snapshot != last:
                    last, quiet_since = snapshot, time.monotonic()
                done = all(
                    _stored_case_nos(observed) <= found for found in observed.consumers.values()
                )
                if done and time.monotonic() - quiet_since >= QUIET_SECONDS:
                    return observed
            if time.monotonic() > deadline:
                if observed is None:
                    raise RuntimeError("the database did not come back")
                return observed
            time.sleep(0.3)


def _case_nos(conn, query: str, case_nos: list[str]) -> set[str]:
    return {row[0] for row in conn.execute(query, (case_nos,))}


def _stored_case_nos(observed: Observed) -> set[str]:
    return {case_no for found in observed.stored.values() for case_no in found}


def _fingerprint(observed: Observed):
    return (
        len(_stored_case_nos(observed)),
        tuple(len(found) for found in observed.consumers.values()),
    )


def run_drill(system: DrilledSystem, drill: Drill) -> drill_report.DrillReport:
    """Load, fault, settle, count."""
    key_prefix = f"drill-{drill.fault}-{uuid.uuid4().hex[:8]}-"
    before = system.pids()
    say(f"{drill.name}: load for {drill.load_seconds:g}s, fault at {drill.fault_at:g}s")
    load = RegistrationLoad(
        system.api,
        system.token,
        key_prefix,
        clients=system.clients,
        client_timeout=RPC_TIMEOUT_SECONDS + 10,
        fields=getattr(system, "registration_fields", None),  # a site node's own site
    ).start()
    started = time.monotonic()
    time.sleep(drill.fault_at)
    system.inject(drill)
    time.sleep(max(0.0, drill.load_seconds - (time.monotonic() - started)))
    attempts = load.stop()
    observed = system.settle(key_prefix)
    if drill.fault == "kill":
        # the supervisor has restarted it by now, or it will not (the tally says so)
        try:
            wait_until(
                lambda: system.pids()[drill.target] not in (None, before[drill.target]),
                HEALTHY_SECONDS,
                f"{drill.target} was not restarted",
            )
        except RuntimeError:
            pass
    health = system.health(HEALTHY_SECONDS)
    processes = Processes(
        before=before,
        after=system.pids(),
        health=health,
        killed=frozenset([drill.target] if drill.fault == "kill" else []),
    )
    report = drill_report.tally(
        drill.name,
        attempts,
        observed,
        processes,
        front_door_killed=drill.fault == "kill" and drill.target == "gateway",
        health_checks=list(load.health_checks),
    )
    if hasattr(system, "annotate"):  # what a system measures beyond the tally (drill_network)
        system.annotate(drill, report)
    return report


def explain(system: DrilledSystem, report: drill_report.DrillReport) -> list[str]:
    """Tracebacks behind a failed drill: of a process that died, of an error id answered."""
    notes = []
    for name in dict.fromkeys(report.casualties + report.silent):
        text = (system.run_dir / f"{name}.log").read_text(errors="replace")
        notes += [f"--- {name}.log, last traceback:", drill_report.last_traceback(text) or "(none)"]
    for error_id in report.error_ids[:3]:
        for log_file in sorted(system.run_dir.glob("*.log")):
            found = drill_report.lines_mentioning(log_file.read_text(errors="replace"), error_id)
            if found:
                notes += [f"--- error id {error_id} in {log_file.name}:", found]
                break
    return notes


def say(message: str) -> None:
    print(f"[drill {datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.drill", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--short", action="store_true", help="broker restart + one kill -9")
    parser.add_argument("--only", action="append", help="run only the drills of this name")
    parser.add_argument(
        "--clients", type=int, default=None, help="load clients (default 8; 4 short)"
    )
    parser.add_argument("--json", type=Path, help="write the reports here as JSON")
    parser.add_argument("--run-dir", type=Path, help="the drilled system's logs and pid files")
    args = parser.parse_args(argv)

    # SIGTERM (a test's timeout, a CI job cancelled) must still take the private infra down
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run_dir = args.run_dir or DRILL_RUNS / f"{stamp}-{os.getpid()}"
    clients = args.clients or (4 if args.short else 8)
    plan = short_plan() if args.short else full_plan(localrun.processes())
    if args.only:
        plan = [drill for drill in plan if drill.name in args.only]
        if not plan:
            parser.error("no drill of that name")
    started = time.monotonic()
    reports, notes = [], []
    for system_class, drills, where in systems_for(plan, run_dir):
        system = system_class(where, clients=clients)
        try:
            system.start()
            for drill in drills:
                report = run_drill(system, drill)
                reports.append(report)
                say(f"{drill.name}: {'ok' if report.passed else 'FAILED'}")
                if not report.passed:
                    notes += [f"=== {drill.name}", *explain(system, report)]
        finally:
            system.stop()
    print()
    for line in drill_report.table(reports):
        print(line)
    for report in reports:  # the site link drills (tools.drill_network)
        if report.catch_up_seconds is not None:
            print(
                f"{report.drill}: the last case reached the district "
                f"{report.catch_up_seconds:.1f}s after the link returned"
            )
    for line in notes:
        print(line)
    elapsed = time.monotonic() - started
    print(f"\n{len(reports)} drills in {elapsed:.0f}s; logs: {run_dir}/")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "seconds": elapsed,
                    "run_dir": str(run_dir),
                    "drills": [r.as_dict() for r in reports],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    return 0 if reports and all(report.passed for report in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
