"""Intake's pure domain: what a valid registration is, and how cases are numbered.

``check_registration`` is fed a :class:`Reference` built from plain dictionaries, the way the
store would return rows; nothing here touches a database. The field validators themselves
(ID numbers, phones, free text) are covered in ``test_validation.py``; these tests check
that the registration wires them to the right fields and adds its own reference-data rules.
"""

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from stdnum.cn import ric, uscc

from services.common.errors import Forbidden, InvalidField
from services.intake import domain
from services.intake.domain import (
    MAX_DESCRIPTION,
    MAX_MATERIALS,
    Reference,
    Registration,
    case_number,
    check_registration,
    local_day,
    parse_received_at,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI)


def resident_id(base17: str = "32010219900307123") -> str:
    # stdnum's ric.calc_check_digit expects the full number, check digit slot included.
    return base17 + ric.calc_check_digit(base17 + "0")


def credit_code(base17: str = "91320102MA1XYU123") -> str:
    return base17 + uscc.calc_check_digit(base17)


PERSON_ID = resident_id()
ENTERPRISE_CODE = credit_code()

WINDOW_STAFF = {"id": "xjk.staff", "name": "王敏", "role": "window_staff", "site": "XJK"}
OFFICER = {"id": "officer", "name": "李强", "role": "officer", "site": "HALL"}


_DROP = object()  # marks a key to leave out of the payload


def make_reference(**overrides) -> Reference:
    values = {
        "site": {"code": "XJK", "name": "玄武门街道便民服务中心"},
        "window": {"code": "ESC", "name": "办不成事反映窗口"},
        "matter": {"code": "M002", "name": "个体工商户设立登记"},
        "matter_sites": frozenset({"HALL", "XJK"}),
        "department": {"code": "SCJ", "name": "区市场监管局"},
        "first_receiver": {"id": "xjk.staff", "name": "王敏", "site_code": "XJK"},
        "first_asked_by": None,
    }
    values.update(overrides)
    return Reference(**values)


def make_payload(**overrides) -> dict:
    payload = {
        "site": "XJK",
        "window": "ESC",
        "matter": "M002",
        "department": "SCJ",
        "channel": "window",
        "applicant": {
            "kind": "person",
            "name": "张三",
            "id_number": PERSON_ID,
            "phone": "13812345678",
        },
        "description": "办理个体工商户登记时缺少经营场所证明",
        "first_receiver": "xjk.staff",
    }
    payload.update(overrides)
    return payload


def with_applicant(**changes) -> dict:
    applicant = dict(make_payload()["applicant"])
    for key, value in changes.items():
        if value is _DROP:
            applicant.pop(key, None)
        else:
            applicant[key] = value
    return make_payload(applicant=applicant)


def register(payload=None, reference=None, actor=None, now=NOW) -> Registration:
    return check_registration(
        make_payload() if payload is None else payload,
        make_reference() if reference is None else reference,
        WINDOW_STAFF if actor is None else actor,
        now,
    )


def refused(payload=None, reference=None, actor=None, now=NOW) -> InvalidField:
    with pytest.raises(InvalidField) as info:
        register(payload, reference, actor, now)
    assert info.value.code == "invalid_field"
    assert info.value.status == 422
    return info.value


# --- a valid registration ---------------------------------------------------------------------


def test_valid_registration_gives_normalized_values():
    payload = make_payload(
        site=" XJK ",
        window="ESC ",
        applicant={
            "kind": "person",
            "name": "  张三 ",
            "id_number": PERSON_ID[:6] + " " + PERSON_ID[6:14] + " " + PERSON_ID[14:],
            "phone": "+86 138-1234-5678",
        },
        description="  办理个体工商户登记时\r\n缺少经营场所证明  ",
        materials_presented=[" 身份证 ", "经营场所租赁合同"],
        materials_missing=["房屋产权证明"],
        received_at="2026-11-30T09:30:00+08:00",
    )
    registration = register(payload)
    assert registration == Registration(
        site="XJK",
        window="ESC",
        matter="M002",
        department="SCJ",
        channel="window",
        applicant_kind="person",
        applicant_name="张三",
        id_number=PERSON_ID,
        phone="13812345678",
        description="办理个体工商户登记时\n缺少经营场所证明",
        materials_presented=["身份证", "经营场所租赁合同"],
        materials_missing=["房屋产权证明"],
        first_receiver="xjk.staff",
        first_asked_by=None,
        received_at=datetime(2026, 11, 30, 9, 30, tzinfo=timezone(timedelta(hours=8))),
    )


def test_lower_case_x_check_digit_is_upper_cased():
    number = next(
        resident_id(f"3201021990030712{n}")
        for n in range(10)
        if resident_id(f"3201021990030712{n}").endswith("X")
    )
    registration = register(with_applicant(id_number=number.lower()))
    assert registration.id_number == number


def test_enterprise_applicant_with_credit_code():
    payload = with_applicant(
        kind="enterprise", name="南京某某餐饮有限公司", id_number=ENTERPRISE_CODE.lower()
    )
    registration = register(payload)
    assert registration.applicant_kind == "enterprise"
    assert registration.id_number == ENTERPRISE_CODE


def test_enterprise_at_a_window_may_omit_the_credit_code():
    payload = with_applicant(kind="enterprise", name="南京某某餐饮有限公司", id_number=_DROP)
    assert register(payload).id_number is None


@pytest.mark.parametrize("channel", ["hotline", "rating", "comment_book"])
def test_person_away_from_the_window_may_omit_the_id_number(channel):
    payload = with_applicant(id_number="")
    payload["channel"] = channel
    registration = register(payload)
    assert registration.id_number is None
    assert registration.channel == channel


def test_channel_defaults_to_window():
    payload = make_payload()
    del payload["channel"]
    assert register(payload).channel == "window"


@pytest.mark.parametrize("phone", [None, ""])
def test_phone_is_optional(phone):
    assert register(with_applicant(phone=phone)).phone is None


def test_landline_phone_is_normalized():
    assert register(with_applicant(phone="025 84201234")).phone == "025-84201234"


def test_materials_default_to_empty_lists():
    registration = register()
    assert registration.materials_presented == []
    assert registration.materials_missing == []


def test_exactly_the_maximum_number_of_materials_is_accepted():
    payload = make_payload(materials_presented=[f"材料{i}" for i in range(MAX_MATERIALS)])
    assert len(register(payload).materials_presented) == MAX_MATERIALS


def test_description_of_exactly_the_maximum_length_is_accepted():
    description = "字" * MAX_DESCRIPTION
    assert register(make_payload(description=description)).description == description


def test_first_asked_by_is_kept_when_known():
    reference = make_reference(
        first_asked_by={"id": "hall.staff", "name": "赵六", "site_code": "HALL"}
    )
    registration = register(make_payload(first_asked_by="hall.staff"), reference)
    assert registration.first_asked_by == "hall.staff"


def test_empty_first_asked_by_is_none():
    assert register(make_payload(first_asked_by="")).first_asked_by is None


def test_first_asked_by_is_stripped_like_the_other_codes():
    reference = make_reference(
        first_asked_by={"id": "hall.staff", "name": "赵六", "site_code": "HALL"}
    )
    registration = register(make_payload(first_asked_by=" hall.staff "), reference)
    assert registration.first_asked_by == "hall.staff"


def test_district_wide_receiver_may_receive_at_any_site():
    reference = make_reference(first_receiver={"id": "officer", "name": "李强", "site_code": None})
    assert register(make_payload(first_receiver="officer"), reference).first_receiver == "officer"


# --- missing codes ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["site", "window", "matter", "department", "first_receiver"])
@pytest.mark.parametrize("value", [_DROP, None, "", "   ", 42])
def test_missing_code_is_refused_on_its_field(name, value):
    payload = make_payload()
    if value is _DROP:
        del payload[name]
    else:
        payload[name] = value
    error = refused(payload)
    assert error.field == name
    assert domain.FIELD_LABELS[name] in error.message


def test_first_missing_code_in_form_order_is_named():
    payload = make_payload()
    del payload["window"]
    del payload["first_receiver"]
    assert refused(payload).field == "window"


# --- reference data ---------------------------------------------------------------------------


def test_unknown_site_is_refused():
    error = refused(make_payload(site="NOPE"), make_reference(site=None, window=None))
    assert error.field == "site"
    assert "NOPE" in error.message


def test_window_not_of_the_site_is_refused():
    error = refused(make_payload(window="W09"), make_reference(window=None))
    assert error.field == "window"
    assert "W09" in error.message and "玄武门街道便民服务中心" in error.message


def test_unknown_matter_is_refused():
    error = refused(
        make_payload(matter="M999"), make_reference(matter=None, matter_sites=frozenset())
    )
    assert error.field == "matter"
    assert "M999" in error.message


def test_matter_not_offered_at_the_site_is_refused():
    error = refused(reference=make_reference(matter_sites=frozenset({"HALL"})))
    assert error.field == "matter"
    assert "个体工商户设立登记" in error.message


def test_unknown_department_is_refused():
    error = refused(make_payload(department="XXJ"), make_reference(department=None))
    assert error.field == "department"
    assert "XXJ" in error.message


def test_unknown_first_receiver_is_refused():
    error = refused(make_payload(first_receiver="ghost"), make_reference(first_receiver=None))
    assert error.field == "first_receiver"
    assert "ghost" in error.message


def test_first_receiver_working_at_another_site_is_refused():
    reference = make_reference(
        first_receiver={"id": "hall.staff", "name": "赵六", "site_code": "HALL"}
    )
    assert refused(make_payload(first_receiver="hall.staff"), reference).field == "first_receiver"


def test_unknown_first_asked_by_is_refused():
    error = refused(make_payload(first_asked_by="ghost"), make_reference(first_asked_by=None))
    assert error.field == "first_asked_by"
    assert "ghost" in error.message


@pytest.mark.parametrize("channel", ["email", "", None, "WINDOW", ["window"]])
def test_unknown_channel_is_refused(channel):
    assert refused(make_payload(channel=channel)).field == "channel"


# --- the actor's reach --------------------------------------------------------------------------


def test_window_staff_cannot_register_for_another_site():
    reference = make_reference(
        site={"code": "HALL", "name": "玄武区政务服务中心"},
        first_receiver={"id": "hall.staff", "name": "赵六", "site_code": "HALL"},
    )
    payload = make_payload(site="HALL", first_receiver="hall.staff")
    with pytest.raises(Forbidden) as info:
        register(payload, reference, WINDOW_STAFF)
    assert info.value.field == "site"
    assert info.value.status == 403
    assert info.value.code == "forbidden"


def test_forbidden_is_not_an_invalid_field():
    assert not issubclass(Forbidden, InvalidField)


@pytest.mark.parametrize("role", ["officer", "bureau", "supervisor", "operator"])
def test_district_wide_roles_may_register_for_any_site(role):
    actor = {**OFFICER, "role": role, "site": "HALL" if role == "officer" else None}
    assert register(actor=actor).site == "XJK"


def test_window_staff_may_register_for_their_own_site():
    assert register(actor=WINDOW_STAFF).site == WINDOW_STAFF["site"]


# --- the applicant ---------------------------------------------------------------------------


@pytest.mark.parametrize("applicant", [_DROP, None, "张三", ["张三"]])
def test_missing_applicant_is_refused(applicant):
    payload = make_payload()
    if applicant is _DROP:
        del payload["applicant"]
    else:
        payload["applicant"] = applicant
    assert refused(payload).field == "applicant"


@pytest.mark.parametrize("kind", [_DROP, None, "", "company", "Person"])
def test_bad_applicant_kind_is_refused(kind):
    assert refused(with_applicant(kind=kind)).field == "applicant.kind"


@pytest.mark.parametrize("name", [_DROP, None, "", "   ", 7, "名" * (domain.MAX_NAME + 1)])
def test_bad_applicant_name_is_refused(name):
    assert refused(with_applicant(name=name)).field == "applicant.name"


def test_id_number_with_a_wrong_check_digit_is_refused():
    wrong = PERSON_ID[:-1] + ("1" if PERSON_ID[-1] != "1" else "2")
    error = refused(with_applicant(id_number=wrong))
    assert error.field == "applicant.id_number"
    assert "校验位" in error.message


def test_credit_code_with_a_wrong_check_character_is_refused():
    wrong = ENTERPRISE_CODE[:-1] + ("1" if ENTERPRISE_CODE[-1] != "1" else "2")
    payload = with_applicant(kind="enterprise", name="南京某某餐饮有限公司", id_number=wrong)
    assert refused(payload).field == "applicant.id_number"


def test_person_id_number_given_for_an_enterprise_is_refused():
    payload = with_applicant(kind="enterprise", name="南京某某餐饮有限公司", id_number=PERSON_ID)
    assert refused(payload).field == "applicant.id_number"


@pytest.mark.parametrize("id_number", [_DROP, None, ""])
def test_person_at_a_window_must_give_an_id_number(id_number):
    error = refused(with_applicant(id_number=id_number))
    assert error.field == "applicant.id_number"
    assert "身份证" in error.message


@pytest.mark.parametrize(
    "phone", ["12345", "1381234567", "23812345678", "+1 415 555 0100", 13812345678]
)
def test_bad_phone_is_refused(phone):
    assert refused(with_applicant(phone=phone)).field == "applicant.phone"


# --- description and materials ----------------------------------------------------------------


@pytest.mark.parametrize(
    "description", [None, "", "  ", "字" * (MAX_DESCRIPTION + 1), "含有\x00控制字符", 3]
)
def test_bad_description_is_refused(description):
    assert refused(make_payload(description=description)).field == "description"


@pytest.mark.parametrize("name", ["materials_presented", "materials_missing"])
@pytest.mark.parametrize("value", ["身份证", {"身份证": 1}, None])
def test_materials_not_a_list_are_refused(name, value):
    assert refused(make_payload(**{name: value})).field == name


@pytest.mark.parametrize("name", ["materials_presented", "materials_missing"])
def test_too_many_materials_are_refused(name):
    payload = make_payload(**{name: [f"材料{i}" for i in range(MAX_MATERIALS + 1)]})
    error = refused(payload)
    assert error.field == name
    assert str(MAX_MATERIALS) in error.message


@pytest.mark.parametrize("name", ["materials_presented", "materials_missing"])
@pytest.mark.parametrize("item", ["", 5, "名" * (domain.MAX_MATERIAL_NAME + 1)])
def test_bad_material_item_is_refused_with_its_index(name, item):
    payload = make_payload(**{name: ["身份证", item]})
    assert refused(payload).field == f"{name}[1]"


# --- received_at -----------------------------------------------------------------------------


def test_received_at_defaults_to_now():
    assert register().received_at == NOW
    assert register(make_payload(received_at=None)).received_at == NOW


def test_received_at_in_utc_is_accepted():
    registration = register(make_payload(received_at="2026-11-30T01:30:00Z"))
    assert registration.received_at == datetime(2026, 11, 30, 9, 30, tzinfo=SHANGHAI)
    assert registration.received_at.utcoffset() == timedelta(0)


def test_received_at_equal_to_now_is_accepted():
    assert register(make_payload(received_at=NOW.isoformat())).received_at == NOW


@pytest.mark.parametrize(
    "value, words",
    [
        ("2026-11-30T09:30:00", "时区"),
        ("2026-11-30", "时区"),
        ("30/11/2026 09:30", "格式"),
        ("", "格式"),
        ("2026-13-01T09:30:00+08:00", "格式"),
        (1764466200, "ISO 8601"),
        ((NOW + timedelta(seconds=1)).isoformat(), "晚于"),
        ("2026-11-30T02:00:01Z", "晚于"),
    ],
    ids=["naive", "date-only", "malformed", "empty", "bad-month", "number", "future", "future-utc"],
)
def test_bad_received_at_is_refused(value, words):
    error = refused(make_payload(received_at=value))
    assert error.field == "received_at"
    assert words in error.message


def test_parse_received_at_directly():
    assert parse_received_at(None, NOW) is NOW
    assert parse_received_at("2026-01-01T00:00:00+08:00", NOW) == datetime(
        2026, 1, 1, tzinfo=SHANGHAI
    )


# --- the order of checks ------------------------------------------------------------------------


def test_reference_errors_come_before_applicant_errors():
    payload = with_applicant(kind="robot")
    assert refused(payload, make_reference(department=None)).field == "department"


def test_unknown_site_is_reported_before_the_actors_reach():
    # Window staff of XJK naming an unknown site learn that it does not exist, not 403.
    assert refused(make_payload(site="NOPE"), make_reference(site=None)).field == "site"


# --- case numbers -------------------------------------------------------------------------------


def test_case_number_format():
    assert case_number("XW", date(2026, 11, 29), 42, "XJK") == "XW-20261129-00042-XJK"
    assert case_number("XW", date(2026, 1, 2), 1, "HALL") == "XW-20260102-00001-HALL"
    assert case_number("XW", date(2026, 1, 2), 99999, "HALL") == "XW-20260102-99999-HALL"


def test_case_numbers_sort_by_day_then_sequence_as_strings():
    in_time_order = [
        (date(2025, 12, 31), 99999, "XJK"),
        (date(2026, 1, 1), 1, "XJK"),
        (date(2026, 1, 1), 2, "HALL"),
        (date(2026, 1, 1), 9, "A"),
        (date(2026, 1, 1), 10, "XJK"),
        (date(2026, 1, 1), 100, "GA"),
        (date(2026, 1, 2), 1, "HALL"),
        (date(2026, 10, 1), 1, "HALL"),
    ]
    numbers = [case_number("XW", day, seq, site) for day, seq, site in in_time_order]
    assert sorted(numbers) == numbers
    assert sorted(reversed(numbers)) == numbers


def test_local_day_in_shanghai_crosses_midnight_before_utc():
    # 16:00 UTC is midnight in Shanghai: the next day there.
    assert local_day(datetime(2026, 11, 29, 15, 59, 59, tzinfo=UTC)) == date(2026, 11, 29)
    assert local_day(datetime(2026, 11, 29, 16, 0, tzinfo=UTC)) == date(2026, 11, 30)


def test_local_day_at_the_year_boundary():
    assert local_day(datetime(2026, 12, 31, 16, 30, tzinfo=UTC)) == date(2027, 1, 1)


def test_local_day_keeps_shanghai_times_on_their_own_day():
    assert local_day(datetime(2026, 11, 30, 0, 0, tzinfo=SHANGHAI)) == date(2026, 11, 30)
    assert local_day(datetime(2026, 11, 30, 23, 59, tzinfo=SHANGHAI)) == date(2026, 11, 30)


def test_local_day_in_another_zone():
    moment = datetime(2026, 11, 29, 16, 0, tzinfo=UTC)
    assert local_day(moment, "UTC") == date(2026, 11, 29)
    assert local_day(moment, "Asia/Shanghai") == date(2026, 11, 30)
