"""Open311 GeoReport v2 end to end (issue 15, item 1), on the running system, through a client
written from the spec (tests/e2e/open311_client.py): every JSON answer is held to the spec's
schemas (tests/e2e/open311_schemas.py), every XML answer parsed and its elements checked.

A 12345 platform lists the services (one per matter), reads a service definition, files a
request with attributes under the demo key, and follows it by id until it shows its status,
the department responsible and the deadline coordination set; the request is a case on
channel open311 in the staff's API and pages, with the integrating system named. Reading is
public and shows no personal data; a missing, wrong or foreign key is 403; errors are the
spec's, in the resource's format.
"""

import os
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import jsonschema
import pytest
import requests

from services.gateway.http import TOKEN_COOKIE
from tests.e2e import open311_schemas as schemas
from tests.e2e.open311_client import Open311Client, parse_xml
from tests.e2e.test_scoping import handed_over
from tests.system import API, GATEWAY_PORT, login

pytestmark = pytest.mark.e2e
ENDPOINT = f"http://127.0.0.1:{GATEWAY_PORT}/open311/v2"
DEMO_KEY = "demo-open311-key"
SH = ZoneInfo("Asia/Shanghai")
PHONE, EMAIL = "13812345679", "li.si@example.cn"
FIRST, LAST = "四", "李"


def valid(document, schema):
    jsonschema.validate(document, schema)
    return document


def hall(api_key=DEMO_KEY) -> Open311Client:
    return Open311Client(ENDPOINT, api_key, "HALL")


def file_request(client=None, fmt="json", **fields):
    """A request for 企业开办 (M001) at the hall, with attributes, as a 12345 platform files it."""
    client = client or hall()
    values = {
        "description": f"住所使用证明不被认可，企业开办没有办成（{uuid.uuid4().hex[:6]}）",
        "address_string": "南京市玄武区北京东路41号",
        "first_name": FIRST,
        "last_name": LAST,
        "phone": PHONE,
        "email": EMAIL,
        "account_id": "12345-user-77",
        **fields,
    }
    return client.submit(
        "M001",
        fmt,
        attributes={"materials_missing": ["住所使用证明"], "materials_presented": ["公司章程"]},
        **values,
    )


def api(path, headers, method="GET", body=None):
    response = requests.request(method, f"{API}{path}", json=body, headers=headers, timeout=10)
    return response


def follow(client, case_no, until, timeout=15.0):
    """GET the request by id until ``until(request)`` holds (the client's polling loop)."""
    started = time.monotonic()
    while True:
        answer = client.request(case_no)
        assert answer.status == 200, answer.body
        [found] = valid(answer.data, schemas.REQUESTS)
        if until(found):
            return found
        assert time.monotonic() - started < timeout, f"never reached: {found}"
        time.sleep(0.1)


# -- services ------------------------------------------------------------------------------


def test_one_service_per_matter_in_json_and_xml(system):
    client = Open311Client(ENDPOINT)
    answer = client.services()
    assert answer.status == 200 and answer.content_type.startswith("application/json")
    services = valid(answer.data, schemas.SERVICES)
    matters = api("/matters", login("officer")).json()["items"]
    assert [s["service_code"] for s in services] == [m["code"] for m in matters]
    by_code = {m["code"]: m for m in matters}
    for service in services:
        matter = by_code[service["service_code"]]
        assert service["service_name"] == matter["name"]
        assert service["group"] == matter["department_name"]
        assert service["metadata"] is bool(matter["key_materials"] or matter["other_materials"])
        assert service["type"] == "realtime"

    xml = client.services("xml")
    assert xml.status == 200 and xml.content_type.startswith("text/xml")
    assert xml.body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = ElementTree.fromstring(xml.body)
    assert root.tag == "services" and {child.tag for child in root} == {"service"}
    for element in root:
        assert {child.tag for child in element} == set(schemas.SERVICE["properties"])
    assert xml.data == services  # the same services, element for element


def test_a_jurisdiction_lists_its_own_matters(system):
    at_xjk = Open311Client(ENDPOINT, jurisdiction="XJK").services()
    matters = api("/matters?site=XJK", login("officer")).json()["items"]
    assert [s["service_code"] for s in valid(at_xjk.data, schemas.SERVICES)] == [
        m["code"] for m in matters
    ]
    unknown = Open311Client(ENDPOINT, jurisdiction="NOWHERE").services("xml")
    assert unknown.status == 404
    assert unknown.data[0]["code"] == 404 and "jurisdiction_id" in unknown.data[0]["description"]


def test_a_service_definition_offers_the_matters_materials(system):
    answer = hall().service_definition("M001")
    definition = valid(answer.data, schemas.SERVICE_DEFINITION)
    [matter] = [m for m in api("/matters", login("officer")).json()["items"] if m["code"] == "M001"]
    materials = matter["key_materials"] + matter["other_materials"]
    assert [a["code"] for a in definition["attributes"]] == [
        "materials_presented",
        "materials_missing",
    ]
    for attribute in definition["attributes"]:
        assert attribute["datatype"] == "multivaluelist" and attribute["variable"] is True
        assert [v["key"] for v in attribute["values"]] == materials

    xml = hall().service_definition("M001", "xml")
    root = ElementTree.fromstring(xml.body)
    assert root.tag == "service_definition" and root.findtext("service_code") == "M001"
    attributes = root.findall("attributes/attribute")
    assert len(attributes) == 2
    assert [v.findtext("key") for v in attributes[1].findall("values/value")] == materials
    assert xml.data == definition

    missing = hall().service_definition("M999")
    assert missing.status == 404
    valid(missing.data, schemas.ERRORS)


# -- filing -----------------------------------------------------------------------------------


@pytest.mark.parametrize("api_key", [None, "", "wrong-key"])
def test_without_a_valid_key_nothing_is_filed(system, api_key):
    answer = file_request(hall(api_key))
    assert answer.status == 403
    [error] = valid(answer.data, schemas.ERRORS)
    assert error["code"] == 403 and "api_key" in error["description"]
    xml = file_request(hall(api_key), "xml")
    assert xml.status == 403
    root = ElementTree.fromstring(xml.body)
    assert root.tag == "errors" and root.find("error").findtext("code") == "403"


@pytest.mark.parametrize(
    "fields, status, named",
    [
        ({"description": ""}, 400, "description"),
        ({"address_string": ""}, 400, "address_string"),
        ({"phone": "123"}, 400, "phone"),
        ({"lat": "32.06"}, 400, "long"),
        ({"description": "长" * 2001}, 400, "description"),
    ],
)
def test_a_bad_request_is_a_400_naming_the_field(system, fields, status, named):
    answer = file_request(**fields)
    assert answer.status == status
    [error] = valid(answer.data, schemas.ERRORS)
    assert named in error["description"]


def test_a_request_without_jurisdiction_or_for_an_unknown_service_is_refused(system):
    nowhere = file_request(Open311Client(ENDPOINT, DEMO_KEY))
    assert nowhere.status == 400 and "jurisdiction_id" in nowhere.data[0]["description"]
    unknown = hall().submit("M999", description="x", address_string="玄武区")
    assert unknown.status == 404
    huge = requests.post(f"{ENDPOINT}/requests.json", data={"description": "x" * 70000}, timeout=10)
    assert huge.status_code == 413
    valid(huge.json(), schemas.ERRORS)


def test_a_filed_request_is_an_open311_case_the_staff_see(system):
    answer = file_request()
    assert answer.status == 201, answer.body
    [created] = valid(answer.data, schemas.CREATED)
    case_no = created["service_request_id"]
    assert case_no.endswith("-HALL") and case_no in created["service_notice"]
    assert created["account_id"] == "12345-user-77"

    officer = login("officer")
    case = api(f"/cases/{case_no}", officer).json()
    assert case["channel"] == "open311"
    assert case["applicant_kind"] == "person" and case["applicant_name"] == "李四"
    assert case["id_number_masked"] is None and case["phone"] == PHONE
    assert case["first_receiver"] == "S0004"  # the hall's Open311 receiver
    assert case["window"] == "ESC"
    assert case["materials_missing"] == ["住所使用证明"]
    assert case["materials_presented"] == ["公司章程"]
    assert case["open311"]["system_name"] == "12345 演示平台"
    assert case["open311"]["email"] == EMAIL
    assert case["registered_by"] == f"open311:{case['open311']['integration_id']}"
    assert any("12345/Open311 接入" in entry["text"] for entry in case["timeline"])
    # another site's window staff may not read it, as any case of the hall
    assert api(f"/cases/{case_no}", login("xjk.staff")).status_code == 403

    token = officer["Authorization"].split()[1]
    page = requests.get(
        f"http://127.0.0.1:{GATEWAY_PORT}/cases/{case_no}",
        cookies={TOKEN_COOKIE: token},
        timeout=10,
    )
    assert page.status_code == 200
    assert "12345/Open311 接入" in page.text and "12345 演示平台" in page.text
    assert "南京市玄武区北京东路41号" in page.text
    listed = requests.get(
        f"http://127.0.0.1:{GATEWAY_PORT}/cases", cookies={TOKEN_COOKIE: token}, timeout=10
    )
    assert case_no in listed.text and "12345/Open311 接入" in listed.text


def test_the_form_cannot_pass_a_case_off_as_open311(system):
    body = {
        "site": "HALL",
        "window": "W01",
        "matter": "M001",
        "department": "SCJ",
        "channel": "open311",
        "applicant": {"kind": "person", "name": "王五", "phone": "13912345678"},
        "description": "没有身份证号的窗口登记",
        "first_receiver": "S0001",
    }
    refused = api("/cases", login("hall.staff"), "POST", body)
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "channel"


def test_a_key_files_only_for_its_sites(system, database_url):
    """A key made by the operator's command for XJK only: refused at the hall, filing at XJK,
    listed by its first characters, refused once revoked."""
    env = {**os.environ, "DATABASE_URL": database_url}

    def keys(*arguments):
        done = subprocess.run(
            [sys.executable, "-m", "services.cli", "open311-keys", *arguments],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    made = keys("add", "玄武 App", "--sites", "XJK")
    key = next(line.split(": ", 1)[1] for line in made.splitlines() if "api_key" in line)
    key_id = made.split()[1].rstrip(":")
    at_hall = file_request(hall(key))
    assert at_hall.status == 403 and "jurisdiction_id" in at_hall.data[0]["description"]
    at_xjk = Open311Client(ENDPOINT, key, "XJK").submit(
        "M002", description="个体工商户登记未办成", lat="32.0447", long="118.7849"
    )
    assert at_xjk.status == 201, at_xjk.body
    listed = keys("list")
    assert key not in listed  # only its first characters
    assert any(line.startswith(f"{key_id}\t玄武 App\t{key[:9]}") for line in listed.splitlines())
    assert f"revoked {key_id} " in keys("revoke", key_id)
    again = Open311Client(ENDPOINT, key, "XJK").submit(
        "M002", description="再次提交", address_string="新街口"
    )
    assert again.status == 403


# -- following ----------------------------------------------------------------------------------


def test_a_client_follows_its_request_until_it_is_closed(system):
    client = hall()
    [created] = valid(file_request(client, "xml").data, schemas.CREATED)
    case_no = created["service_request_id"]
    first = follow(client, case_no, lambda r: True)
    assert first["status"] == "open" and first["expected_datetime"] is None
    assert first["service_code"] == "M001" and first["service_name"] == "企业开办"
    assert first["agency_responsible"] == "区市场监督管理局"
    assert first["address"] == "南京市玄武区北京东路41号"

    officer = login("officer")
    handed_over(case_no)
    classified = api(
        f"/cases/{case_no}/classify", officer, "POST", {"type": "cannot", "reason": "缺少关键材料"}
    )
    assert classified.status_code == 200, classified.text
    deadlines = api(f"/cases/{case_no}", officer).json()["deadlines"]
    due = min(d["due_at"] for d in deadlines if not d["met_at"])
    found = follow(client, case_no, lambda r: r["expected_datetime"] is not None)
    assert datetime.fromisoformat(found["expected_datetime"]) == datetime.fromisoformat(due)
    assert found["expected_datetime"].endswith("+08:00")
    assert found["status"] == "open" and "不能办" in found["status_notes"]

    explanation = {
        "legal_basis": "《中华人民共和国市场主体登记管理条例》第十六条",
        "explanation": "住所使用证明是企业开办的关键材料",
        "missing_key_materials": [{"name": "住所使用证明", "how_to_obtain": "向产权人索取"}],
    }
    for path, body in (
        ("explain", explanation),
        ("reply", {"summary": "已告知申请人依据及补正途径"}),
        ("resolve", {"outcome": "explained", "summary": "已解释"}),
    ):
        done = api(f"/cases/{case_no}/{path}", officer, "POST", body)
        assert done.status_code == 200, done.text
    closed = follow(client, case_no, lambda r: r["status"] == "closed")
    assert closed["status_notes"].startswith("已办结")
    assert closed["updated_datetime"] > closed["requested_datetime"]

    xml = client.request(case_no, "xml")
    root = ElementTree.fromstring(xml.body)
    assert root.tag == "service_requests"
    [element] = root.findall("request")
    assert {child.tag for child in element} == set(schemas.REQUEST["properties"])
    assert element.findtext("status") == "closed"
    assert element.findtext("agency_responsible") == "区市场监督管理局"
    assert parse_xml(xml.body) == [closed]


def test_lists_filter_by_id_status_service_and_dates(system):
    client = hall()
    [created] = file_request(client).data
    case_no = created["service_request_id"]
    today = datetime.now(SH).date()

    def ids(**filters):
        answer = client.requests(**filters)
        assert answer.status == 200, answer.body
        return [r["service_request_id"] for r in valid(answer.data, schemas.REQUESTS)]

    assert ids(service_request_id=f"{case_no},XW-00000000-00000-HALL") == [case_no]
    assert case_no in ids()
    assert case_no in ids(status="open")
    assert case_no in ids(status="open,closed")
    assert case_no not in ids(status="closed")
    assert case_no in ids(service_code="M001")
    assert case_no not in ids(service_code="M002")
    start, end = (today - timedelta(days=1)).isoformat(), (today + timedelta(days=1)).isoformat()
    assert case_no in ids(start_date=start, end_date=end)
    assert case_no not in ids(end_date=(today - timedelta(days=2)).isoformat())
    assert case_no in ids(start_date=f"{start}T00:00:00+08:00")
    listed = client.requests(status="open")
    times = [r["requested_datetime"] for r in listed.data]
    assert times == sorted(times, reverse=True) and len(times) <= 1000

    xml = client.requests("xml", service_request_id=case_no)
    assert [r["service_request_id"] for r in xml.data] == [case_no]

    too_long = client.requests(start_date="2026-01-01", end_date="2026-06-30")
    assert too_long.status == 400 and "90" in too_long.data[0]["description"]
    bad_status = client.requests("xml", status="pending")
    assert bad_status.status == 400 and bad_status.data[0]["code"] == 400


def test_reading_is_public_and_shows_no_personal_data(system):
    [created] = file_request().data
    case_no = created["service_request_id"]
    anonymous = Open311Client(ENDPOINT)
    for answer in (
        anonymous.request(case_no),
        anonymous.request(case_no, "xml"),
        anonymous.requests(service_request_id=case_no),
        anonymous.requests("xml"),
    ):
        assert answer.status == 200
        text = answer.body.decode("utf-8")
        for personal in (PHONE, EMAIL, "李四", "12345-user-77"):
            assert personal not in text
    valid(anonymous.request(case_no).data, schemas.REQUESTS)

    # a window registration is no Open311 request: not found, not listed
    window = api(
        "/cases",
        login("hall.staff"),
        "POST",
        {
            "site": "HALL",
            "window": "W01",
            "matter": "M001",
            "department": "SCJ",
            "channel": "hotline",
            "applicant": {"kind": "person", "name": "王五", "phone": "13912345678"},
            "description": "监督电话反映",
            "first_receiver": "S0001",
        },
    )
    assert window.status_code == 201, window.text
    other = window.json()["case_no"]
    assert anonymous.request(other).status == 404
    assert other not in [r["service_request_id"] for r in anonymous.requests().data]


def test_routing_errors_are_the_specs_too(system):
    nothing = requests.get(f"{ENDPOINT}/nothing.json", timeout=10)
    assert nothing.status_code == 404
    valid(nothing.json(), schemas.ERRORS)
    as_xml = requests.get(f"{ENDPOINT}/nothing.xml", timeout=10)
    assert as_xml.status_code == 404 and ElementTree.fromstring(as_xml.content).tag == "errors"
    wrong_method = requests.delete(f"{ENDPOINT}/services.json", timeout=10)
    assert wrong_method.status_code == 405
    valid(wrong_method.json(), schemas.ERRORS)
    control = requests.get(f"{ENDPOINT}/requests.json", params={"status": "a\x00b"}, timeout=10)
    assert control.status_code == 400
    valid(control.json(), schemas.ERRORS)
    unsupported = requests.get(f"{ENDPOINT}/services.csv", timeout=10)
    assert unsupported.status_code == 404
