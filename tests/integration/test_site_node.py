"""A site node linked to the district by two on-confirm shovels (docs/network.md), on real
nodes: a district broker and a site broker of their own (tools.private_infra; the district is
one node here, for speed), a database each on the machine's PostgreSQL, the four services at
the district and intake + the front door at the site, in this process.

The site registers while its link is down; its front door lists and shows its cases, and
answers 503 (never 500, never a hang) where it needs the district. The link comes up: every
case reaches the district once, with the timeline entries of all four services, the deadline
counted from its ``received_at``; the district's decisions come back to the site's lists.
"""

import os
import threading
import time
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
import requests
from stdnum.cn import ric

from services.accountability.service import AccountabilityService
from services.common import event_queues, links
from services.common.errors import InvalidField
from services.common.rpc import SignedClusterRpcProxy
from services.coordination.service import CoordinationService
from services.gateway.service import GatewayService
from services.intake.seed import load_seed
from services.intake.service import IntakeService
from services.reporting.service import ReportingService
from tests.conftest import BASE_CONFIG, SEED_DIR
from tests.integration.helpers import running, wait_for
from tools import edge, sandbox
from tools.private_infra import RabbitNode, free_port_block

pytestmark = pytest.mark.integration

SITE = "XJK"
SHANGHAI = ZoneInfo("Asia/Shanghai")
OFFICER = {"id": "S0004", "name": "张建国", "role": "officer", "site": "HALL"}
XJK_STAFF = {"id": "S0002", "name": "陈志刚", "role": "window_staff", "site": "XJK"}
DISTRICT_SERVICES = (IntakeService, CoordinationService, AccountabilityService, ReportingService)
CONSUMERS = ("coordination", "accountability", "reporting")


def id_number(serial: int) -> str:
    base = f"32010219900307{serial:03d}"
    return base + ric.calc_check_digit(base + "0")


def registration(serial: int, **overrides) -> dict:
    payload = {
        "site": SITE,
        "window": "W01",
        "matter": "M002",
        "department": "SCJ",
        "channel": "window",
        "applicant": {
            "kind": "person",
            "name": f"站点申请人{serial}",
            "id_number": id_number(serial),
            "phone": "13912345678",
        },
        "description": "个体工商户设立登记材料不被认可（站点节点登记）",
        "first_receiver": "S0002",
    }
    payload.update(overrides)
    return payload


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    """The two brokers and two databases; removed afterwards."""
    base = tmp_path_factory.mktemp("network")
    ports = free_port_block(12)
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:4]}"
    cookie = base / "home"
    district = RabbitNode(
        f"bancheng-edge-district-{tag}@localhost",
        ports[0],
        ports[1],
        (ports[2], ports[3]),
        base / "district",
        cookie_home=cookie,
    )
    site = RabbitNode(
        f"bancheng-edge-site-{tag}@localhost",
        ports[4],
        ports[5],
        (ports[6], ports[7]),
        base / "site",
        cookie_home=cookie,
        plugins=edge.SITE_PLUGINS,
        config_lines=(f"management.tcp.port = {ports[8]}", "management.tcp.ip = 127.0.0.1"),
    )
    starting = [threading.Thread(target=node.start) for node in (district, site)]
    for thread in starting:
        thread.start()
    for thread in starting:
        thread.join()
    run = f"bancheng_edge_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    databases = {}
    try:
        for side in ("district", "site"):
            url = sandbox.create_database(BASE_CONFIG["DATABASE_URL"], f"{run}_{side}")
            databases[f"{side}_url"] = url
            load_seed(url, SEED_DIR, demo_logins=True)
        yield {
            "district": district,
            "site": site,
            "site_management": f"http://guest:guest@127.0.0.1:{ports[8]}/",
            "http_ports": ports[9:12],
            **databases,
        }
    finally:
        for url in databases.values():
            sandbox.drop_database(url)
        for node in (site, district):
            node.stop()


def settings(**values) -> dict:
    return {**BASE_CONFIG["BANCHENG"], "DEMO": True, "DB_POOL_MAX": 4, **values}


@pytest.fixture(scope="module")
def configs(network):
    site_door = f"http://127.0.0.1:{network['http_ports'][1]}"
    district = {
        **BASE_CONFIG,
        "AMQP_URI": network["district"].amqp_uri,
        "DATABASE_URL": network["district_url"],
        "WEB_SERVER_ADDRESS": f"127.0.0.1:{network['http_ports'][0]}",
        "BANCHENG": settings(SITE_NODES=f"{SITE}={site_door}"),
    }
    site = {
        **BASE_CONFIG,
        "AMQP_URI": network["site"].amqp_uri,
        "DATABASE_URL": network["site_url"],
        "WEB_SERVER_ADDRESS": f"127.0.0.1:{network['http_ports'][1]}",
        "BANCHENG": settings(SITE=SITE, SITE_NODE=SITE, DISTRICT_FRONT_DOOR="http://district"),
    }
    every_queue = [
        q for cls in event_queues.consuming_services() for q in event_queues.event_queues(cls)
    ]
    event_queues.migrate(district["AMQP_URI"], district, every_queue)
    event_queues.migrate(site["AMQP_URI"], site, event_queues.event_queues(IntakeService))
    link = links.SiteLink(
        site=SITE,
        site_amqp_uri=site["AMQP_URI"],
        site_management_url=network["site_management"],
        district_amqp_uris=[district["AMQP_URI"]],
    )
    links.declare_queues(link)  # the link is down: no shovel yet
    return {
        "district": district,
        "site": site,
        "link": link,
        "front_door": site_door,
        "intake_address": f"127.0.0.1:{network['http_ports'][2]}",
    }


def rows(url: str, sql: str, *args) -> list[dict]:
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute(sql, args).fetchall()


def timeline_counts(url: str, case_nos: list[str]) -> dict[tuple[str, str], int]:
    """(schema, case_no) → entries, for intake and the three consumers."""
    counts = {}
    for schema in ("intake", *CONSUMERS):
        for row in rows(
            url,
            f"SELECT case_no, count(*) AS n FROM {schema}.timeline WHERE case_no = ANY(%s) "
            "GROUP BY case_no",
            case_nos,
        ):
            counts[(schema, row["case_no"])] = row["n"]
    return counts


def settled(read, quiet: float = 2.0, timeout: float = 30.0):
    """``read()`` once it gave the same answer for ``quiet`` seconds (consumers are done)."""
    deadline = time.monotonic() + timeout
    last = read()
    while time.monotonic() < deadline:
        time.sleep(quiet)
        current = read()
        if current == last:
            return current
        last = current
    raise AssertionError(f"still changing after {timeout}s: {last}")


def login(front_door: str, username: str) -> dict:
    response = requests.post(
        f"{front_door}/api/v1/auth/login",
        json={"username": username, "password": "demo"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def test_a_site_registers_offline_and_the_district_learns_every_case_once(configs):
    district, site, link = configs["district"], configs["site"], configs["link"]
    api = f"{configs['front_door']}/api/v1"
    received_at = (datetime.now(SHANGHAI) - timedelta(days=2)).replace(microsecond=0)
    # each container serves HTTP (/healthz at least) on its config's address: the front door
    # gets one of its own
    site_intake = {**site, "WEB_SERVER_ADDRESS": configs["intake_address"]}
    with (
        running(district, *DISTRICT_SERVICES),
        running(site_intake, IntakeService),
        running(site, GatewayService),
    ):
        links.down(link)
        assert links.status(link).up is False
        staff = login(configs["front_door"], "xjk.staff")

        # -- the link is down: the site registers, lists and shows its own cases ---------
        case_nos = []
        for serial in range(3):
            body = registration(
                serial, **({"received_at": received_at.isoformat()} if serial == 0 else {})
            )
            answer = requests.post(
                f"{api}/cases",
                json=body,
                headers={**staff, "Idempotency-Key": f"site-{serial}-{uuid.uuid4().hex}"},
                timeout=15,
            )
            assert answer.status_code == 201, answer.text
            case_nos.append(answer.json()["case_no"])
        today = datetime.now(SHANGHAI).strftime("%Y%m%d")
        assert case_nos == [f"XW-{today}-{n:05d}-{SITE}" for n in (1, 2, 3)]

        listed = requests.get(f"{api}/cases", headers=staff, timeout=15)
        assert listed.status_code == 200
        assert {item["case_no"] for item in listed.json()["items"]} == set(case_nos)
        view = requests.get(f"{api}/cases/{case_nos[0]}", headers=staff, timeout=15)
        assert view.status_code == 200, view.text
        shown = view.json()
        assert (
            shown["last_synced"]["status"] == "registered"
            and "最后同步" in shown["last_synced"]["label"]
        )
        assert [entry["kind"] for entry in shown["timeline"]] == ["registered"]
        page = requests.get(
            f"{configs['front_door']}/cases/{case_nos[0]}",
            cookies={"bancheng_token": staff["Authorization"].split()[1]},
            timeout=15,
        )
        assert page.status_code == 200 and "最后同步" in page.text

        # what needs the district answers 503 at once, in Chinese, never 500 or a hang
        officer = login(configs["front_door"], "officer")
        supervisor = login(configs["front_door"], "supervisor")
        for who, method, path, body in (
            (officer, "post", f"/cases/{case_nos[1]}/classify", {"type": "hard", "reason": "x"}),
            (supervisor, "get", "/investigations", None),
            (officer, "get", f"/reports/monthly?month={datetime.now(SHANGHAI):%Y-%m}", None),
        ):
            started = time.monotonic()
            refused = getattr(requests, method)(f"{api}{path}", json=body, headers=who, timeout=15)
            assert refused.status_code == 503, (path, refused.status_code, refused.text)
            assert refused.headers.get("Retry-After")
            assert "站点节点" in refused.json()["error"]["message"]
            assert time.monotonic() - started < 2.0

        # the district does not know them yet; they wait on the site's side of the link
        wait_for(lambda: links.status(link).waiting_to_district == 2 * len(case_nos), 20)
        assert (
            rows(district["DATABASE_URL"], "SELECT 1 FROM intake.cases WHERE site_code = %s", SITE)
            == []
        )

        # and the district refuses to number the site's cases itself
        with SignedClusterRpcProxy(district) as rpc:
            with pytest.raises(InvalidField) as refusal:
                rpc.intake.register_case(registration(9), XJK_STAFF, None)
        assert refusal.value.field == "site" and configs["front_door"] in refusal.value.message

        # -- the link comes back: every case once, with all four services' timelines -----
        links.up(link)
        assert links.wait_running(link).up
        expected = {(schema, no): 1 for schema in ("intake", *CONSUMERS) for no in case_nos}
        wait_for(lambda: timeline_counts(district["DATABASE_URL"], case_nos) == expected, 60, 0.5)
        stored = rows(
            district["DATABASE_URL"],
            "SELECT case_no, applicant_name, received_at, idempotency_key FROM intake.cases "
            "WHERE site_code = %s ORDER BY case_no",
            SITE,
        )
        assert [row["case_no"] for row in stored] == case_nos
        assert (
            stored[0]["applicant_name"] == "站点申请人0" and stored[0]["received_at"] == received_at
        )
        assert all(row["idempotency_key"] is None for row in stored)
        for schema, table in (("coordination", "cases"), ("reporting", "cases")):
            found = rows(
                district["DATABASE_URL"],
                f"SELECT case_no FROM {schema}.{table} WHERE case_no = ANY(%s)",
                case_nos,
            )
            assert sorted(row["case_no"] for row in found) == case_nos
        wait_for(lambda: links.status(link).waiting_to_district == 0, 20)

        # -- the district decides; the site hears it --------------------------------------
        with SignedClusterRpcProxy(district) as rpc:
            rpc.coordination.classify_case(
                case_nos[0],
                {"type": "pending", "reason": "职责不清，需联席会议", "complex": False},
                OFFICER,
            )
            [deadline] = rpc.coordination.case_deadlines(case_nos[0])
        # registered offline two days ago: the reply deadline counts from received_at
        [counted] = rows(
            district["DATABASE_URL"],
            "SELECT counting_from, start_event FROM coordination.deadlines WHERE id = %s",
            deadline["id"],
        )
        assert counted == {"counting_from": received_at, "start_event": "case_registered"}

        def site_heard():
            [case] = rows(
                site["DATABASE_URL"],
                "SELECT status, case_type FROM intake.cases WHERE case_no = %s",
                case_nos[0],
            )
            return case["case_type"] == "pending" and case["status"] != "registered"

        wait_for(site_heard, 30, 0.5)
        shown = requests.get(f"{api}/cases/{case_nos[0]}", headers=staff, timeout=15).json()
        assert shown["last_synced"]["type"] == "pending"
        before = settled(lambda: timeline_counts(district["DATABASE_URL"], case_nos))

        # -- cut again, register, restore: the new case crosses once, the old ones stay once
        links.down(link)
        assert links.status(link).shovels == dict.fromkeys(links.shovel_names(SITE), "missing")
        late = requests.post(
            f"{api}/cases",
            json=registration(5),
            headers={**staff, "Idempotency-Key": uuid.uuid4().hex},
            timeout=15,
        )
        assert late.status_code == 201, late.text
        links.up(link)
        assert links.wait_running(link).up
        every = [*case_nos, late.json()["case_no"]]
        expected = {
            **before,
            **{(schema, every[-1]): 1 for schema in ("intake", *CONSUMERS)},
        }
        wait_for(lambda: timeline_counts(district["DATABASE_URL"], every) == expected, 60, 0.5)
        time.sleep(2)  # anything a redelivery would add has had time to arrive
        assert timeline_counts(district["DATABASE_URL"], every) == expected
        registered = rows(
            district["DATABASE_URL"],
            "SELECT count(*) AS n FROM intake.cases WHERE site_code = %s",
            SITE,
        )
        assert registered[0]["n"] == len(every)
        links.down(link)
