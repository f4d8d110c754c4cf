"""Registration on the district's three-node cluster: what quorum queues cost (issue 16, item 3).

``python -m bench registration_cluster`` measures the registration benchmark
(:mod:`bench.registration`, unchanged) twice in one run, at the same level, each time with every
process on a private broker of its own started alike (:mod:`tools.cluster`, same version,
plugins and settings; the machine's shared node, busy with everyone's tests, is left alone):
one node, then three clustered nodes (each durable service queue a quorum queue with a replica
on each node, every publish confirmed by a majority). The rows give the cluster's figure with the one
node's as the baseline: the ratio is the cost of the cluster. (On one node the queues are quorum
queues too, with one member; what the cluster adds is the replication — and here, on a
machine of two cores, two more Erlang VMs beside the services.)
"""

import shutil
import tempfile
from pathlib import Path

from bench import harness, registration
from tools import cluster as district
from tools.private_infra import free_port_block

LEVELS = ((10, 50),)
SMALL = {"levels": ((2, 3),)}
START_ATTEMPTS = 3
KEPT = ("registrations/s", "p50 ms", "p99 ms", "CPU ms/registration")


def run(levels=LEVELS) -> list[harness.Row]:
    one_node, _ = _on_private_broker(levels, nodes=1)
    on_cluster, queue_types = _on_private_broker(levels, nodes=district.NODE_COUNT)
    quorum = sorted(n for n, t in queue_types.items() if t == "quorum")
    return [
        harness.Row(
            "reg_cluster",
            f"{metric} (3 nodes)",
            row.value,
            row.unit,
            baseline=one_node[metric].value,
            baseline_name="the same on one RabbitMQ node",
            notes={
                "cluster": row.notes,
                "one_node": one_node[metric].notes,
                "quorum_queues": len(quorum),
                "rpc_queues": [n for n in quorum if n.startswith("rpc-")],
            },
        )
        for metric, row in on_cluster.items()
        if metric in one_node
    ]


def _on_private_broker(levels, nodes: int) -> tuple[dict[str, harness.Row], dict[str, str]]:
    """The registration benchmark with every process on a private broker of ``nodes`` nodes
    (:func:`tools.cluster.start_cluster`; one node is the same node, alone): its rows by
    metric, and the broker's queues with their types."""
    for attempt in range(START_ATTEMPTS):
        base = Path(tempfile.mkdtemp(prefix=f"bench-cluster{nodes}-"))
        ports = free_port_block(district.ports_needed(nodes), harness.BENCH_PORTS)
        try:
            broker = district.start_cluster(base, ports, f"bancheng-bench-{ports[0]}", nodes)
            break
        except RuntimeError:
            # a port of the block was taken meanwhile (other runs share the range): new ones
            shutil.rmtree(base, ignore_errors=True)
            if attempt == START_ATTEMPTS - 1:
                raise
    try:
        harness.BROKER_ENVIRONMENT.update(
            {
                "AMQP_URI": broker.amqp_uris,
                # the services' users are made on it (any node's management API)
                "RABBITMQ_ADMIN_URI": broker.management_url(0),
                "RABBIT_MANAGEMENT_URL": broker.management_url(0),
            }
        )
        rows = _by_metric(registration.run(levels=levels))
        return rows, broker.queue_types("/")
    finally:
        harness.BROKER_ENVIRONMENT.clear()
        broker.stop()
        shutil.rmtree(base, ignore_errors=True)


def _by_metric(rows: list[harness.Row]) -> dict[str, harness.Row]:
    """Bancheng's registration rows of the kept kinds, by metric (the memory rows left out)."""
    return {
        row.metric: row
        for row in rows
        if row.benchmark == "registration" and row.metric.endswith(KEPT)
    }
