"""deploy/prometheus/: the configs and rules pass promtool, and a real Prometheus fires the
overdue alert when a case's deadline passes (reporting's /metrics on real RabbitMQ/PostgreSQL).

promtool and prometheus come from Debian's ``prometheus`` package, installed when missing.
"""

import shutil
import socket
import subprocess
import time
import uuid
from contextlib import contextmanager

import pytest
import requests
import yaml
from nameko.amqp.publish import Publisher
from nameko.constants import PERSISTENT
from nameko.standalone.events import get_event_exchange

from services.common.config import REPO_ROOT
from services.common.events import new_event
from services.common.outbox import signed_by
from services.reporting.service import ReportingService
from tests.integration.helpers import private_vhost, running, wait_for

pytestmark = pytest.mark.integration

PROMETHEUS_DIR = REPO_ROOT / "deploy" / "prometheus"
PROMETHEUS = "/usr/bin/prometheus"


def _apt_install() -> subprocess.CompletedProcess:
    return subprocess.run(
        ["apt-get", "install", "-y", "prometheus"],
        capture_output=True,
        text=True,
        env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
    )


@pytest.fixture(scope="session")
def promtool() -> str:
    """promtool, installing Debian's prometheus package when it is missing."""
    if shutil.which("promtool") is None:
        if _apt_install().returncode != 0:
            subprocess.run(["apt-get", "update"], capture_output=True, text=True)
            result = _apt_install()
            if result.returncode != 0:
                pytest.fail(f"could not install prometheus (apt-get):\n{result.stderr[-2000:]}")
    path = shutil.which("promtool")
    assert path, "the prometheus package is installed but promtool is not on PATH"
    return path


def promtool_run(promtool: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [promtool, *args], cwd=PROMETHEUS_DIR, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus-local.yml"])
def test_scrape_configs_are_valid(promtool, config):
    result = promtool_run(promtool, "check", "config", config)
    assert result.returncode == 0, result.stdout + result.stderr


def test_local_config_scrapes_every_process_of_make_up():
    from tools import localrun

    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus-local.yml").read_text(encoding="utf-8"))
    targets = {
        target
        for job in config["scrape_configs"]
        for static in job.get("static_configs", [])  # the site nodes' job: file_sd
        for target in static["targets"]
    }
    assert targets == {f"127.0.0.1:{process.port}" for process in localrun.processes()}


def test_alert_rules_pass_their_unit_tests(promtool):
    tests = sorted(str(path) for path in (PROMETHEUS_DIR / "tests").glob("*.yml"))
    assert tests, "no rule unit tests in deploy/prometheus/tests"
    result = promtool_run(promtool, "test", "rules", *tests)
    assert result.returncode == 0, result.stdout + result.stderr
    rules = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text(encoding="utf-8"))
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    tested = "".join((PROMETHEUS_DIR / "tests" / path).read_text() for path in tests)
    assert all(f"alertname: {alert}" in tested for alert in alerts), "an alert has no unit test"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rules_without_waiting(target) -> None:
    """alerts.yml with every ``for:`` at 0s, so the test need not wait a minute."""
    rules = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text(encoding="utf-8"))
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule["for"] = "0s"
    target.write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")


def alerts_for(api: str, department: str) -> list[dict]:
    alerts = requests.get(f"{api}/alerts", timeout=5).json()["data"]["alerts"]
    return [
        alert
        for alert in alerts
        if alert["labels"].get("alertname") == "BanchengCaseOverdue"
        and alert["labels"].get("department") == department
    ]


@contextmanager
def prometheus_scraping(tmp_path, job: str, target_port: int):
    """A real Prometheus with alerts.yml (no waiting), scraping ``job`` every second; yields
    its API URL once it has scraped the target."""
    prometheus_port = free_port()
    rules_without_waiting(tmp_path / "alerts.yml")
    (tmp_path / "prometheus.yml").write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": ["alerts.yml"],
                "scrape_configs": [
                    {
                        "job_name": job,
                        "static_configs": [{"targets": [f"127.0.0.1:{target_port}"]}],
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    api = f"http://127.0.0.1:{prometheus_port}/api/v1"
    log = open(tmp_path / "prometheus.log", "wb")
    prometheus = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{prometheus_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        wait_for(lambda: query(api, f'up{{job="{job}"}} == 1'), timeout=30, interval=0.3)
        yield api
    finally:
        prometheus.terminate()
        try:
            prometheus.wait(timeout=15)
        except subprocess.TimeoutExpired:
            prometheus.kill()
            prometheus.wait(timeout=5)
        log.close()


def query(api: str, expression: str) -> list:
    """The instant vector of ``expression`` (empty while Prometheus is not answering)."""
    try:
        answer = requests.get(f"{api}/query", params={"query": expression}, timeout=2).json()
    except requests.RequestException:
        return []
    return answer["data"]["result"]


def test_a_real_prometheus_fires_the_overdue_alert_when_a_deadline_passes(
    promtool, service_config, tmp_path
):
    run = uuid.uuid4().hex[:6].upper()
    department, case_no = f"T{run}", f"XW-P{run}-001"
    reporting_port = free_port()
    config = {**service_config, "WEB_SERVER_ADDRESS": f"127.0.0.1:{reporting_port}"}
    with (
        running(config, ReportingService),
        prometheus_scraping(tmp_path, "reporting", reporting_port) as api,
    ):
        time.sleep(2.5)  # two rule evaluations after a successful scrape
        assert alerts_for(api, department) == [], "inactive before the deadline passes"

        exchange = get_event_exchange("coordination", config)
        publisher = Publisher(config["AMQP_URI"], declare=[exchange], delivery_mode=PERSISTENT)
        deadline = {
            "case_no": case_no,
            "deadline_id": f"D{run}",
            "kind": "reply",
            "due_at": "2026-03-04T18:00:00+08:00",
            "working_days": 3,
            "provisional": False,
            "department": department,
            "site": "HALL",
        }
        for event_type in ("deadline_set", "deadline_breached"):
            event = new_event(
                event_type, deadline, source_service="coordination", source_site="HALL"
            )
            signed = signed_by(config, "coordination", event)
            publisher.publish(event, exchange=exchange, routing_key=event_type, headers=signed)

        firing = wait_for(
            lambda: [a for a in alerts_for(api, department) if a["state"] == "firing"],
            timeout=30,
            interval=0.3,
        )
        assert firing[0]["labels"]["site"] == "HALL"
        assert firing[0]["labels"]["kind"] == "reply"
        assert case_no not in str(firing), "no case number is a label"


def test_a_real_prometheus_fires_the_dead_letter_alert_for_a_poison_event(
    promtool, service_config, tmp_path
):
    """Only reporting consumes accountability's finding_recorded: one without its case number
    is dead-lettered by reporting, and the alert names the service and the type."""
    reporting_port = free_port()
    labels = 'service="reporting",event_type="finding_recorded",reason="invalid"'

    def dead_letter_alerts(api):
        alerts = requests.get(f"{api}/alerts", timeout=5).json()["data"]["alerts"]
        return [
            alert
            for alert in alerts
            if alert["labels"].get("alertname") == "BanchengEventDeadLettered"
            and alert["labels"].get("event_type") == "finding_recorded"
        ]

    with (
        # the session's running reporting would take the poison event from the shared queue
        private_vhost(service_config, "alerts") as private,
        running(
            config := {**private, "WEB_SERVER_ADDRESS": f"127.0.0.1:{reporting_port}"},
            ReportingService,
        ),
        prometheus_scraping(tmp_path, "reporting", reporting_port) as api,
    ):
        # the counter is scraped at zero first, so the dead letter is an increase
        wait_for(lambda: query(api, f"bancheng_events_dead_lettered_total{{{labels}}}"), timeout=30)
        before = float(
            query(api, f"bancheng_events_dead_lettered_total{{{labels}}}")[0]["value"][1]
        )
        exchange = get_event_exchange("accountability", config)
        poison = new_event(
            "finding_recorded",
            {"investigation_id": 1, "cause": "attitude"},
            source_service="accountability",
            source_site="HALL",
        )
        Publisher(config["AMQP_URI"], declare=[exchange], delivery_mode=PERSISTENT).publish(
            poison, exchange=exchange, routing_key="finding_recorded"
        )
        wait_for(
            lambda: query(api, f"bancheng_events_dead_lettered_total{{{labels}}} > {before}"),
            timeout=30,
            interval=0.3,
        )
        firing = wait_for(
            lambda: [a for a in dead_letter_alerts(api) if a["state"] == "firing"],
            timeout=30,
            interval=0.3,
        )
    assert firing[0]["labels"]["service"] == "reporting"
    assert firing[0]["labels"]["reason"] == "invalid"
