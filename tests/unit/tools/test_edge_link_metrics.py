"""The site nodes' link metrics in local runs (tools/edge.py): a process per site on
8200+10i+2, and the file the local Prometheus config reads them from."""

import json

import yaml

from services.common.config import REPO_ROOT
from tools import edge

PROMETHEUS_LOCAL = REPO_ROOT / "deploy" / "prometheus" / "prometheus-local.yml"


def test_each_site_node_runs_its_link_metrics_on_a_port_of_its_own():
    plans = edge.plans(["XJK", "MY"], REPO_ROOT / "run")
    for plan in plans:
        [watcher] = [p for p in plan.processes() if p.name == f"site-{plan.lower}-links"]
        assert watcher.module == "services.common.link_metrics:LinkMetricsService"
        assert watcher.port == 8200 + 10 * plan.position + 2
    ports = [process.port for plan in plans for process in plan.processes()]
    assert len(ports) == len(set(ports))


def test_the_local_prometheus_reads_the_targets_tools_edge_writes(tmp_path):
    config = yaml.safe_load(PROMETHEUS_LOCAL.read_text(encoding="utf-8"))
    [job] = [j for j in config["scrape_configs"] if j["job_name"] == "bancheng-site-links"]
    [files] = [sd["files"] for sd in job["file_sd_configs"]]
    # file_sd paths are relative to the config file
    assert [(PROMETHEUS_LOCAL.parent / f).resolve() for f in files] == [
        (REPO_ROOT / "run" / "sites" / edge.SCRAPE_TARGETS_FILE).resolve()
    ]
    written = edge.write_scrape_targets(tmp_path, edge.plans(["XJK", "MY"], tmp_path))
    assert written == tmp_path / "sites" / edge.SCRAPE_TARGETS_FILE
    assert (
        yaml.safe_load(written.read_text())
        == json.loads(written.read_text())
        == [
            {"targets": ["127.0.0.1:8212"], "labels": {"site": "XJK"}},
            {"targets": ["127.0.0.1:8222"], "labels": {"site": "MY"}},
        ]
    )
