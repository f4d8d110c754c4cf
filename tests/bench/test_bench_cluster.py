"""A small run of the registration benchmark on the three-node cluster (bench.cluster)."""

import pytest

from tests.bench.test_bench_small import small_run

pytestmark = pytest.mark.e2e


def test_registration_on_the_cluster_is_measured_against_one_node_with_quorum_rpc_queues():
    rows = small_run("registration_cluster")
    assert {row["benchmark"] for row in rows} == {"reg_cluster"}
    [throughput] = [row for row in rows if row["metric"].endswith("registrations/s (3 nodes)")]
    assert throughput["value"] > 0 and throughput["baseline"] > 0
    assert throughput["notes"]["cluster"]["failures"] == 0
    assert throughput["notes"]["one_node"]["failures"] == 0
    assert throughput["notes"]["cluster"]["bancheng"]["n"] > 0
    assert set(throughput["notes"]["rpc_queues"]) >= {
        "rpc-intake",
        "rpc-coordination",
        "rpc-accountability",
        "rpc-reporting",
    }, "every service's RPC queue on the cluster is a quorum queue"
    assert throughput["notes"]["quorum_queues"] > 5
