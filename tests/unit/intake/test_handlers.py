"""Intake's use cases on an in-memory unit of work: registration from every channel (the form,
good and bad ratings, the hotline, the comment book, a batch with bad rows), idempotent retries,
repeat visitors, helpers, return visits, the case lists and their site scoping, and what the
lists keep of coordination's events."""

from datetime import UTC, datetime, timedelta

import pytest
from stdnum.cn import ric

from services.common.errors import Conflict, Forbidden, InvalidField, NotFound, Unauthorized
from services.intake import channels, domain, handlers
from tests.unit.fakes import FakeUnitOfWork
from tests.unit.intake.fakes import CREDENTIALS, FakeCaseNumbers, FakeIntakeStore, registrar

OFFICER = {"id": "S0004", "name": "张建国", "role": "officer", "site": "HALL"}
HALL_STAFF = {"id": "S0001", "name": "王雅婷", "role": "window_staff", "site": "HALL"}
XJK_STAFF = {"id": "S0002", "name": "陈志刚", "role": "window_staff", "site": "XJK"}
# docs/events.md: what every consumer of case_registered may rely on
REGISTERED_FIELDS = {
    "case_no", "site", "window", "matter", "department", "channel", "applicant_kind",
    "id_number_masked", "first_receiver", "first_asked_by", "description", "received_at",
    "registered_by",
    "repeat_of", "requires_return_visit", "feedback_id", "rated_staff", "rating_level", "backdate_reason",
}  # fmt: skip


def person_id(base17: str = "32010219900307123") -> str:
    return base17 + ric.calc_check_digit(base17 + "0")


PERSON = person_id()


class Intake:
    """The use cases wired to fakes, the way the service wires them to the real adapters."""

    def __init__(self):
        self.uow = FakeUnitOfWork(None)
        self.store = FakeIntakeStore(outbox=lambda: self.uow.committed)
        self.uow.store = self.store
        self.numbers = FakeCaseNumbers()
        self.registrar = registrar(self.numbers)

    def register(self, payload=None, actor=OFFICER, key=None):
        return handlers.register_case(self.uow, self.registrar, payload or form(), actor, key)

    def feedback(self, payload, actor=OFFICER, key=None):
        return handlers.submit_feedback(self.uow, self.registrar, payload, actor, key)

    def batch(self, rows, actor=OFFICER, key=None):
        body = {"ratings": rows}
        return handlers.submit_ratings_batch(self.uow, self.registrar, body, actor, key)

    def later(self, **delta):
        self.uow.clock.current += timedelta(**delta)


@pytest.fixture
def intake():
    return Intake()


def form(**overrides) -> dict:
    payload = {
        "site": "HALL",
        "window": "W01",
        "matter": "M001",
        "department": "SCJ",
        "channel": "window",
        "applicant": {"kind": "person", "name": "张三", "id_number": PERSON},
        "description": "住所使用证明不被认可，企业开办未能办成",
        "first_receiver": "S0001",
    }
    payload.update(overrides)
    return payload


def rating(**overrides) -> dict:
    payload = {"channel": "rating", "site": "HALL", "window": "W02", "matter": "M001", "level": 2}
    payload.update(overrides)
    return payload


# -- the registration form ---------------------------------------------------------------------


def test_a_registration_stores_the_case_and_announces_it_with_its_timeline_entry(intake):
    case = intake.register()
    case_no = case["case_no"]
    assert case_no == "XW-20260930-00001-HALL" and case["replayed"] is False
    assert case["first_receiver"] == "S0001" and case["status"] == "registered"
    assert case["repeat_of"] == [] and case["repeat_visitor"] is False
    assert case["helpers"] == [] and case["return_visits"] == []

    [registered] = intake.uow.events("case_registered")
    assert set(registered.data) == REGISTERED_FIELDS
    assert registered.data["registered_by"] == "S0004" and registered.data["channel"] == "window"
    assert registered.data["received_at"] == "2026-09-30T10:00:00+08:00"
    assert registered.data["feedback_id"] is None and registered.data["rated_staff"] is None
    assert (registered.site, registered.case_no, registered.actor) == ("HALL", case_no, "S0004")
    assert registered.timeline_kind == "registered"
    assert registered.timeline_text == "事项已登记（intake）"


def test_the_id_number_is_kept_encrypted_masked_and_hashed_never_in_clear(intake):
    case = intake.register()
    stored = intake.store.cases[case["case_no"]]
    [registered] = intake.uow.events("case_registered")
    masked = registered.data["id_number_masked"]
    assert masked == case["id_number_masked"] == PERSON[:6] + "********" + PERSON[-4:]
    assert PERSON not in repr(stored) and PERSON not in repr(registered.data)
    assert stored["id_number_cipher"].startswith("v2:k1:") and len(stored["id_number_hash"]) >= 32


def test_numbers_count_the_day_per_site(intake):
    first = intake.register()
    second = intake.register(form(site="XJK", window="W01", matter="M002", first_receiver="S0002"))
    third = intake.register()
    intake.later(days=1)
    fourth = intake.register()
    assert [c["case_no"] for c in (first, second, third, fourth)] == [
        "XW-20260930-00001-HALL",
        "XW-20260930-00001-XJK",
        "XW-20260930-00002-HALL",
        "XW-20261001-00001-HALL",
    ]


def test_the_same_idempotency_key_gives_the_same_case_once(intake):
    first = intake.register(key="retry-1")
    again = intake.register(key="retry-1")
    assert again["case_no"] == first["case_no"] and again["replayed"] is True
    assert len(intake.store.cases) == 1 and len(intake.uow.events("case_registered")) == 1
    assert intake.store.locked_keys == ["retry-1", "retry-1"]  # retries queue on the key


def test_a_refused_form_stores_nothing_and_takes_no_number(intake):
    with pytest.raises(InvalidField) as error:
        intake.register(form(description="  "))
    assert error.value.field == "description"
    assert intake.store.cases == {} and intake.uow.committed == [] and intake.numbers.last == {}


def test_a_registration_failing_after_its_number_leaves_a_gap_and_nothing_else(intake):
    def refuse(records, deferred=False):
        raise RuntimeError("the database went away")

    intake.store.insert_cases = refuse
    with pytest.raises(RuntimeError):
        intake.register()
    del intake.store.insert_cases
    assert intake.uow.committed == [] and intake.store.cases == {}
    assert intake.register()["case_no"] == "XW-20260930-00002-HALL"


def test_window_staff_register_only_for_their_own_site(intake):
    with pytest.raises(Forbidden):
        intake.register(form(site="XJK", window="W01", matter="M002"), actor=HALL_STAFF)
    assert intake.register(actor=HALL_STAFF)["registered_by"] == "S0001"


def test_a_repeat_visitor_is_linked_to_earlier_cases_of_the_same_matter_within_the_window(intake):
    first = intake.register()
    intake.later(days=10)
    other_matter = intake.register(form(matter="M002"))
    second = intake.register()
    assert other_matter["repeat_of"] == []
    assert second["repeat_of"] == [first["case_no"]] and second["repeat_visitor"] is True
    assert second["repeat_visits"] == [
        {
            "case_no": first["case_no"],
            "received_at": intake.store.cases[first["case_no"]]["received_at"],
            "url": f"/api/v1/cases/{first['case_no']}",
        }
    ]
    intake.later(days=85)  # 95 days after the first, 85 after the second
    assert intake.register()["repeat_of"] == [second["case_no"]]
    enterprise = {"kind": "enterprise", "name": "某公司"}
    assert intake.register(form(applicant=enterprise))["repeat_of"] == []


def test_a_registration_reads_the_applicants_earlier_cases_ahead_and_reads_back_on_a_miss(
    intake, monkeypatch
):
    """The applicant's earlier cases are read with the reference data, on the ID number and
    time guessed from the form; a registration the guess does not fit reads them (and its
    answer) the usual way, with the same outcome."""
    first = intake.register()
    intake.later(days=1)
    ahead = intake.register()
    monkeypatch.setattr(handlers.domain, "form_applicant", lambda payload, now: (None,) * 3)
    intake.later(days=1)
    missed = intake.register()
    assert ahead["repeat_of"] == [first["case_no"]]
    assert missed["repeat_of"] == [first["case_no"], ahead["case_no"]]
    assert [link["case_no"] for link in missed["repeat_visits"]] == missed["repeat_of"]
    assert missed["status"] == ahead["status"] == "registered"


def test_the_guess_ahead_of_the_checks_is_the_checked_registrations_or_nothing():
    now = datetime(2026, 9, 30, 10, 0, tzinfo=UTC)
    assert domain.form_applicant(form(), now) == (PERSON, "person", now)
    given = "2026-09-30T08:00:00+08:00"
    assert domain.form_applicant(form(received_at=given), now)[2] == datetime.fromisoformat(given)
    for broken in ({"applicant": "张三"}, {"received_at": "yesterday"}, {"received_at": 5}):
        assert domain.form_applicant(form(**broken), now) == (None, None, None)
    bad_id = {"kind": "person", "name": "张三", "id_number": "123"}
    assert domain.form_applicant(form(applicant=bad_id), now) == (None, None, None)
    no_id = {"kind": "enterprise", "name": "某公司"}
    assert domain.form_applicant(form(applicant=no_id), now) == (None, "enterprise", now)


# -- the other channels --------------------------------------------------------------------------


def test_an_anonymous_bad_rating_opens_a_case_held_by_the_rated_staff_member(intake):
    result = intake.feedback(rating(staff="S0008", text="窗口人员态度冷淡"))
    case = intake.store.cases[result["case_no"]]
    assert result["requires_return_visit"] is False and result["replayed"] is False
    assert case["first_receiver"] == "S0008" and case["rated_staff"] == "S0008"
    assert case["channel"] == "rating" and case["applicant_name"] == channels.ANONYMOUS
    assert case["feedback_id"] == result["feedback_id"] and "态度冷淡" in case["description"]
    [stored] = intake.store.ratings
    assert stored["id"] == result["feedback_id"] and stored["case_no"] == result["case_no"]

    [registered] = intake.uow.events("case_registered")
    assert registered.data["feedback_id"] == result["feedback_id"]
    assert registered.data["rated_staff"] == "S0008" and registered.data["registered_by"] == "S0004"
    assert registered.timeline_text == "好差评反映已登记为事项（intake）"
    [received] = intake.uow.events("ratings_received")
    assert (
        received.data["batch_id"] is None and received.data["feedback_id"] == result["feedback_id"]
    )
    assert (received.data["n"], received.data["bad"]) == (1, 1) and received.site == "HALL"
    # version 2: per day, site and level (what the monthly figures count)
    assert received.version == 2
    assert received.data["counts"] == [{"day": "2026-09-30", "site": "HALL", "level": 2, "n": 1}]
    assert received.timeline_kind is None


def test_a_bad_rating_naming_nobody_is_held_by_the_sites_first_window_staff_member(intake):
    result = intake.feedback(rating(level=1))
    assert intake.store.cases[result["case_no"]]["first_receiver"] == "S0001"


def test_a_real_name_bad_rating_requires_a_return_visit(intake):
    applicant = {"kind": "person", "name": "钱七", "phone": "13700001111"}
    result = intake.feedback(rating(applicant=applicant), actor=HALL_STAFF)
    assert result["requires_return_visit"] is True
    [registered] = intake.uow.events("case_registered")
    assert registered.data["requires_return_visit"] is True
    assert intake.store.ratings[0]["real_name"] is True


def test_a_good_rating_is_kept_and_opens_no_case(intake):
    result = intake.feedback(rating(level=5))
    assert result["case_no"] is None and "requires_return_visit" not in result
    assert intake.store.cases == {} and intake.store.ratings[0]["case_no"] is None
    assert [d.event_type for d in intake.uow.committed] == ["ratings_received"]


def test_a_hotline_complaint_opens_a_case_at_the_escalation_window(intake):
    result = intake.feedback(
        {"channel": "hotline", "site": "HALL", "matter": "M001", "text": "多次跑腿"}
    )
    case = intake.store.cases[result["case_no"]]
    assert (case["window"], case["channel"]) == ("ESC", "hotline")
    assert case["description"] == "监督投诉电话反映：多次跑腿"
    assert intake.store.complaints[result["feedback_id"]]["case_no"] == result["case_no"]
    assert [d.event_type for d in intake.uow.committed] == ["case_registered"]
    assert intake.uow.committed[0].timeline_text == "监督投诉电话反映已登记为事项（intake）"


def test_a_comment_book_entry_opens_a_case_only_when_it_reports_a_failure(intake):
    entry = {"channel": "comment_book", "site": "HALL", "text": "建议增加休息座椅"}
    suggestion = intake.feedback(entry)
    assert suggestion["case_no"] is None and intake.store.cases == {}
    assert intake.store.suggestions[suggestion["feedback_id"]]["text"] == "建议增加休息座椅"
    [recorded] = intake.uow.events("suggestion_recorded")
    assert recorded.data == {
        "feedback_id": suggestion["feedback_id"], "channel": "comment_book", "site": "HALL",
        "window": "ESC", "matter": None, "at": "2026-09-30T10:00:00+08:00",
    }  # fmt: skip

    failure = intake.feedback(
        {**entry, "matter": "M001", "reports_failure": True, "text": "没办成"}
    )
    assert intake.store.cases[failure["case_no"]]["channel"] == "comment_book"
    assert failure["feedback_id"] in intake.store.complaints
    assert len(intake.uow.events("suggestion_recorded")) == 1


def test_refused_feedback_names_the_field_and_stores_nothing(intake):
    for payload, field in ((rating(level=9), "level"), (rating(staff="S9999"), "staff")):
        with pytest.raises(InvalidField) as error:
            intake.feedback(payload)
        assert error.value.field == field
    with pytest.raises(Forbidden):
        intake.feedback(rating(site="XJK", window="W01", matter="M002"), actor=HALL_STAFF)
    assert intake.store.ratings == [] and intake.uow.committed == [] and intake.numbers.last == {}


def test_the_same_idempotency_key_records_feedback_once(intake):
    first = intake.feedback(rating(), key="fb-1")
    again = intake.feedback(rating(), key="fb-1")
    assert again == {**first, "replayed": True}
    assert len(intake.store.cases) == 1 and len(intake.store.ratings) == 1
    assert len(intake.uow.committed) == 2  # one case_registered, one ratings_received
    assert intake.store.locked_keys == ["feedback:HALL:fb-1", "feedback:HALL:fb-1"]


# -- the batch path --------------------------------------------------------------------------------


def test_a_batch_keeps_valid_rows_reports_invalid_ones_and_opens_cases_for_bad_ones(intake):
    same_person = {"kind": "person", "name": "孙八", "id_number": person_id("32010219700101123")}
    rows = [
        rating(level=5),
        rating(level=9),  # 1: refused
        rating(level=1, applicant=same_person),
        rating(level=4, site="XJK", window="W01", matter="M002"),
        "not an object",  # 4: refused
        rating(level=2, applicant=same_person),
        {**rating(level=3), "channel": "hotline"},  # 6: refused
    ]
    result = intake.batch(rows)
    assert result["accepted"] == 4 and result["replayed"] is False
    assert [(r["index"], r["field"]) for r in result["rejected"]] == [
        (1, "level"),
        (4, None),
        (6, "channel"),
    ]
    opened = {item["index"]: item for item in result["cases_opened"]}
    assert set(opened) == {2, 5}
    assert [opened[i]["case_no"] for i in (2, 5)] == [
        "XW-20260930-00001-HALL",
        "XW-20260930-00002-HALL",
    ]
    first, second = (intake.store.cases[opened[i]["case_no"]] for i in (2, 5))
    # the same person's second bad rating in the batch points to the first
    assert second["repeat_of"] == [first["case_no"]] and first["repeat_of"] == []
    assert first["requires_return_visit"] is True and first["first_receiver"] == "S0001"
    assert first["feedback_id"] == opened[2]["feedback_id"]

    by_id = {r["id"]: r for r in intake.store.ratings}
    assert len(by_id) == 4 and {r["batch_id"] for r in by_id.values()} == {result["batch_id"]}
    assert by_id[opened[5]["feedback_id"]]["case_no"] == second["case_no"]
    # the batch's cases in one event, each item a case_registered's data; timeline entries per case
    assert intake.uow.events("case_registered") == []
    [batch] = intake.uow.events("cases_registered")
    registered = batch.data["cases"]
    assert [d["case_no"] for d in registered] == [first["case_no"], second["case_no"]]
    assert all(set(d) == REGISTERED_FIELDS for d in registered)
    assert registered[1]["repeat_of"] == [first["case_no"]]
    notes = [(n["case_no"], n["kind"], n["text"]) for n in intake.uow.notes]
    assert notes == [
        (case["case_no"], "registered", "好差评反映已登记为事项（intake）") for case in (first, second)
    ]
    assert intake.store.registration_event(second["case_no"])["data"] == batch.data
    [received] = intake.uow.events("ratings_received")
    assert received.data["batch_id"] == result["batch_id"] and received.data["feedback_id"] is None
    counts = {(c["site"], c["level"]): c["n"] for c in received.data["counts"]}
    assert counts == {("HALL", 5): 1, ("HALL", 1): 1, ("XJK", 4): 1, ("HALL", 2): 1}
    assert (received.data["n"], received.data["bad"]) == (4, 2) and received.site is None


def test_a_batch_of_good_ratings_takes_no_case_number(intake):
    result = intake.batch([rating(level=4)] * 3)
    assert result["cases_opened"] == [] and intake.numbers.last == {}
    assert [r["id"].startswith("db-") for r in intake.store.ratings] == [True] * 3


def test_a_batch_of_only_bad_rows_stores_nothing_but_says_why(intake):
    result = intake.batch([rating(level=0), rating(window="W99")])
    assert result["accepted"] == 0
    assert [r["field"] for r in result["rejected"]] == ["level", "window"]
    assert intake.store.ratings == [] and intake.uow.committed == []


@pytest.mark.parametrize(
    "body",
    [{}, {"ratings": []}, {"ratings": "x"}, {"ratings": [{}] * (channels.MAX_BATCH_RATINGS + 1)}],
)
def test_a_batch_that_is_not_a_bounded_list_of_ratings_is_refused(intake, body):
    with pytest.raises(InvalidField) as error:
        handlers.submit_ratings_batch(intake.uow, intake.registrar, body, OFFICER, None)
    assert error.value.field == "ratings"


def test_a_retried_batch_is_stored_once(intake):
    first = intake.batch([rating(level=4), rating(level=1)], key="batch-1")
    again = intake.batch([rating(level=4), rating(level=1)], key="batch-1")
    assert again == {**first, "replayed": True}
    assert len(intake.store.ratings) == 2 and len(intake.store.cases) == 1


# -- reading cases, and who may --------------------------------------------------------------------


def test_window_staff_list_only_their_site_whatever_the_filters(intake):
    hall = intake.register()
    xjk = intake.register(form(site="XJK", window="W01", matter="M002", first_receiver="S0002"))

    def listed(filters, actor):
        return [case["case_no"] for case in handlers.list_cases(intake.uow, filters, actor)]

    assert listed({}, OFFICER) == [xjk["case_no"], hall["case_no"]]  # newest first
    assert listed({"site": "XJK"}, OFFICER) == [xjk["case_no"]]
    assert listed({}, XJK_STAFF) == listed({"site": "XJK"}, XJK_STAFF) == [xjk["case_no"]]
    with pytest.raises(Forbidden) as error:
        listed({"site": "HALL"}, XJK_STAFF)
    assert error.value.field == "site"
    assert listed({"limit": "1"}, OFFICER) == [xjk["case_no"]]
    assert listed({"cursor": xjk["case_no"]}, OFFICER) == [hall["case_no"]]


def test_list_filters_are_checked(intake):
    with pytest.raises(InvalidField) as error:
        handlers.list_cases(intake.uow, {"type": "weird"}, OFFICER)
    assert error.value.field == "type"
    with pytest.raises(InvalidField) as error:
        handlers.list_cases(intake.uow, {"overdue": "maybe"}, OFFICER)
    assert error.value.field == "overdue"
    assert handlers.list_cases(intake.uow, {"overdue": "false", "type": ""}, OFFICER) == []


def test_a_case_is_shown_to_its_site_and_to_district_roles_only(intake):
    case_no = intake.register()["case_no"]
    assert handlers.get_case(intake.uow, case_no, HALL_STAFF)["case_no"] == case_no
    assert handlers.get_case(intake.uow, case_no, OFFICER)["case_no"] == case_no
    with pytest.raises(Forbidden):
        handlers.get_case(intake.uow, case_no, XJK_STAFF)
    with pytest.raises(NotFound):
        handlers.get_case(intake.uow, "XW-20260930-09999-HALL", OFFICER)


def test_the_registration_event_is_the_one_written_for_the_case(intake):
    case_no = intake.register()["case_no"]
    event = handlers.registration_event(intake.uow, case_no)
    assert event["type"] == "case_registered" and event["data"]["case_no"] == case_no
    assert handlers.registration_event(intake.uow, "XW-20260930-09999-HALL") is None


# -- first receiver, helpers, return visits ------------------------------------------------------


def test_helpers_join_the_case_once_and_the_first_receiver_stays(intake):
    case_no = intake.feedback(rating(staff="S0008"))["case_no"]
    added = handlers.add_helper(intake.uow, case_no, " S0010 ", HALL_STAFF)
    assert added["added"] is True and added["first_receiver"] == "S0008"
    assert [h["staff_id"] for h in added["helpers"]] == ["S0010"]
    [event] = intake.uow.events("case_helper_added")
    assert event.data == {
        "case_no": case_no, "staff_id": "S0010", "actor": "S0001", "at": "2026-09-30T10:00:00+08:00",
    }  # fmt: skip
    assert (event.timeline_kind, event.timeline_text) == ("helper_added", "添加协助人员 S0010")

    assert handlers.add_helper(intake.uow, case_no, "S0010", OFFICER)["added"] is False
    assert len(intake.uow.events("case_helper_added")) == 1


@pytest.mark.parametrize(
    "staff_id, actor, error",
    [
        ("S0008", OFFICER, Conflict),  # the first receiver is on the case anyway
        ("S9999", OFFICER, InvalidField),
        ("", OFFICER, InvalidField),
        (None, OFFICER, InvalidField),
        ("S0010", XJK_STAFF, Forbidden),
    ],
)
def test_a_helper_who_cannot_be_added_is_refused(intake, staff_id, actor, error):
    case_no = intake.feedback(rating(staff="S0008"))["case_no"]
    with pytest.raises(error):
        handlers.add_helper(intake.uow, case_no, staff_id, actor)
    assert intake.uow.events("case_helper_added") == [] and intake.store.helpers(case_no) == []


def test_a_helper_for_an_unknown_case_is_not_found(intake):
    with pytest.raises(NotFound):
        handlers.add_helper(intake.uow, "XW-20260930-09999-HALL", "S0010", OFFICER)


def test_a_real_name_bad_ratings_case_takes_a_return_visit(intake):
    applicant = {"kind": "person", "name": "钱七", "phone": "13700001111"}
    case_no = intake.feedback(rating(applicant=applicant))["case_no"]
    visit = handlers.record_return_visit(
        intake.uow, case_no, {"satisfied": False, "notes": "仍不满意"}, HALL_STAFF
    )
    assert visit["return_visit"]["satisfied"] is False and visit["case_no"] == case_no
    [event] = intake.uow.events("return_visit_recorded")
    assert event.data == {
        "case_no": case_no, "actor": "S0001", "at": "2026-09-30T10:00:00+08:00",
        "satisfied": False, "notes": "仍不满意",
    }  # fmt: skip
    assert event.timeline_text == "已回访：不满意" and event.site == "HALL"
    assert (
        handlers.get_case(intake.uow, case_no, OFFICER)["return_visits"][0]["notes"] == "仍不满意"
    )


def test_a_return_visit_is_refused_where_none_is_needed_or_the_answer_is_unclear(intake):
    anonymous = intake.feedback(rating())["case_no"]
    with pytest.raises(Conflict):
        handlers.record_return_visit(intake.uow, anonymous, {"satisfied": True}, OFFICER)
    for body in ({}, {"satisfied": "yes"}, {"satisfied": True, "notes": "含\x00"}):
        with pytest.raises(InvalidField):
            handlers.record_return_visit(intake.uow, anonymous, body, OFFICER)
    assert intake.uow.events("return_visit_recorded") == []


# -- what coordination tells the lists ----------------------------------------------------------


def coordination(event_type, case_no, at, event_id=None, **data):
    return {
        "id": event_id or f"{event_type}-{at}",
        "type": event_type,
        "occurred_at": at,
        "data": {"case_no": case_no, "at": at, **data},
    }


def test_coordination_events_keep_status_type_and_overdue_once_each(intake):
    case_no = intake.register()["case_no"]
    follow = handlers.follow_coordination
    uow = intake.uow

    assert follow(uow, coordination("case_classified", case_no, "2026-09-30T11:00:00+08:00",
                                    type="pending", complex=True))  # fmt: skip
    assert follow(uow, coordination("case_state_changed", case_no, "2026-09-30T11:00:00+08:00",
                                    to_state="in_meeting", type="pending"))  # fmt: skip
    # a late, older state change does not win over the newer one
    assert follow(uow, coordination("case_state_changed", case_no, "2026-09-30T10:55:00+08:00",
                                    to_state="classified"))  # fmt: skip
    breached = coordination("deadline_breached", case_no, "2026-10-06T17:30:00+08:00")
    assert follow(uow, breached)
    case = handlers.get_case(uow, case_no, OFFICER)
    assert (case["status"], case["type"], case["complex"], case["overdue"]) == (
        "in_meeting",
        "pending",
        True,
        True,
    )
    assert follow(uow, coordination("case_replied", case_no, "2026-10-07T09:00:00+08:00"))
    assert handlers.get_case(uow, case_no, OFFICER)["overdue"] is False
    assert follow(uow, breached) is False  # a redelivery changes nothing
    assert handlers.get_case(uow, case_no, OFFICER)["overdue"] is False


def test_a_state_that_answers_the_deadline_ends_overdue_whatever_the_order(intake):
    case_no = intake.register()["case_no"]
    handlers.follow_coordination(
        intake.uow,
        coordination(
            "case_state_changed", case_no, "2026-10-07T09:00:00+08:00", to_state="archived"
        ),  # fmt: skip
    )
    handlers.follow_coordination(
        intake.uow, coordination("deadline_breached", case_no, "2026-10-06T17:30:00+08:00")
    )
    assert handlers.list_cases(intake.uow, {"overdue": "true"}, OFFICER) == []


# -- identity and reference data ------------------------------------------------------------------


def test_staff_sign_in_with_their_password_and_get_no_hash_back(intake):
    staff = handlers.authenticate(intake.uow, CREDENTIALS, "hall.staff", "demo")
    assert staff == {"id": "S0001", "name": "王雅婷", "role": "window_staff", "site": "HALL",
                     "department": None}  # fmt: skip
    for username, password in (("hall.staff", "wrong"), ("nobody", "demo"), (None, None)):
        with pytest.raises(Unauthorized):
            handlers.authenticate(intake.uow, CREDENTIALS, username, password)


def test_reference_data_of_a_site(intake):
    assert [m["code"] for m in handlers.matters(intake.uow, "XJK")] == ["M002"]
    assert [m["code"] for m in handlers.matters(intake.uow)] == ["M001", "M002"]
    assert [s["id"] for s in handlers.staff(intake.uow, "XJK")] == ["S0002"]
    assert {s["code"] for s in handlers.sites(intake.uow)} == {"HALL", "XJK"}
    assert [d["code"] for d in handlers.departments(intake.uow)] == ["SCJ", "SPJ"]
