"""make drill's plan: the cluster drills run on the three-node cluster, the others on one node."""

from pathlib import Path

from tools import drill, drill_cluster, localrun


def test_the_full_plan_runs_the_cluster_drills_on_the_cluster_and_the_rest_on_one_node():
    plan = drill.full_plan(localrun.processes())
    groups = drill.systems_for(plan, Path("/run"))
    assert [(system, where) for system, _, where in groups][:2] == [
        (drill.DrilledSystem, Path("/run")),
        (drill_cluster.ClusterDrilledSystem, Path("/run/cluster")),
    ]  # (the network drills follow, on a system of their own)
    on_cluster = groups[1][1]
    assert [d.name for d in on_cluster] == ["cluster-node-stopped", "cluster-node-killed"]
    assert {d.fault for d in on_cluster} == set(drill_cluster.FAULTS)
    assert all(d.outage_seconds > 0 and d.fault_at < d.load_seconds for d in on_cluster)
    assert not {d.fault for d in groups[0][1]} & set(drill_cluster.FAULTS)
    assert sum(len(drills) for _, drills, _ in groups) == len(plan)


def test_the_short_plan_needs_no_cluster():
    assert [system for system, _, _ in drill.systems_for(drill.short_plan(), Path("/r"))] == [
        drill.DrilledSystem
    ]


def test_a_drill_names_the_node_it_takes_down():
    assert drill_cluster.node_index("node-1") == 0
    assert drill_cluster.node_index("node-3") == 2
    assert drill_cluster.node_index(None) == 0
