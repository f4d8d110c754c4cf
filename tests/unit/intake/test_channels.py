"""The other channels' pure rules: which feedback opens a case, who answers for it, and what
the case it opens looks like — on a :class:`Catalogue` of plain dictionaries."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric

from services.common.errors import Forbidden, InvalidField
from services.intake import channels
from services.intake.channels import Catalogue, check_feedback
from services.intake.domain import check_registration

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI)
OFFICER = {"id": "S0004", "role": "officer", "site": "HALL"}
HALL_STAFF = {"id": "S0001", "role": "window_staff", "site": "HALL"}
PERSON_ID = "32010219900307123" + ric.calc_check_digit("320102199003071230")

CATALOGUE = Catalogue(
    sites={"HALL": "玄武区政务服务中心", "XJK": "新街口街道便民服务中心", "EMPTY": "无人场所"},
    windows={("HALL", "ESC"): "办不成事反映窗口", ("HALL", "W02"): "企业开办窗口",
             ("XJK", "ESC"): "办不成事反映窗口", ("EMPTY", "ESC"): "办不成事反映窗口"},
    matters={"M001": {"name": "企业开办", "department": "SCJ"},
             "M005": {"name": "住房租赁合同登记备案", "department": "FCJ"}},
    matter_sites=frozenset({("M001", "HALL"), ("M005", "HALL"), ("M005", "XJK"), ("M005", "EMPTY")}),
    departments={"SCJ": "区市场监管局", "FCJ": "区房产局"},
    staff={
        "S0009": {"name": "赵明", "site": "HALL", "role": "window_staff"},
        "S0001": {"name": "王雅婷", "site": "HALL", "role": "window_staff"},
        "S0004": {"name": "张建国", "site": "HALL", "role": "officer"},
        "S0002": {"name": "陈志刚", "site": "XJK", "role": "window_staff"},
    },
)  # fmt: skip


def rating(**overrides) -> dict:
    payload = {"channel": "rating", "site": "HALL", "window": "W02", "matter": "M001", "level": 2}
    payload.update(overrides)
    return {key: value for key, value in payload.items() if value is not None}


def test_the_default_receiver_is_the_sites_window_staff_member_with_the_lowest_id():
    # S0004 has a lower id than S0009 but is an officer, not window staff
    assert CATALOGUE.default_receivers == {"HALL": "S0001", "XJK": "S0002"}


@pytest.mark.parametrize(
    ("payload", "opens"),
    [
        (rating(level=1), True),
        (rating(level=2), True),
        (rating(level=3), False),
        (rating(level=5), False),
        ({"channel": "hotline", "site": "HALL", "matter": "M001", "text": "投诉"}, True),
        ({"channel": "comment_book", "site": "HALL", "text": "建议"}, False),
        ({"channel": "comment_book", "site": "HALL", "matter": "M001", "text": "办不成",
          "reports_failure": True}, True),
        ({"channel": "comment_book", "site": "HALL", "matter": "M001", "text": "差", "level": 2},
         True),
    ],
)  # fmt: skip
def test_which_feedback_opens_a_case(payload, opens):
    assert check_feedback(payload, CATALOGUE, OFFICER, NOW).opens_case is opens


@given(st.integers(min_value=1, max_value=5))
def test_only_levels_one_and_two_are_bad(level):
    feedback = check_feedback(rating(level=level), CATALOGUE, OFFICER, NOW)
    assert feedback.bad is (level <= 2)


@given(st.one_of(st.integers().filter(lambda n: not 1 <= n <= 5), st.booleans(), st.text(),
                 st.floats(allow_nan=False), st.none()))  # fmt: skip
def test_anything_but_a_level_from_one_to_five_is_refused(level):
    with pytest.raises(InvalidField) as error:
        check_feedback({**rating(), "level": level}, CATALOGUE, OFFICER, NOW)
    assert error.value.field == "level"


@pytest.mark.parametrize(
    ("applicant", "real_name"),
    [
        (None, False),
        ({"name": "钱七"}, False),
        ({"phone": "13700001111"}, False),
        ({"name": "钱七", "phone": "13700001111"}, True),
        ({"name": "钱七", "id_number": PERSON_ID}, True),
    ],
)
def test_only_a_real_name_bad_rating_requires_a_return_visit(applicant, real_name):
    bad = check_feedback(rating(applicant=applicant), CATALOGUE, OFFICER, NOW)
    assert bad.real_name is real_name and bad.requires_return_visit is real_name
    good = check_feedback(rating(level=4, applicant=applicant), CATALOGUE, OFFICER, NOW)
    assert good.requires_return_visit is False


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"channel": None}, "channel"),
        ({"site": None}, "site"),
        ({"site": "NOWHERE"}, "site"),
        ({"window": None}, "window"),  # a rating names the rated window
        ({"window": "W09"}, "window"),
        ({"matter": None}, "matter"),
        ({"matter": "M999"}, "matter"),
        ({"site": "XJK", "window": "ESC", "matter": "M001"}, "matter"),  # not handled there
        ({"staff": "S9999"}, "staff"),
        ({"staff": "S0002"}, "staff"),  # works at XJK
        ({"text": "长" * 1901}, "text"),
        ({"reports_failure": "yes"}, "reports_failure"),
        ({"at": "2026-11-30T09:00:00"}, "at"),  # no offset
        ({"at": (NOW + timedelta(hours=1)).isoformat()}, "at"),
        ({"applicant": "钱七"}, "applicant"),
        ({"applicant": {"kind": "robot"}}, "applicant.kind"),
        ({"applicant": {"name": "钱七", "id_number": PERSON_ID[:-1] + "0"}}, "applicant.id_number"),
    ],
)
def test_bad_feedback_names_its_field(overrides, field):
    with pytest.raises(InvalidField) as error:
        check_feedback(rating(**overrides), CATALOGUE, OFFICER, NOW)
    assert error.value.field == field


def test_a_batch_row_defaults_to_a_rating_and_a_single_request_must_say_its_channel():
    assert check_feedback(rating(channel=None), CATALOGUE, OFFICER, NOW, "rating").level == 2
    with pytest.raises(InvalidField):
        check_feedback(rating(channel=None), CATALOGUE, OFFICER, NOW)


def test_window_staff_give_feedback_only_about_their_own_site():
    with pytest.raises(Forbidden):
        check_feedback(rating(site="XJK", window="ESC", matter="M005"), CATALOGUE, HALL_STAFF, NOW)


def test_a_bad_rating_fills_in_a_registration_that_passes_the_registration_rules():
    applicant = {"name": "钱七", "id_number": PERSON_ID}
    feedback = check_feedback(
        rating(staff="S0009", text="态度差", applicant=applicant), CATALOGUE, OFFICER, NOW
    )
    form = channels.registration_payload(feedback, CATALOGUE)
    registration = check_registration(form, CATALOGUE.reference(form), OFFICER, NOW)
    assert registration.first_receiver == "S0009" and registration.department == "SCJ"
    assert registration.channel == "rating" and registration.id_number == PERSON_ID
    assert registration.description == "好差评“不满意”（2级）：态度差"
    assert registration.received_at == NOW


def test_an_anonymous_hotline_complaint_goes_to_the_escalation_window():
    feedback = check_feedback(
        {"channel": "hotline", "site": "XJK", "matter": "M005", "text": "备案被拒"},
        CATALOGUE,
        OFFICER,
        NOW,
    )
    form = channels.registration_payload(feedback, CATALOGUE)
    registration = check_registration(form, CATALOGUE.reference(form), OFFICER, NOW)
    assert (registration.window, registration.first_receiver) == ("ESC", "S0002")
    assert registration.applicant_name == channels.ANONYMOUS and registration.id_number is None


def test_a_site_without_window_staff_cannot_name_a_first_receiver():
    feedback = check_feedback(
        {"channel": "hotline", "site": "EMPTY", "matter": "M005", "text": "无人受理"},
        CATALOGUE,
        OFFICER,
        NOW,
    )
    with pytest.raises(InvalidField) as error:
        channels.registration_payload(feedback, CATALOGUE)
    assert error.value.field == "staff"


@given(st.text(min_size=1, max_size=channels.MAX_FEEDBACK_TEXT).filter(str.strip))
def test_any_accepted_text_fits_the_case_description(text):
    try:
        feedback = check_feedback(rating(text=text), CATALOGUE, OFFICER, NOW)
    except InvalidField:
        return  # control characters are refused; that is validation's own property
    form = channels.registration_payload(feedback, CATALOGUE)
    check_registration(form, CATALOGUE.reference(form), OFFICER, NOW)


def test_ratings_are_counted_per_local_day_site_window_matter_staff_and_level():
    late_evening = datetime(2026, 11, 29, 23, 30, tzinfo=SHANGHAI)
    ratings = [
        check_feedback(rating(level=5, at=NOW.isoformat()), CATALOGUE, OFFICER, NOW),
        check_feedback(rating(level=5, at=NOW.isoformat()), CATALOGUE, OFFICER, NOW),
        check_feedback(rating(level=1, at=NOW.isoformat()), CATALOGUE, OFFICER, NOW),
        # 15:30 UTC is still the 29th in Shanghai
        check_feedback(
            rating(level=5, at=late_evening.astimezone(ZoneInfo("UTC")).isoformat()),
            CATALOGUE,
            OFFICER,
            NOW,
        ),
    ]
    counts = {(c["day"], c["level"]): c["n"] for c in channels.rating_counts(ratings)}
    assert counts == {("2026-11-30", 5): 2, ("2026-11-30", 1): 1, ("2026-11-29", 5): 1}


def test_the_channels_module_is_pure_like_the_domain():
    from pathlib import Path

    from tests.unit.test_architecture import INFRASTRUCTURE, imported_roots

    assert not imported_roots(Path(channels.__file__)) & INFRASTRUCTURE
