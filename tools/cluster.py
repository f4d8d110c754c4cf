"""The district's RabbitMQ cluster on this machine: three nodes of our own, joined, quorum queues.

DESIGN §6: inside the district's machine room, where links are reliable, RabbitMQ runs as a
cluster of three nodes; every durable service queue is a quorum queue (replicated on all three,
``services.common.rpc`` / ``services.common.event_queues``), so one node may stop without a
message lost. The services get :attr:`Cluster.amqp_uris`, every node's URI separated by ``;``:
kombu (under nameko) tries them in turn on connecting and on every reconnection, so a service
whose node stopped reconnects to another; pika (the migrations, the dead-letter commands) is
given the same list (``services.common.event_queues.pika_parameters``).

Each node is a :class:`tools.private_infra.RabbitNode` (own node name, ports, data, logs and
plugins; never the shared node's ``/etc/rabbitmq``) sharing one Erlang cookie, with the
management, federation and shovel plugins (part B links the sites to this cluster). The first
node starts alone; the others join it (``rabbitmqctl join_cluster``). A cluster directory that
was stopped whole is started again whole: its nodes start together (a clustered node waits for
its peers), and keep their queues and messages.

    cluster = start_cluster(Path("run/cluster"), free_port_block(ports_needed()))
    env["AMQP_URI"] = cluster.amqp_uris
    cluster.stop_node(0); cluster.start_node(0)   # a node down and back
    cluster.stop()

``python -m tools.cluster up|down|status [--dir run/cluster] [--first-port 5681]`` runs one
from the shell (``down`` and ``status`` read the ``cluster.json`` that ``up`` writes).
"""

import argparse
import json
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tools.private_infra import RabbitNode, make_cookie_home, wait_until

NODE_COUNT = 3
# per node: AMQP, Erlang distribution, the CLI's two distribution ports, management
PORTS_PER_NODE = 5
PLUGINS = ("rabbitmq_management", "rabbitmq_federation", "rabbitmq_shovel")
STATE_FILE = "cluster.json"
JOINED_MARK = "joined"


def ports_needed(nodes: int = NODE_COUNT) -> int:
    return nodes * PORTS_PER_NODE


@dataclass
class Cluster:
    """A running cluster: its nodes (``.nodes[i]`` a RabbitNode) and how to reach them."""

    base_dir: Path
    nodes: list[RabbitNode]
    management_ports: list[int]
    down: set[int] = field(default_factory=set)

    @property
    def amqp_uris(self) -> str:
        """Every node's AMQP URI (default vhost, guest), separated by ``;`` (kombu's failover
        list; the first node first)."""
        return ";".join(node.amqp_uri for node in self.nodes)

    def amqp_uri_list(self) -> list[str]:
        return [node.amqp_uri for node in self.nodes]

    def management_url(self, index: int = 0) -> str:
        return f"http://guest:guest@127.0.0.1:{self.management_ports[index]}/"

    def running_management_url(self) -> str:
        """The management URL of a node that is up."""
        index = next(i for i in range(len(self.nodes)) if i not in self.down)
        return self.management_url(index)

    def stop_node(self, index: int, kill: bool = False) -> None:
        """Halt node ``index`` (its Erlang VM too): its clients lose their connections, its
        quorum queue replicas go away, the other two keep a majority. ``kill``: SIGKILL the
        node's processes instead (a machine lost: no goodbye to clients or peers)."""
        node = self.nodes[index]
        if kill and node._server is not None and node._server.poll() is None:
            os.killpg(node._server.pid, signal.SIGKILL)
            node._server.wait()
        else:
            _stop(node)
        self.down.add(index)

    def start_node(self, index: int, timeout: float = 120.0) -> None:
        """Start node ``index`` again; it rejoins the cluster and catches its replicas up."""
        self.nodes[index].start(timeout=timeout)
        self.down.discard(index)

    def running_nodes(self) -> list[str]:
        """The cluster's running members, as a node that is up sees them."""
        index = next(i for i in range(len(self.nodes)) if i not in self.down)
        status = json.loads(self.nodes[index].ctl("cluster_status", "--formatter", "json"))
        return sorted(status["running_nodes"])

    def queue_types(self, vhost: str = "/") -> dict[str, str]:
        """Each queue of ``vhost`` and its type (classic, quorum), from the management API."""
        api = f"http://127.0.0.1:{self.management_ports[self._up()]}/api"
        vhost_part = requests.utils.quote(vhost, safe="")
        found = requests.get(f"{api}/queues/{vhost_part}", auth=("guest", "guest"), timeout=10)
        found.raise_for_status()
        return {queue["name"]: queue.get("type", "classic") for queue in found.json()}

    def stop(self) -> None:
        """Stop every node (the last first, so the first, started first next time, stops last)."""
        for index in reversed(range(len(self.nodes))):
            if index not in self.down:
                _stop(self.nodes[index])
        self.down = set(range(len(self.nodes)))

    def as_dict(self) -> dict:
        return {
            "amqp_uris": self.amqp_uris,
            "nodes": [
                {
                    "name": node.name,
                    "amqp_port": node.amqp_port,
                    "management_port": port,
                    "dist_port": node.dist_port,
                    "ctl_ports": list(node.ctl_ports),
                }
                for node, port in zip(self.nodes, self.management_ports, strict=True)
            ],
        }

    def _up(self) -> int:
        return next(i for i in range(len(self.nodes)) if i not in self.down)


def _stop(node: RabbitNode) -> None:
    """Halt ``node``: its own server process when this process started it, else by
    ``rabbitmqctl stop`` (a node another process started, e.g. an earlier ``make up``)."""
    if node._server is not None:
        node.stop()
        return
    try:
        node.ctl("stop", timeout=90)
    except RuntimeError:
        pass  # not running


def cluster_nodes(
    base_dir: Path, ports: list[int], name_prefix: str | None = None, count: int = NODE_COUNT
) -> tuple[list[RabbitNode], list[int]]:
    """The nodes of a cluster in ``base_dir`` on ``ports`` (:func:`ports_needed` of them), not
    started: RabbitNodes sharing one cookie, and their management ports."""
    if len(ports) < ports_needed(count):
        raise ValueError(f"a {count}-node cluster needs {ports_needed(count)} ports")
    base_dir = Path(base_dir)
    prefix = name_prefix or f"bancheng-district-{os.getpid()}"
    cookie_home = make_cookie_home(base_dir / "home")
    nodes, management_ports = [], []
    for index in range(count):
        amqp, dist, ctl_first, ctl_last, management = ports[
            index * PORTS_PER_NODE : (index + 1) * PORTS_PER_NODE
        ]
        nodes.append(
            RabbitNode(
                f"{prefix}-{index + 1}@localhost",
                amqp_port=amqp,
                dist_port=dist,
                ctl_ports=(ctl_first, ctl_last),
                base_dir=base_dir / f"node{index + 1}",
                cookie_home=cookie_home,
                plugins=PLUGINS,
                config_lines=(
                    f"management.tcp.port = {management}",
                    "management.tcp.ip = 127.0.0.1",
                    # a node's clients notice it is gone within seconds, not minutes
                    "heartbeat = 10",
                ),
            )
        )
        management_ports.append(management)
    return nodes, management_ports


def start_cluster(
    base_dir: Path,
    ports: list[int],
    name_prefix: str | None = None,
    count: int = NODE_COUNT,
    timeout: float = 180.0,
) -> Cluster:
    """Start (and on first use join) a ``count``-node cluster in ``base_dir`` on ``ports``
    (consecutive groups of :data:`PORTS_PER_NODE`: AMQP, distribution, CLI first and last,
    management). Writes ``cluster.json`` there; returns when every node runs in the cluster."""
    base_dir = Path(base_dir)
    base_dir.mkdir(parents=True, exist_ok=True)
    nodes, management_ports = cluster_nodes(base_dir, ports, name_prefix, count)
    cluster = Cluster(base_dir, nodes, management_ports)
    joined = base_dir / JOINED_MARK
    expected = sorted(node.name for node in nodes)
    if joined.exists() and all(node._ctl_ok("ping") for node in nodes):
        # already running (started by an earlier process): use it as it is
        if cluster.running_nodes() == expected:
            (base_dir / STATE_FILE).write_text(json.dumps(cluster.as_dict(), indent=2))
            return cluster
    try:
        if joined.exists():
            _start_together(nodes, timeout)
        else:
            nodes[0].start(timeout=timeout)
            for node in nodes[1:]:
                node.start(timeout=timeout)
                node.ctl("stop_app")
                node.ctl("join_cluster", nodes[0].name, timeout=timeout)
                node.ctl("start_app", timeout=timeout)
            joined.write_text("\n".join(node.name for node in nodes) + "\n")
        wait_until(
            lambda: cluster.running_nodes() == expected,
            timeout,
            f"the cluster did not report {expected} running",
            interval=1.0,
        )
    except BaseException:
        cluster.down = set()
        cluster.stop()
        raise
    (base_dir / STATE_FILE).write_text(json.dumps(cluster.as_dict(), indent=2))
    return cluster


def _start_together(nodes: list[RabbitNode], timeout: float) -> None:
    """Start nodes that were clustered before all at once: each waits for its peers."""
    errors = []

    def start(node):
        try:
            node.start(timeout=timeout)
        except Exception as error:  # reported below, after every thread ended
            errors.append(error)

    threads = [threading.Thread(target=start, args=(node,)) for node in nodes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def attach(base_dir: Path) -> Cluster:
    """The cluster described by ``base_dir``'s cluster.json (started by another process)."""
    state = json.loads((Path(base_dir) / STATE_FILE).read_text())
    cookie_home = Path(base_dir) / "home"
    nodes = [
        RabbitNode(
            entry["name"],
            amqp_port=entry["amqp_port"],
            dist_port=entry["dist_port"],
            ctl_ports=tuple(entry["ctl_ports"]),
            base_dir=Path(base_dir) / f"node{index + 1}",
            cookie_home=cookie_home,
            plugins=PLUGINS,
        )
        for index, entry in enumerate(state["nodes"])
    ]
    return Cluster(Path(base_dir), nodes, [entry["management_port"] for entry in state["nodes"]])


def stop_attached(base_dir: Path) -> None:
    """Stop the nodes of a cluster another process started (``rabbitmqctl stop``)."""
    cluster = attach(base_dir)
    for node in reversed(cluster.nodes):
        _stop(node)
    for node in cluster.nodes:
        pid_file = node.base_dir / "rabbitmq.pid"
        if pid_file.exists():
            pid_file.unlink()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.cluster")
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--dir", type=Path, default=Path("run/cluster"))
    parser.add_argument("--first-port", type=int, default=5681)
    parser.add_argument("--name-prefix", default="bancheng-district")
    args = parser.parse_args(argv)
    if args.command == "up":
        started = time.monotonic()
        ports = list(range(args.first_port, args.first_port + ports_needed()))
        cluster = start_cluster(args.dir, ports, args.name_prefix)
        print(
            f"cluster up in {time.monotonic() - started:.0f}s: {', '.join(cluster.running_nodes())}"
        )
        print(f"AMQP_URI={cluster.amqp_uris}")
        return 0
    if args.command == "down":
        stop_attached(args.dir)
        print("cluster stopped")
        return 0
    cluster = attach(args.dir)
    try:
        print("running: " + ", ".join(cluster.running_nodes()))
    except RuntimeError as error:
        print(f"not running: {error}")
        return 1
    print(f"AMQP_URI={cluster.amqp_uris}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
