"""The district cluster (tools.cluster) on this machine: three real RabbitMQ nodes of our own,
joined; a service on the cluster's URI list keeps answering when the node it uses stops, its
quorum RPC queue has a replica on every node, and the stopped node rejoins."""

import time

import pytest
import requests

from services.common import event_queues
from services.common.rpc import SignedClusterRpcProxy, rpc
from tests.conftest import BASE_CONFIG
from tests.integration.helpers import running, wait_for
from tools.cluster import NODE_COUNT, ports_needed, start_cluster
from tools.private_infra import free_port_block

pytestmark = pytest.mark.integration


class Counter:
    name = "cluster_counter"
    calls = []

    @rpc
    def count(self, token):
        Counter.calls.append(token)
        return len(Counter.calls)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    base = tmp_path_factory.mktemp("cluster")
    started = start_cluster(base, free_port_block(ports_needed()), f"bancheng-test-{id(base)}")
    try:
        yield started
    finally:
        started.stop()


def test_three_nodes_run_joined_with_an_amqp_uri_per_node(cluster):
    assert cluster.running_nodes() == sorted(node.name for node in cluster.nodes)
    uris = event_queues.amqp_uris(cluster.amqp_uris)
    assert len(uris) == NODE_COUNT
    assert uris == [f"amqp://guest:guest@127.0.0.1:{node.amqp_port}/" for node in cluster.nodes]


def test_a_service_survives_the_stop_of_its_node_and_the_queue_keeps_its_replicas(cluster):
    config = {**BASE_CONFIG, "AMQP_URI": cluster.amqp_uris, "WEB_SERVER_ADDRESS": "127.0.0.1:0"}
    event_queues.migrate_rpc_queues(cluster.amqp_uris, config, ["cluster_counter"])
    api = f"http://127.0.0.1:{cluster.management_ports[1]}/api"
    queue = requests.get(
        f"{api}/queues/%2F/rpc-cluster_counter", auth=("guest", "guest"), timeout=10
    )
    described = queue.json()
    assert described["type"] == "quorum"
    assert sorted(described["members"]) == sorted(node.name for node in cluster.nodes)

    with running(config, Counter):
        with SignedClusterRpcProxy(config, timeout=10) as proxy:
            first = proxy.cluster_counter.count("before")
        # every connection went to the first node of the list: that is the one stopped
        nodes = wait_for(lambda: connection_nodes(api), timeout=20, interval=0.5)
        assert nodes == {cluster.nodes[0].name}
        cluster.stop_node(0)
        try:
            answered, deadline = None, time.monotonic() + 60
            while answered is None:
                try:
                    # a new caller connects to a node that is up; the service reconnected
                    with SignedClusterRpcProxy(config, timeout=5) as proxy:
                        answered = proxy.cluster_counter.count("after")
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(1)
            # (a request of a try that timed out may have run too: no expiry on this proxy)
            assert first == 1 and answered == len(Counter.calls) >= 2
            assert Counter.calls[0] == "before" and "after" in Counter.calls
        finally:
            cluster.start_node(0)
    assert cluster.running_nodes() == sorted(node.name for node in cluster.nodes)


def connection_nodes(api: str) -> set[str]:
    """The nodes the clients are connected to (the management API's statistics lag a little)."""
    connections = requests.get(f"{api}/connections", auth=("guest", "guest"), timeout=10).json()
    return {connection["node"] for connection in connections}


def test_starting_a_running_cluster_again_uses_it_as_it_is(cluster):
    ports = [
        port
        for node, management in zip(cluster.nodes, cluster.management_ports, strict=True)
        for port in (node.amqp_port, node.dist_port, *node.ctl_ports, management)
    ]
    prefix = cluster.nodes[0].name.removesuffix("-1@localhost")
    again = start_cluster(cluster.base_dir, ports, prefix, timeout=30)
    assert again.amqp_uris == cluster.amqp_uris
    assert again.running_nodes() == sorted(node.name for node in cluster.nodes)
    assert all(node._server is None for node in again.nodes), "no second server was started"
