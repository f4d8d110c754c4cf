"""The network drills of ``make drill`` (issue 13, item 6): a site node registering while its
link is cut, and while the district's front door is down.

:class:`NetworkDrilledSystem` is the cluster drills' system (:mod:`tools.drill_cluster`: a
private three-node district cluster, a private PostgreSQL cluster, the district's six
processes) plus a site node for 新街口 (XJK) on private infrastructure too: its own RabbitMQ
node with the shovel plugins, its own database ``bancheng_site_xjk`` on the private PostgreSQL
cluster, its intake, front door and link metrics under a supervisor of their own, and its link
(two on-confirm shovels, :mod:`services.common.links`). Never the machine's 5672/5432.

The registration load goes to the **site's** front door, as the site's window staff
(``xjk.staff``), for site XJK. Each drill passes when every acknowledged case is at the site
once and reached the district once — intake's copy and coordination's, accountability's and
reporting's records and timeline entries, one each — no answer was a 5xx or a hang, and every
process of both is the same one, alive, at the end:

* ``site-link-cut``: the link cut with ``links.down`` (what ``python -m services.common.cli
  link XJK down`` does) for a minute while the site registers, then restored; the link metrics
  must say down during the cut, and the drill reports how long after the link returned the
  last case registered before reached every service at the district (``catch_up_seconds``);
* ``district-front-door-down``: the district's gateway stopped (SIGSTOP: it answers nothing,
  and the supervisor does not replace it) for 30 s while the site registers; the site does not
  need it, so nothing is refused and every case crosses as it is registered.
"""

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import psycopg

from services.common import links
from services.common.config import REPO_ROOT
from tools import drill, drill_cluster, edge, localrun
from tools.drill_report import DrillReport, Observed
from tools.load import login
from tools.private_infra import RabbitNode, free_port_block

SITE = "XJK"
FAULTS = ("site-link", "district-front-door")
# what the site's window staff register (the site node registers its own site's cases only)
SITE_REGISTRATION = {
    "site": SITE,
    "window": "W01",
    "matter": "M002",
    "department": "SCJ",
    "first_receiver": "S0002",
    "description": "个体工商户设立登记材料不被认可（站点节点演练）",
}
SITE_USER = "xjk.staff"
# the district's consumers set the pace (two cores shared with the rest of the machine)
CATCH_UP_TIMEOUT = 600.0
# after the link returns (or the front door), the load goes on this long
AFTER_RETURN_SECONDS = 8.0
# where the district records a site's case, and the timeline entry of each of the four
DISTRICT = {
    "intake": ("intake.cases", None),
    "coordination": ("coordination.cases", "opened"),
    "accountability": ("accountability.first_responsibility", "first_receiver"),
    "reporting": ("reporting.cases", "counted"),
}


def plan() -> list["drill.Drill"]:
    """The network drills: the load lasts until :data:`AFTER_RETURN_SECONDS` after the fault
    ends (the link cut for 60 s, the district's front door down for 30 s)."""
    return [
        drill.Drill("site-link-cut", "site-link", 4 + 60 + AFTER_RETURN_SECONDS, 4, SITE, 60),
        drill.Drill(
            "district-front-door-down",
            "district-front-door",
            4 + 30 + AFTER_RETURN_SECONDS,
            4,
            "gateway",
            30,
        ),
    ]


class NetworkDrilledSystem(drill_cluster.ClusterDrilledSystem):
    """The district on a private cluster and a site node XJK linked to it (module docstring)."""

    def __init__(self, run_dir, clients: int):
        super().__init__(run_dir, clients)
        ports = free_port_block(10)
        self.site_run_dir = self.run_dir / "sites" / SITE.lower()
        self.site_node = RabbitNode(
            f"bancheng-drill-site-{ports[0]}@localhost",
            amqp_port=ports[0],
            dist_port=ports[1],
            ctl_ports=(ports[2], ports[5]),
            base_dir=self.base_dir / "site-rabbitmq",
            plugins=edge.SITE_PLUGINS,
            config_lines=(
                f"management.tcp.port = {ports[6]}",
                "management.tcp.ip = 127.0.0.1",
                "heartbeat = 10",
            ),
        )
        self.site_management = f"http://guest:guest@127.0.0.1:{ports[6]}/"
        self.site_processes = [
            localrun.Process(
                f"site-{SITE.lower()}-intake", "services.intake.service:IntakeService", ports[7]
            ),
            localrun.Process(
                f"site-{SITE.lower()}-gateway", "services.gateway.service:GatewayService", ports[8]
            ),
            localrun.Process(
                f"site-{SITE.lower()}-links",
                "services.common.link_metrics:LinkMetricsService",
                ports[9],
            ),
        ]
        self.site_front_door = f"http://127.0.0.1:{ports[8]}"
        self.district_api = self.api
        self.api = f"{self.site_front_door}/api/v1"  # the load goes to the site
        self.site_database_url = self.postgres.url(f"bancheng_site_{SITE.lower()}")
        self.env["SITE_NODES"] = f"{SITE}={self.site_front_door}"
        self.link: links.SiteLink | None = None
        self.catch_up: dict[str, float | None] = {}
        self.link_seen: dict[str, dict] = {}
        self.registration_fields = SITE_REGISTRATION  # tools.drill's load registers these

    # -- the system -----------------------------------------------------------------------

    def site_environment(self) -> dict:
        return {
            **self.env,
            "AMQP_URI": self.site_node.amqp_uri,
            "RABBITMQ_ADMIN_URI": self.site_management,
            "RABBIT_MANAGEMENT_URL": self.site_management,
            "DATABASE_URL": self.site_database_url,
            "SITE": SITE,
            "SITE_NODE": SITE,
            "SITE_NODES": "",
            "DISTRICT_FRONT_DOOR": self.district_api.removesuffix("/api/v1"),
            links.LINKS_DIR_SETTING: str(self.run_dir / "sites"),
            # the link metrics read the link every second here
            "LINK_SAMPLE_SECONDS": "1",
        }

    def start(self) -> None:
        drill.say(f"private site node {self.site_node.name} on {self.site_node.amqp_port}")
        self.site_node.start()
        self.api = self.district_api  # the district's start logs in at its front door
        super().start()  # the district: cluster, database, its six processes
        self.api = f"{self.site_front_door}/api/v1"
        env = self.site_environment()
        subprocess.run(
            [sys.executable, "-m", "tools.edge", "prepare-site", SITE],
            check=True,
            env=localrun.demo_environment(env),
            cwd=REPO_ROOT,
        )
        self.link = links.SiteLink(
            site=SITE,
            site_amqp_uri=self.site_node.amqp_uri,
            site_management_url=self.site_management,
            district_amqp_uris=self.cluster.amqp_uri_list(),
        )
        self.link.save(self.run_dir / "sites")
        links.up(self.link)
        if not links.wait_running(self.link).up:
            raise RuntimeError(f"the link of {SITE} did not come up")
        localrun.start(self.site_run_dir, env, plan=self.site_processes)
        localrun.wait_healthy(self.site_processes, timeout=120)
        self.token = login(self.api, SITE_USER)
        drill.say(f"site node {SITE} up: front door {self.api}, logs in {self.site_run_dir}/")

    def stop(self) -> None:
        try:
            localrun.stop(self.site_run_dir)
        finally:
            try:
                self.site_node.stop()
            finally:
                super().stop()

    def pids(self) -> dict[str, int | None]:
        pids = super().pids()
        for process in self.site_processes:
            pid_file = self.site_run_dir / f"{process.name}.pid"
            pids[process.name] = int(pid_file.read_text()) if pid_file.exists() else None
        return pids

    def health(self, timeout: float) -> dict[str, str]:
        words = super().health(timeout)
        deadline = time.monotonic() + timeout
        for process in self.site_processes:
            while (word := localrun.health(process.port)) != "ok" and time.monotonic() < deadline:
                time.sleep(0.3)
            words[process.name] = word
        return words

    # -- faults -------------------------------------------------------------------------

    def inject(self, planned: "drill.Drill") -> None:
        if planned.fault == "site-link":
            self._cut_link(planned)
        elif planned.fault == "district-front-door":
            self._front_door_down(planned)
        else:
            super().inject(planned)

    def _cut_link(self, planned: "drill.Drill") -> None:
        drill.say(f"  cutting the link of {SITE} for {planned.outage_seconds:g}s")
        links.down(self.link)
        time.sleep(planned.outage_seconds)
        seen = link_metrics_now(self.site_processes[2].port)
        self.link_seen[planned.name] = seen
        drill.say(f"  link metrics before the return: {describe(seen)}")
        waiting = self.site_case_nos() - self.district_case_nos()
        links.up(self.link)
        returned = time.monotonic()
        if not links.wait_running(self.link).up:
            drill.say("  the link did not come back up")
        drill.say(f"  link back up; {len(waiting)} cases registered meanwhile to cross")
        deadline = returned + CATCH_UP_TIMEOUT
        moments: dict[str, float] = {}
        while time.monotonic() < deadline:
            now = time.monotonic() - returned
            if "crossed" not in moments and not links.queue_depth(
                self.site_node.amqp_uri, links.TO_DISTRICT_QUEUE
            ):
                moments["crossed"] = now  # the site's side of the link is empty
            if "intake" not in moments and waiting <= self.district_intake_case_nos():
                moments["intake"] = now
            if not waiting - self.district_case_nos():
                moments["every service"] = now
                break
            time.sleep(0.25)
        left = waiting - self.district_case_nos()
        self.catch_up[planned.name] = moments.get("every service")
        self.link_seen[planned.name]["after the return"] = moments
        drill.say(
            f"  {len(waiting) - len(left)} of {len(waiting)} at every service of the district; "
            "after the link returned: "
            + ", ".join(f"{what} {seconds:.1f}s" for what, seconds in moments.items())
        )
        time.sleep(AFTER_RETURN_SECONDS)

    def _front_door_down(self, planned: "drill.Drill") -> None:
        pid = super().pids()[planned.target]
        drill.say(
            f"  the district's front door (pid {pid}) stopped for {planned.outage_seconds:g}s"
        )
        os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(1.0)
            answered = front_door_answers(self.district_api.removesuffix("/api/v1"))
            drill.say(f"  the district's /healthz while stopped: {answered}")
            self.link_seen[planned.name] = {"district front door": answered}
            time.sleep(max(0.0, planned.outage_seconds - 1.0))
        finally:
            os.kill(pid, signal.SIGCONT)
        time.sleep(AFTER_RETURN_SECONDS)

    # -- what the databases hold --------------------------------------------------------

    def site_case_nos(self) -> set[str]:
        with psycopg.connect(self.site_database_url, autocommit=True) as conn:
            rows = conn.execute("SELECT case_no FROM intake.cases WHERE site_code = %s", (SITE,))
            return {row[0] for row in rows}

    def district_intake_case_nos(self) -> set[str]:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            return _case_nos(
                conn, "SELECT case_no FROM intake.cases WHERE case_no LIKE %s", f"%-{SITE}"
            )

    def district_case_nos(self) -> set[str]:
        """The site's cases every one of the four district services has recorded."""
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            found = [
                _case_nos(conn, f"SELECT case_no FROM {table} WHERE case_no LIKE %s", f"%-{SITE}")
                for table, _ in DISTRICT.values()
            ]
        return set.intersection(*found)

    def observe(self, key_prefix: str) -> Observed:
        """The site's cases for the drill's keys; what the district holds of each, and where
        it holds one twice (records or timeline entries)."""
        stored: dict[str, list[str]] = {}
        with psycopg.connect(self.site_database_url, autocommit=True) as conn:
            for key, case_no in conn.execute(
                "SELECT idempotency_key, case_no FROM intake.cases "
                "WHERE idempotency_key LIKE %s ORDER BY case_no",
                (key_prefix + "%",),
            ):
                stored.setdefault(key, []).append(case_no)
            case_nos = [case_no for found in stored.values() for case_no in found]
            repeated = {
                "the site's outbox (case_registered)": _case_nos(
                    conn,
                    "SELECT payload->'data'->>'case_no' FROM intake.outbox "
                    "WHERE event_type = 'case_registered' "
                    "AND payload->'data'->>'case_no' = ANY(%s) GROUP BY 1 HAVING count(*) > 1",
                    case_nos,
                )
            }
        consumers = {}
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            for service, (table, kind) in DISTRICT.items():
                consumers[f"{service} (district)"] = _case_nos(
                    conn, f"SELECT case_no FROM {table} WHERE case_no = ANY(%s)", case_nos
                )
                where = f"kind = '{kind}' AND " if kind else ""
                consumers[f"{service}'s timeline (district)"] = _case_nos(
                    conn,
                    f"SELECT DISTINCT case_no FROM {service}.timeline WHERE {where}"
                    "case_no = ANY(%s)",
                    case_nos,
                )
                repeated[f"{service}'s timeline at the district ({kind or 'any'})"] = _case_nos(
                    conn,
                    f"SELECT case_no FROM {service}.timeline WHERE {where}case_no = ANY(%s) "
                    "GROUP BY case_no HAVING count(*) > 1",
                    case_nos,
                )
        return Observed(stored=stored, consumers=consumers, repeated=repeated)

    def settle(self, key_prefix: str, timeout: float = CATCH_UP_TIMEOUT) -> Observed:
        """As every drill settles, with the time the district's consumers take to work off a
        minute of a site's registrations (they, not the link, set the pace here)."""
        return super().settle(key_prefix, timeout)

    # -- the report ---------------------------------------------------------------------

    def annotate(self, planned: "drill.Drill", report: DrillReport) -> None:
        """The catch-up time, and what the link metrics said, into the drill's report. The site
        needs neither the link nor the district's front door to register: a refusal fails."""
        if report.refused or report.unreachable:
            report.problems.append(
                f"the site refused {report.refused} registrations and did not answer "
                f"{report.unreachable}: it must keep registering on its own"
            )
        if planned.fault != "site-link":
            return
        report.catch_up_seconds = self.catch_up.get(planned.name)
        if report.catch_up_seconds is None:
            report.problems.append(
                f"cases registered during the cut had not all crossed {CATCH_UP_TIMEOUT:g}s "
                "after the link returned"
            )
        seen = self.link_seen.get(planned.name) or {}
        if seen.get("bancheng_site_link_up") != 0.0 or not seen.get(
            "bancheng_site_link_backlog_messages[to_district]"
        ):
            report.problems.append(f"the link metrics did not say down during the cut: {seen}")


def _case_nos(conn, query: str, case_nos: list[str]) -> set[str]:
    return {row[0] for row in conn.execute(query, (case_nos,))}


def link_metrics_now(port: int) -> dict:
    """The link metrics' series (name with its direction → value), as Prometheus scrapes them."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    except OSError as error:
        return {"error": str(error)}
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            direction = sample.labels.get("direction")
            found[sample.name + (f"[{direction}]" if direction else "")] = sample.value
    return found


def describe(seen: dict) -> str:
    return ", ".join(
        f"{name.removeprefix('bancheng_site_link_')} {value:g}"
        for name, value in seen.items()
        if isinstance(value, float)
    ) or str(seen)


def front_door_answers(base: str) -> str:
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=3) as response:
            return f"HTTP {response.status}"
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}"
    except OSError:
        return "no answer within 3 s"
