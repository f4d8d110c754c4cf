"""The drill "cluster node stopped under load": the drilled system on the district cluster.

:class:`ClusterDrilledSystem` is :class:`tools.drill.DrilledSystem` with the private RabbitMQ
node replaced by a private three-node cluster (:mod:`tools.cluster`): every process is given
the cluster's URI list (each node, ``;``) and connects to the first node; the rest of the drill
(the registration load, the settling, the tally) is the same. Its faults ``cluster-node`` (a
stop) and ``cluster-node-kill`` (SIGKILL) take one node down — the first: every connection and
every quorum queue leader is there, so all of them must move — for ``outage_seconds`` while the
load goes on, then start it again. It passes when
nothing acknowledged is lost or stored twice, the front door answers throughout (a 503 allowed,
never another 5xx nor a hang) and every process is the same one, alive, at the end.
"""

import shutil
import time

from tools import cluster, drill, localrun
from tools.load import login
from tools.private_infra import free_port_block

FAULTS = ("cluster-node", "cluster-node-kill")


# after the node is back, the load goes on this long on all three nodes
AFTER_RETURN_SECONDS = 8.0


def plan() -> list["drill.Drill"]:
    """The cluster drills of ``make drill``: the first node stopped (``rabbitmqctl stop``: it
    closes its connections and hands its quorum queue leaders over, which takes a while under
    load), then killed (SIGKILL: gone at once); each down 15 s while the load goes on, then
    started again. The load lasts until :data:`AFTER_RETURN_SECONDS` after it is back."""
    return [
        drill.Drill("cluster-node-stopped", "cluster-node", 30, 5, "node-1", 15),
        drill.Drill("cluster-node-killed", "cluster-node-kill", 30, 5, "node-1", 15),
    ]


def node_index(target: str | None) -> int:
    """``node-<n>`` (1-based, as the node names) → the index in ``Cluster.nodes``."""
    return int((target or "node-1").removeprefix("node-")) - 1


class ClusterDrilledSystem(drill.DrilledSystem):
    """The whole system on a private three-node RabbitMQ cluster and a private database."""

    def __init__(self, run_dir, clients: int):
        super().__init__(run_dir, clients)
        ports = free_port_block(cluster.ports_needed())
        self.cluster_ports = ports
        nodes, management_ports = cluster.cluster_nodes(
            self.base_dir / "cluster", ports, f"bancheng-drill-{ports[0]}"
        )
        self.cluster = cluster.Cluster(self.base_dir / "cluster", nodes, management_ports)
        self.env.update(
            {
                "AMQP_URI": self.cluster.amqp_uris,
                # users and permissions are the cluster's: any node's management API makes them
                "RABBITMQ_ADMIN_URI": self.cluster.management_url(0),
                "RABBIT_MANAGEMENT_URL": self.cluster.management_url(0),
            }
        )

    def start(self) -> None:
        drill.say(f"private RabbitMQ cluster of {len(self.cluster.nodes)} nodes")
        self.cluster = cluster.start_cluster(
            self.base_dir / "cluster", self.cluster_ports, f"bancheng-drill-{self.cluster_ports[0]}"
        )
        drill.say(f"  {self.cluster.amqp_uris}")
        drill.say(f"private PostgreSQL cluster on {self.postgres.port}")
        self.postgres.start()
        localrun.prepare_database(self.env)
        queue_types = self.cluster.queue_types("/")
        classic = sorted(
            name
            for name, kind in queue_types.items()
            if kind != "quorum" and (name.startswith(("rpc-", "evt-", "dlq-")))
        )
        if classic:
            raise RuntimeError(f"durable service queues that are not quorum: {classic}")
        localrun.start(self.run_dir, self.env, plan=self.processes)
        localrun.wait_healthy(self.processes, timeout=120)
        self.token = login(self.api)
        drill.say(f"system up on the cluster: front door {self.api}, logs in {self.run_dir}/")

    def stop(self) -> None:
        try:
            localrun.stop(self.run_dir)
        finally:
            try:
                self.cluster.stop()
            finally:
                self.postgres.stop()
                shutil.rmtree(self.base_dir, ignore_errors=True)

    def inject(self, planned: "drill.Drill") -> None:
        if planned.fault not in FAULTS:
            return super().inject(planned)
        index = node_index(planned.target)
        node = self.cluster.nodes[index].name
        how = "killing" if planned.fault == "cluster-node-kill" else "stopping"
        drill.say(f"  {how} {node}, down for {planned.outage_seconds:g}s")
        started = time.monotonic()
        self.cluster.stop_node(index, kill=planned.fault == "cluster-node-kill")
        self.down_after = time.monotonic() - started
        drill.say(f"  {node} down after {self.down_after:.1f}s")
        time.sleep(planned.outage_seconds)
        started = time.monotonic()
        self.cluster.start_node(index)
        self.back_after = time.monotonic() - started
        drill.say(
            f"  {node} back after {self.back_after:.1f}s; "
            f"running: {len(self.cluster.running_nodes())} nodes"
        )
        time.sleep(AFTER_RETURN_SECONDS)  # the load goes on on all three
