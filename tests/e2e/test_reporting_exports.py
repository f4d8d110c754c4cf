"""End to end: the report routes of the front door, over HTTP, on events published to the system.

The month (2032-05) belongs to this module alone; events are published as the services would.
"""

import csv
import io
import time
import uuid

import pytest
import requests
from nameko.amqp.publish import Publisher
from nameko.constants import PERSISTENT
from nameko.standalone.events import get_event_exchange
from openpyxl import load_workbook

from services.common.events import new_event
from services.common.outbox import signed_by
from tests.system import API, login

pytestmark = pytest.mark.e2e

RUN = uuid.uuid4().hex[:6].upper()
BASE = API.rsplit("/api/v1", 1)[0]


def publish(config, source, event_type, data):
    exchange = get_event_exchange(source, config)
    event = new_event(event_type, data, source_service=source, source_site=data.get("site"))
    Publisher(config["AMQP_URI"], declare=[exchange], delivery_mode=PERSISTENT).publish(
        event,
        exchange=exchange,
        routing_key=event_type,
        headers=signed_by(config, source, event),
    )


@pytest.fixture(scope="module")
def month(system, service_config):
    """Three cases in May 2032 (two at the hall, one at 新街口), one classified and replied."""
    sites = ("HALL", "HALL", "XJK")
    for n, site in enumerate(sites, start=1):
        publish(
            service_config,
            "intake",
            "case_registered",
            {
                "case_no": f"XW-E{RUN}-{n:03d}",
                "site": site,
                "window": "W01",
                "matter": "M005",
                "department": "FCJ",
                "channel": "window",
                "applicant_kind": "person",
                "id_number_masked": "320102********4031",
                "first_receiver": "S0001",
                "received_at": f"2032-05-0{n}T09:00:00+08:00",
            },
        )
    publish(
        service_config,
        "coordination",
        "case_classified",
        {
            "case_no": f"XW-E{RUN}-001",
            "type": "hard",
            "complex": False,
            "reason": "缺少非关键材料",
            "actor": "S0004",
            "at": "2032-05-01T10:00:00+08:00",
        },
    )
    publish(
        service_config,
        "coordination",
        "case_replied",
        {
            "case_no": f"XW-E{RUN}-001",
            "replied_at": "2032-05-06T10:00:00+08:00",
            "due_at": "2032-05-07T18:00:00+08:00",
            "on_time": True,
            "working_days_taken": 3,
        },
    )
    headers = login("officer")
    deadline = time.monotonic() + 20
    while True:
        summary = requests.get(
            f"{API}/reports/monthly", params={"month": "2032-05"}, headers=headers, timeout=10
        ).json()
        if summary["totals"]["cases"] == 3 and summary["replies"]["total"] == 1:
            return summary
        assert time.monotonic() < deadline, f"reporting did not count the month: {summary}"
        time.sleep(0.2)


def test_the_summary_as_json_csv_and_xlsx(month):
    assert month["totals"]["by_site"] == {"HALL": 2, "XJK": 1}
    assert month["top_matters"] == [{"matter": "M005", "count": 3, "share": 1.0}]
    assert month["replies"]["median_working_days"] == 3
    headers = login("bureau")
    text = requests.get(
        f"{API}/reports/monthly.csv", params={"month": "2032-05"}, headers=headers, timeout=10
    )
    assert text.status_code == 200 and text.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(text.content.decode("utf-8").lstrip("\ufeff"))))
    assert ["咨询及登记事项（件）", "3"] in rows
    assert ["住房租赁合同登记备案", "3", "1.0"] in rows  # matter names come from intake

    book = requests.get(
        f"{API}/reports/monthly.xlsx", params={"month": "2032-05"}, headers=headers, timeout=10
    )
    assert book.status_code == 200
    sheet = load_workbook(io.BytesIO(book.content), read_only=True)["按场所"]
    assert [list(row) for row in sheet.iter_rows(values_only=True)][1:] == [
        ["玄武区政务服务中心", 2],
        ["新街口街道便民服务中心", 1],
    ]


def test_the_printable_page_has_its_charts(month):
    headers = login("supervisor")
    page = requests.get(
        f"{BASE}/reports/monthly", params={"month": "2032-05"}, headers=headers, timeout=10
    )
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "月度汇总" in page.text and page.text.count("<svg") == 6  # 5 bar charts, the trend
    assert "住房租赁合同登记备案" in page.text


def test_window_staff_see_their_own_site_only(month):
    street = login("xjk.staff")
    own = requests.get(
        f"{API}/reports/monthly", params={"month": "2032-05"}, headers=street, timeout=10
    ).json()
    assert own["site"] == "XJK" and own["totals"]["cases"] == 1
    other = requests.get(
        f"{API}/reports/monthly",
        params={"month": "2032-05", "site": "HALL"},
        headers=street,
        timeout=10,
    )
    assert other.status_code == 403 and other.json()["error"]["field"] == "site"
    assert requests.get(f"{API}/reports/monthly", params={"month": "2032-05"}).status_code == 401
    bad = requests.get(f"{API}/reports/monthly", params={"month": "May"}, headers=street, timeout=5)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "month"


def test_the_ledger_streams_as_csv_and_xlsx(month):
    headers = login("officer")
    period = {"from": "2032-05-01", "to": "2032-05-31", "batch": "1"}  # one RPC per case
    streamed = requests.get(
        f"{API}/reports/ledger.csv", params=period, headers=headers, timeout=10, stream=True
    )
    assert streamed.status_code == 200
    text = b"".join(streamed.iter_content(1024)).decode("utf-8").lstrip("\ufeff")
    rows = [row for row in csv.reader(io.StringIO(text)) if row[0].startswith(f"XW-E{RUN}")]
    assert [row[0] for row in rows] == [f"XW-E{RUN}-{n:03d}" for n in (1, 2, 3)]
    assert rows[0][9] == "不好办" and "2032-05-06T10:00:00+08:00" in rows[0]
    assert all(row[7] == "320102********4031" for row in rows)

    book = requests.get(f"{API}/reports/ledger.xlsx", params=period, headers=headers, timeout=10)
    sheet = load_workbook(io.BytesIO(book.content), read_only=True)["台账"]
    cases = [row[0] for row in sheet.iter_rows(values_only=True) if str(row[0]).startswith("XW-E")]
    assert cases == [row[0] for row in rows]

    street = requests.get(
        f"{API}/reports/ledger.csv", params=period, headers=login("xjk.staff"), timeout=10
    )
    street_rows = list(csv.reader(io.StringIO(street.content.decode("utf-8").lstrip("\ufeff"))))
    assert street_rows[1:] and all(row[1] == "XJK" for row in street_rows[1:])
    missing = requests.get(
        f"{API}/reports/ledger.csv", params={"from": "2032-05-01"}, headers=headers, timeout=5
    )
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "to"
