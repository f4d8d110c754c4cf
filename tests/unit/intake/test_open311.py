"""Open311 in intake (services.intake.integrations and its use cases on an in-memory unit of
work): keys checked by intake for the request's site, a request filed as an ``open311`` case
without an ID number, the form refusing that channel, the date window and what reading shows."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.common.errors import Forbidden, InvalidField, NotFound
from services.intake import handlers, integrations
from tests.unit.fakes import FakeUnitOfWork
from tests.unit.intake.fakes import (
    DEPARTMENTS,
    MATTER_SITES,
    MATTERS,
    SITES,
    FakeCaseNumbers,
    FakeIntakeStore,
    registrar,
)

SH = ZoneInfo("Asia/Shanghai")
KEY = "o311_unit-test-key"
MATERIALS = {"M001": (["住所使用证明", "公司章程"], ["授权委托书"]), "M002": ([], [])}
RECEIVERS = {"HALL": "S0004", "XJK": None}


class Open311Store(FakeIntakeStore):
    """The fake intake store with what Open311 adds: keys, requests, site receivers."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.keys = {
            integrations.key_hash(KEY): {
                "id": 1,
                "system_name": "南京12345",
                "jurisdictions": ["HALL", "XJK"],
                "revoked_at": None,
            },
            integrations.key_hash("o311_hall-only"): {
                "id": 2,
                "system_name": "玄武 App",
                "jurisdictions": ["HALL"],
                "revoked_at": None,
            },
            integrations.key_hash("o311_revoked"): {
                "id": 3,
                "system_name": "旧平台",
                "jurisdictions": ["HALL"],
                "revoked_at": datetime(2026, 1, 1, tzinfo=SH),
            },
        }
        self.requests: dict[str, dict] = {}

    def matters(self, site=None):
        return [
            {
                "code": code,
                "name": matter["name"],
                "department": matter["department"],
                "department_name": DEPARTMENTS[matter["department"]],
                "key_materials": MATERIALS[code][0],
                "other_materials": MATERIALS[code][1],
                "sites": sorted(s for m, s in MATTER_SITES if m == code),
            }
            for code, matter in sorted(MATTERS.items())
            if site is None or (code, site) in MATTER_SITES
        ]

    def open311_sites(self):
        return {
            code: {"code": code, "name": name, "open311_receiver": RECEIVERS[code]}
            for code, name in SITES.items()
        }

    def integration_by_key_hash(self, hashed):
        return self.keys.get(hashed)

    def insert_open311_request(self, case_no, integration_id, request, requested_at):
        self.requests[case_no] = {
            "integration_id": integration_id,
            "request": request,
            "requested_at": requested_at,
            "account_id": request.account_id,
        }

    def open311_of_case(self, case_no):
        found = self.requests.get(case_no)
        return None if found is None else {"account_id": found["account_id"], **found}

    def case(self, case_no):
        view = super().case(case_no)
        if view is not None:
            view["matter_name"] = MATTERS[view["matter"]]["name"]
        return view

    def open311_requests(self, *, ids=None, limit=1000, **filters):
        rows = []
        for case_no, found in sorted(self.requests.items(), reverse=True):
            case = self.cases[case_no]
            if ids is not None and case_no not in ids:
                continue
            rows.append(
                {
                    "case_no": case_no,
                    "status": case["status"],
                    "case_type": case["type"],
                    "description": case["description"],
                    "matter_name": MATTERS[case["matter"]]["name"],
                    "service_code": case["matter"],
                    "department_name": DEPARTMENTS[case["department"]],
                    "requested_at": found["requested_at"],
                    "updated_at": found["requested_at"],
                    "address": found["request"].address,
                    "lat": found["request"].lat,
                    "long": found["request"].long,
                    "media_url": found["request"].media_url,
                }
            )
        return rows[:limit]


@pytest.fixture
def uow():
    work = FakeUnitOfWork(None)
    work.store = Open311Store(outbox=lambda: work.committed)
    return work


@pytest.fixture
def numbers():
    return FakeCaseNumbers()


def form(**overrides):
    base = {
        "jurisdiction_id": "HALL",
        "service_code": "M001",
        "description": "住所使用证明不被认可，企业开办没有办成",
        "address_string": "南京市玄武区北京东路41号",
        "first_name": "三",
        "last_name": "张",
        "phone": "13912345678",
        "email": "zhang@example.cn",
        "attributes": {"materials_missing": ["住所使用证明"]},
    }
    return {key: value for key, value in {**base, **overrides}.items() if value is not None}


def submit(uow, numbers, api_key=KEY, key="r-1", **overrides):
    return handlers.open311_submit(uow, registrar(numbers), form(**overrides), api_key, key)


# -- services -------------------------------------------------------------------------------


def test_one_service_per_matter_metadata_where_it_has_attributes(uow):
    services = handlers.open311_services(uow)
    assert [s["service_code"] for s in services] == ["M001", "M002"]
    assert [s["metadata"] for s in services] == [True, False]
    assert services[0]["type"] == "realtime"
    assert services[0]["group"] == "区市场监管局"
    assert [s["service_code"] for s in handlers.open311_services(uow, "XJK")] == ["M002"]
    with pytest.raises(NotFound):
        handlers.open311_services(uow, "NOWHERE")


def test_a_service_definition_lists_the_matters_materials(uow):
    definition = handlers.open311_service_definition(uow, "M001")
    codes = [a["code"] for a in definition["attributes"]]
    assert codes == ["materials_presented", "materials_missing"]
    values = definition["attributes"][1]["values"]
    assert [v["key"] for v in values] == ["住所使用证明", "公司章程", "授权委托书"]
    assert values[0]["name"] == "住所使用证明（关键材料）"
    assert handlers.open311_service_definition(uow, "M002")["attributes"] == []
    with pytest.raises(NotFound):
        handlers.open311_service_definition(uow, "M001", "XJK")  # not handled there


# -- filing ---------------------------------------------------------------------------------


def test_a_request_is_an_open311_case_of_a_person_without_id_number(uow, numbers):
    answer = submit(uow, numbers)
    case_no = answer["service_request_id"]
    assert answer["replayed"] is False and case_no in answer["service_notice"]
    case = uow.store.cases[case_no]
    assert case["channel"] == "open311"
    assert case["window"] == "ESC"
    assert case["applicant_kind"] == "person"
    assert case["applicant_name"] == "张三"  # 姓 then 名
    assert case["id_number_cipher"] is None and case["phone"] == "13912345678"
    assert case["first_receiver"] == "S0004"  # the hall's configured Open311 receiver
    assert case["registered_by"] == "open311:1"
    [event] = uow.events("case_registered")
    assert event.data["channel"] == "open311" and event.data["registered_by"] == "open311:1"
    stored = uow.store.requests[case_no]
    assert stored["integration_id"] == 1
    assert stored["request"].attributes == {"materials_missing": ["住所使用证明"]}
    assert (
        handlers.get_case(uow, case_no, {"id": "S0004", "role": "officer", "site": "HALL"})[
            "open311"
        ]["integration_id"]
        == 1
    )


def test_the_same_request_key_of_a_system_opens_one_case(uow, numbers):
    first = submit(uow, numbers, key="same")
    again = submit(uow, numbers, key="same")
    assert again["replayed"] is True
    assert again["service_request_id"] == first["service_request_id"]
    assert len(uow.store.cases) == 1


@pytest.mark.parametrize(
    "api_key, site, field",
    [
        (None, "HALL", "api_key"),
        ("", "HALL", "api_key"),
        ("o311_wrong", "HALL", "api_key"),
        ("o311_revoked", "HALL", "api_key"),
        ("o311_hall-only", "XJK", "jurisdiction_id"),
    ],
)
def test_keys_are_checked_by_intake_for_the_site(uow, numbers, api_key, site, field):
    with pytest.raises(Forbidden) as refused:
        submit(uow, numbers, api_key=api_key, jurisdiction_id=site, service_code="M002")
    assert refused.value.field == field
    assert uow.store.cases == {}


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"jurisdiction_id": None}, "jurisdiction_id"),
        ({"description": None}, "description"),
        ({"description": "长" * 2001}, "description"),
        ({"address_string": None}, "address_string"),
        ({"address_string": None, "lat": "32.05"}, "long"),
        ({"address_string": None, "lat": "91", "long": "118.8"}, "lat"),
        ({"lat": "NaN", "long": "118.8"}, "lat"),
        ({"phone": "12345"}, "phone"),
        ({"email": "not-an-address"}, "email"),
        ({"media_url": "javascript:alert(1)"}, "media_url"),
        ({"attributes": {"colour": ["red"]}}, "attribute[colour]"),
        ({"attributes": {"materials_missing": ["别的材料"]}}, "attribute[materials_missing]"),
    ],
)
def test_a_bad_form_is_refused_naming_the_field(uow, numbers, overrides, field):
    with pytest.raises(InvalidField) as refused:
        submit(uow, numbers, **overrides)
    assert refused.value.field == field
    assert uow.store.cases == {}


def test_unknown_service_codes_are_not_found(uow, numbers):
    with pytest.raises(NotFound):
        submit(uow, numbers, service_code="M999")
    with pytest.raises(NotFound):
        submit(uow, numbers, jurisdiction_id="XJK", service_code="M001")


def test_a_site_without_an_open311_receiver_refuses_rather_than_guess(uow, numbers):
    with pytest.raises(InvalidField) as refused:
        submit(uow, numbers, jurisdiction_id="XJK", service_code="M002", attributes=None)
    assert refused.value.field == "jurisdiction_id"


def test_lat_long_alone_locate_a_request(uow, numbers):
    answer = submit(uow, numbers, address_string=None, lat="32.0603", long="118.7969")
    stored = uow.store.requests[answer["service_request_id"]]["request"]
    assert (stored.lat, stored.long, stored.address) == (32.0603, 118.7969, None)


def test_the_form_cannot_register_on_the_open311_channel():
    from services.intake import domain

    with pytest.raises(InvalidField) as refused:
        domain.check_form_channel({"channel": "open311"})
    assert refused.value.field == "channel"
    domain.check_form_channel({"channel": "hotline"})
    domain.check_form_channel({})


# -- names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "first, last, name",
    [
        ("三", "张", "张三"),
        ("San", "Zhang", "San Zhang"),
        (None, "张", "张"),
        (None, None, integrations.ANONYMOUS),
    ],
)
def test_applicant_names(first, last, name):
    assert integrations.applicant_name(first, last) == name


# -- reading ----------------------------------------------------------------------------------


def test_reading_shows_only_the_specs_fields(uow, numbers):
    case_no = submit(uow, numbers)["service_request_id"]
    found = handlers.open311_request(uow, case_no)
    assert set(found) == {
        "service_request_id", "status", "status_notes", "service_name", "service_code",
        "description", "agency_responsible", "service_notice", "requested_datetime",
        "updated_datetime", "expected_datetime", "address", "address_id", "zipcode", "lat",
        "long", "media_url",
    }  # fmt: skip
    assert found["status"] == "open" and found["agency_responsible"] == "区市场监管局"
    text = repr(found)
    for personal in ("13912345678", "zhang@example.cn", "张三"):
        assert personal not in text
    with pytest.raises(NotFound):
        handlers.open311_request(uow, "XW-20260930-00001-XJK")


@pytest.mark.parametrize(
    "state, case_type, status, notes",
    [
        ("registered", None, "open", "已登记，待分类"),
        ("in_progress", "pending", "open", "办理中（暂时办不了）"),
        ("replied", "cannot", "open", "已答复（不能办）"),
        ("resolved", "hard", "closed", "已办结（不好办）"),
        ("archived", "hard", "closed", "已归档（不好办）"),
    ],
)
def test_status_and_notes(state, case_type, status, notes):
    assert integrations.request_status(state) == status
    assert integrations.status_notes(state, case_type) == notes


# -- the date window and the filters ------------------------------------------------------------

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=SH)


def test_without_dates_the_window_is_the_last_90_days():
    assert integrations.request_window(None, None, NOW) == (NOW - timedelta(days=90), NOW)


def test_a_bare_date_covers_its_whole_day_and_one_side_gives_90_days():
    start, end = integrations.request_window("2026-11-01", "2026-11-30", NOW)
    assert start == datetime(2026, 11, 1, tzinfo=SH)
    assert end.date().isoformat() == "2026-11-30" and end.hour == 23
    start, end = integrations.request_window("2026-09-01T00:00:00+08:00", None, NOW)
    assert end - start == timedelta(days=90)


def test_an_offset_whose_plus_arrived_as_a_space_is_read():
    start, _ = integrations.request_window("2026-11-01T00:00:00 08:00", None, NOW)
    assert start == datetime(2026, 11, 1, tzinfo=SH)
    start, _ = integrations.request_window("2026-11-01T00:00:00Z", None, NOW)
    assert start.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "start, end, field",
    [
        ("2026-01-01", "2026-06-30", "end_date"),  # more than 90 days
        ("2026-11-30", "2026-11-01", "end_date"),  # backwards
        ("yesterday", None, "start_date"),
        ("2026-11-01T00:00:00", None, "start_date"),  # no offset
    ],
)
def test_bad_windows_are_refused(start, end, field):
    with pytest.raises(InvalidField) as refused:
        integrations.request_window(start, end, NOW)
    assert refused.value.field == field


def test_filters_ids_win_and_status_and_limit():
    assert integrations.checked_filters({"service_request_id": "A, B,A", "status": "x"}, NOW) == {
        "ids": ["A", "B"],
        "limit": 1000,
    }
    checked = integrations.checked_filters({"status": "closed", "service_code": "M001"}, NOW)
    assert checked["closed"] is True and checked["service_codes"] == ["M001"]
    assert checked["limit"] == 1000
    assert integrations.checked_filters({"status": "open,closed"}, NOW)["closed"] is None
    with pytest.raises(InvalidField):
        integrations.checked_filters({"status": "pending"}, NOW)
    with pytest.raises(InvalidField):
        integrations.checked_filters({"service_request_id": ",".join(["A"] * 1001)}, NOW)


def test_keys_are_random_and_stored_as_their_hash():
    first, second = integrations.new_api_key(), integrations.new_api_key()
    assert first != second and first.startswith("o311_") and len(first) > 40
    assert integrations.key_hash(first) != first and len(integrations.key_hash(first)) == 64
    assert integrations.key_hint(first) == first[:9]
