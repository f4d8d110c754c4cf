"""Site nodes on this machine (``make up EDGE_SITES=XJK,MY``; docs/network.md).

With ``EDGE_SITES`` set, ``make up`` (``tools.localrun``) also starts the district's three-node
RabbitMQ cluster (:mod:`tools.cluster`, in ``run/cluster``) and runs the district's services on
it, and for each site — XJK at position 1, MY at 2, … — a site node:

* its own RabbitMQ node ``bancheng-site-<s>@localhost`` (AMQP ``5700+i``, management
  ``15700+i``) with the shovel plugins, data in ``run/sites/<s>/rabbitmq``;
* its own database ``bancheng_site_<s>`` on the machine's PostgreSQL, migrated and seeded;
* intake (``SITE_NODE=<S>``, ``/healthz`` on ``8200+10i+1``), a front door on ``8000+i`` and
  the link metrics (services.common.link_metrics, ``/metrics`` on ``8200+10i+2``, listed for
  Prometheus in ``run/sites/prometheus-targets.yml``), under a supervisor of their own in
  ``run/sites/<s>/``;
* its link to the district (:mod:`services.common.links`): two on-confirm shovels, up.

The district's intake is told which sites run their own node (``SITE_NODES``) and refuses to
register at them. ``make down`` stops the sites, their nodes and the cluster.
"""

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from services.common import links
from services.common.config import REPO_ROOT, load_config
from tools import localrun
from tools.private_infra import RabbitNode

EDGE_SITES = "EDGE_SITES"
SITE_PLUGINS = ("rabbitmq_management", "rabbitmq_shovel", "rabbitmq_shovel_management")
CLUSTER_FIRST_PORT = 5681
DISTRICT_FRONT_DOOR = "http://127.0.0.1:8000"
NODE_FILE = "node.json"


def edge_sites(value: str | None) -> list[str]:
    """``EDGE_SITES`` (``XJK,MY``) as site codes, in order, once each."""
    codes = [part.strip().upper() for part in (value or "").split(",") if part.strip()]
    return list(dict.fromkeys(codes))


@dataclass(frozen=True)
class SitePlan:
    """Where one site node lives on this machine (docs/network.md's table)."""

    site: str
    position: int  # 1, 2, … in EDGE_SITES
    run_root: Path

    @property
    def lower(self) -> str:
        return self.site.lower()

    @property
    def run_dir(self) -> Path:
        return self.run_root / "sites" / self.lower

    @property
    def amqp_port(self) -> int:
        return 5700 + self.position

    @property
    def management_port(self) -> int:
        return 15700 + self.position

    @property
    def gateway_port(self) -> int:
        return 8000 + self.position

    @property
    def intake_port(self) -> int:
        return 8200 + 10 * self.position + 1

    @property
    def link_metrics_port(self) -> int:
        """The link metrics' ``/metrics`` (services.common.link_metrics)."""
        return 8200 + 10 * self.position + 2

    @property
    def database(self) -> str:
        return f"bancheng_site_{self.lower}"

    @property
    def front_door(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def broker(self) -> RabbitNode:
        return RabbitNode(
            f"bancheng-site-{self.lower}@localhost",
            amqp_port=self.amqp_port,
            dist_port=25700 + self.position,
            ctl_ports=(25800 + 10 * self.position, 25809 + 10 * self.position),
            base_dir=self.run_dir / "rabbitmq",
            plugins=SITE_PLUGINS,
            config_lines=(
                f"management.tcp.port = {self.management_port}",
                "management.tcp.ip = 127.0.0.1",
                "heartbeat = 10",
            ),
        )

    def processes(self) -> list[localrun.Process]:
        return [
            localrun.Process(
                f"site-{self.lower}-intake",
                "services.intake.service:IntakeService",
                self.intake_port,
            ),
            localrun.Process(
                f"site-{self.lower}-gateway",
                "services.gateway.service:GatewayService",
                self.gateway_port,
            ),
            # the link on Prometheus (reads run/sites/<s>/link.json)
            localrun.Process(
                f"site-{self.lower}-links",
                "services.common.link_metrics:LinkMetricsService",
                self.link_metrics_port,
            ),
        ]


def plans(sites: list[str], run_root: Path) -> list[SitePlan]:
    return [SitePlan(site, position, run_root) for position, site in enumerate(sites, start=1)]


def with_database(url: str, name: str) -> str:
    from tools.sandbox import with_path

    return with_path(url, f"/{name}")


def site_nodes_setting(site_plans: list[SitePlan]) -> str:
    """The district's ``SITE_NODES``: each site with its front door."""
    return ",".join(f"{plan.site}={plan.front_door}" for plan in site_plans)


# -- the district --------------------------------------------------------------------------


def start_district_cluster(run_root: Path) -> str:
    """Start (or start again) the three-node cluster in ``run/cluster``; its AMQP URIs (;)."""
    from tools import cluster

    ports = list(range(CLUSTER_FIRST_PORT, CLUSTER_FIRST_PORT + cluster.ports_needed()))
    started = cluster.start_cluster(run_root / "cluster", ports, "bancheng-district")
    return started.amqp_uris


def district_environment(env: dict, run_root: Path, sites: list[str]) -> dict:
    """``env`` for the district's processes when sites run nodes of their own: on the cluster,
    refusing registration at those sites."""
    uris = start_district_cluster(run_root)
    management = f"http://guest:guest@127.0.0.1:{CLUSTER_FIRST_PORT + 4}/"
    return {
        **env,
        "AMQP_URI": uris,
        "RABBIT_MANAGEMENT_URL": management,
        "SITE_NODES": site_nodes_setting(plans(sites, run_root)),
    }


# -- a site node ---------------------------------------------------------------------------


def site_environment(plan: SitePlan, district_env: dict) -> dict:
    """The environment of a site node's processes (and of its migration and seed)."""
    return {
        **district_env,
        "AMQP_URI": plan.broker().amqp_uri,
        "RABBIT_MANAGEMENT_URL": f"http://guest:guest@127.0.0.1:{plan.management_port}/",
        "DATABASE_URL": with_database(
            district_env.get("DATABASE_URL") or load_config()["DATABASE_URL"], plan.database
        ),
        "SITE": plan.site,
        "SITE_NODE": plan.site,
        "SITE_NODES": "",
        "DISTRICT_FRONT_DOOR": DISTRICT_FRONT_DOOR,
        # where the link metrics find the link (link.json, written by start_site)
        links.LINKS_DIR_SETTING: str(plan.run_root / "sites"),
    }


def prepare_site(plan: SitePlan, env: dict) -> None:
    """Migrate the site's database and seed the district's reference data there; declare
    intake's event queues on the site's node (intake is the only service it runs)."""
    import subprocess

    subprocess.run(
        [sys.executable, "-m", "tools.edge", "prepare-site", plan.site],
        check=True,
        env=localrun.demo_environment(env),
        cwd=REPO_ROOT,
    )


def _prepare_here() -> None:
    """``python -m tools.edge prepare-site S``, in the site's environment."""
    from services.common import event_queues
    from services.common.migrations import migrate_all
    from services.intake.seed import load_seed
    from services.intake.service import IntakeService

    config = load_config()
    migrate_all(config["DATABASE_URL"])
    load_seed(config["DATABASE_URL"], REPO_ROOT / "deploy" / "seed" / "xuanwu", demo_logins=True)
    event_queues.migrate(config["AMQP_URI"], config, event_queues.event_queues(IntakeService))


def site_link(plan: SitePlan, district_amqp_uris: str) -> links.SiteLink:
    return links.SiteLink(
        site=plan.site,
        site_amqp_uri=plan.broker().amqp_uri,
        site_management_url=f"http://guest:guest@127.0.0.1:{plan.management_port}/",
        district_amqp_uris=[uri for uri in district_amqp_uris.split(";") if uri],
    )


def start_site(plan: SitePlan, district_env: dict) -> list[localrun.Process]:
    """Start one site node: its broker, database, link (up) and processes."""
    plan.run_dir.mkdir(parents=True, exist_ok=True)
    broker = plan.broker()
    broker.start()
    (plan.run_dir / NODE_FILE).write_text(
        json.dumps({"site": plan.site, "position": plan.position})
    )
    env = site_environment(plan, district_env)
    prepare_site(plan, env)
    link = site_link(plan, district_env["AMQP_URI"])
    link.save(plan.run_root / "sites")
    links.up(link)
    return localrun.start(plan.run_dir, env, plan=plan.processes())


def start_sites(run_root: Path, district_env: dict, sites: list[str]) -> list[localrun.Process]:
    started = []
    for plan in plans(sites, run_root):
        started += start_site(plan, district_env)
    write_scrape_targets(run_root, plans(sites, run_root))
    return started


SCRAPE_TARGETS_FILE = "prometheus-targets.yml"


def write_scrape_targets(run_root: Path, site_plans: list[SitePlan]) -> Path:
    """``run/sites/prometheus-targets.yml``: each site's link metrics with its site label, for
    the ``bancheng-site-links`` job of deploy/prometheus/prometheus-local.yml (file_sd)."""
    path = run_root / "sites" / SCRAPE_TARGETS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    targets = [
        {"targets": [f"127.0.0.1:{plan.link_metrics_port}"], "labels": {"site": plan.site}}
        for plan in site_plans
    ]
    path.write_text(json.dumps(targets, indent=2))  # JSON is YAML
    return path


def banner(run_root: Path, sites: list[str]) -> list[str]:
    """What ``make up`` prints about the network (nothing without EDGE_SITES)."""
    if not sites:
        return []
    lines = [f"  district cluster http://127.0.0.1:{CLUSTER_FIRST_PORT + 4}/ (guest/guest)"]
    for plan in plans(sites, run_root):
        lines.append(
            f"  site {plan.site:<11} {plan.front_door}/   broker {plan.broker().name} "
            f"(AMQP {plan.amqp_port}, UI {plan.management_port}), database {plan.database}"
        )
        lines.append(
            f"                   link: python -m services.common.cli link {plan.site} down|up|status"
        )
    return lines


def stop_all(run_root: Path) -> list[str]:
    """Stop every site node's processes and broker, and the district cluster; what stopped."""
    stopped = []
    sites_dir = run_root / "sites"
    for node_file in sorted(sites_dir.glob(f"*/{NODE_FILE}")):
        site_dir = node_file.parent
        stopped += localrun.stop(site_dir)
        state = json.loads(node_file.read_text())
        broker = SitePlan(state["site"], state["position"], run_root).broker()
        try:
            broker.ctl("stop", timeout=60)
            stopped.append(broker.name)
        except (RuntimeError, OSError):
            pass  # not running
        node_file.unlink()
    (sites_dir / SCRAPE_TARGETS_FILE).unlink(missing_ok=True)
    if (run_root / "cluster" / "cluster.json").exists():
        from tools import cluster

        cluster.stop_attached(run_root / "cluster")
        stopped.append("district cluster")
    return stopped


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["prepare-site"]:
        _prepare_here()
        return 0
    print("usage: python -m tools.edge prepare-site SITE (make up EDGE_SITES=… runs the rest)")
    return 2


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", localrun.QUIET_WARNINGS)
    sys.exit(main())
