"""Intake's other channels, helpers, return visits and coordination's state, on real
RabbitMQ and PostgreSQL: the service runs in-process and is called over RPC."""

import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import psycopg
import pytest
from nameko.amqp.publish import Publisher
from nameko.constants import PERSISTENT
from nameko.standalone.events import get_event_exchange
from stdnum.cn import ric

import services.gateway.http  # noqa: F401  (domain errors come back over RPC as themselves)
from services.common.errors import Conflict, Forbidden, InvalidField
from services.common.events import new_event
from services.common.outbox import signed_by
from services.common.postgres import DatabaseProvider
from services.common.rpc import SignedClusterRpcProxy
from services.common.unit_of_work import UnitOfWorkProvider
from services.intake import store
from services.intake.service import IntakeService
from tests.integration.helpers import running, wait_for
from tools import sandbox

pytestmark = pytest.mark.integration

OFFICER = {"id": "S0004", "name": "张建国", "role": "officer", "site": "HALL"}
HALL_STAFF = {"id": "S0001", "name": "王雅婷", "role": "window_staff", "site": "HALL"}
XJK_STAFF = {"id": "S0002", "name": "陈志刚", "role": "window_staff", "site": "XJK"}


def person_id(base17: str) -> str:
    return base17 + ric.calc_check_digit(base17 + "0")


def rating(**overrides) -> dict:
    payload = {
        "channel": "rating",
        "site": "HALL",
        "window": "W02",
        "matter": "M001",
        "level": 2,
        "text": "窗口人员态度冷淡",
    }
    payload.update(overrides)
    return payload


@pytest.fixture(scope="module")
def config(service_config):
    # small pools, since other suites share the database server
    settings = {"DB_POOL_MIN": 1, "DB_POOL_MAX": 4}
    return {**service_config, "BANCHENG": {**service_config["BANCHENG"], **settings}}


class IntakeWithoutRelay(IntakeService):
    """Intake on a vhost of its own: no relay, so it never takes the shared outbox's events
    to a broker where nobody else listens (the session's intake relays publish them)."""

    db = DatabaseProvider()
    uow = UnitOfWorkProvider(schema=store.SCHEMA, store_module=store)


@pytest.fixture(scope="module")
def private_config(config):
    """A vhost only this module's intake listens on: the coordination events published here
    are test doubles, and the other services must not take them for real ones."""
    management = config["RABBIT_MANAGEMENT_URL"]
    vhost_name = urlsplit(config["AMQP_URI"]).path.lstrip("/") + "_intake"
    yield {**config, "AMQP_URI": sandbox.create_vhost(config["AMQP_URI"], management, vhost_name)}
    sandbox.delete_vhost(management, vhost_name)


@pytest.fixture(scope="module")
def intake(private_config):
    with running(private_config, IntakeWithoutRelay):
        with SignedClusterRpcProxy(private_config, timeout=30) as rpc_proxy:
            yield rpc_proxy.intake


def one(db, sql: str, *params):
    with db.connection() as conn:
        return conn.execute(sql, params).fetchone()


def count(db, sql: str, *params) -> int:
    return one(db, f"SELECT count(*) AS n FROM ({sql}) q", *params)["n"]


def outbox_events(db, event_type: str, field: str, value: str) -> list[dict]:
    with db.connection() as conn:
        rows = conn.execute(
            "SELECT payload FROM intake.outbox WHERE event_type = %s "
            "AND payload->'data'->>%s = %s ORDER BY position",
            (event_type, field, value),
        ).fetchall()
    return [row["payload"] for row in rows]


# -- ratings ---------------------------------------------------------------------------------


def test_an_anonymous_bad_rating_opens_a_case_held_by_the_rated_staff_member(intake, db):
    result = intake.submit_feedback(rating(staff="S0008"), OFFICER, None)
    case_no = result["case_no"]
    assert case_no.endswith("-HALL") and result["requires_return_visit"] is False

    case = intake.get_case(case_no, OFFICER)
    assert case["channel"] == "rating" and case["first_receiver"] == "S0008"
    assert case["rated_staff"] == "S0008" and case["department"] == "SCJ"
    assert case["feedback_id"] == result["feedback_id"]
    assert "不满意" in case["description"] and "态度冷淡" in case["description"]

    stored = one(
        db, "SELECT level, case_no FROM intake.ratings WHERE id = %s", result["feedback_id"]
    )
    assert stored == {"level": 2, "case_no": case_no}
    [registered] = outbox_events(db, "case_registered", "case_no", case_no)
    assert registered["data"]["rated_staff"] == "S0008"
    assert registered["data"]["feedback_id"] == result["feedback_id"]
    assert registered["data"]["requires_return_visit"] is False
    [received] = outbox_events(db, "ratings_received", "feedback_id", result["feedback_id"])
    assert received["data"]["counts"][0]["level"] == 2 and received["data"]["counts"][0]["n"] == 1


def test_without_a_named_staff_member_the_sites_first_window_staff_member_answers(intake):
    hall = intake.submit_feedback(rating(level=1), OFFICER, None)
    assert intake.get_case(hall["case_no"], OFFICER)["first_receiver"] == "S0001"
    street = intake.submit_feedback(rating(site="XJK", window="W01", matter="M002"), OFFICER, None)
    assert intake.get_case(street["case_no"], OFFICER)["first_receiver"] == "S0002"


def test_a_real_name_bad_rating_requires_a_return_visit(intake, db):
    applicant = {"kind": "person", "name": "钱七", "phone": "13700001111"}
    result = intake.submit_feedback(rating(applicant=applicant), HALL_STAFF, None)
    case_no = result["case_no"]
    assert result["requires_return_visit"] is True
    [registered] = outbox_events(db, "case_registered", "case_no", case_no)
    assert registered["data"]["requires_return_visit"] is True

    visit = intake.record_return_visit(
        case_no, {"satisfied": True, "notes": "已电话回访"}, HALL_STAFF
    )
    assert visit["return_visit"]["satisfied"] is True
    [recorded] = outbox_events(db, "return_visit_recorded", "case_no", case_no)
    assert recorded["data"]["satisfied"] is True and recorded["data"]["actor"] == "S0001"
    assert intake.get_case(case_no, OFFICER)["return_visits"][0]["notes"] == "已电话回访"

    with pytest.raises(InvalidField) as error:
        intake.record_return_visit(case_no, {"satisfied": "yes"}, HALL_STAFF)
    assert error.value.field == "satisfied"
    with pytest.raises(Forbidden):
        intake.record_return_visit(case_no, {"satisfied": True}, XJK_STAFF)


def test_a_case_that_needs_no_return_visit_refuses_one(intake):
    anonymous = intake.submit_feedback(rating(), OFFICER, None)
    with pytest.raises(Conflict):
        intake.record_return_visit(anonymous["case_no"], {"satisfied": True}, OFFICER)


def test_a_good_rating_is_kept_for_reporting_and_opens_no_case(intake, db):
    before = count(db, "SELECT 1 FROM intake.cases")
    result = intake.submit_feedback(rating(level=5, text=""), HALL_STAFF, None)
    assert result["case_no"] is None
    assert one(db, "SELECT level FROM intake.ratings WHERE id = %s", result["feedback_id"]) == {
        "level": 5
    }
    assert count(db, "SELECT 1 FROM intake.cases") == before


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"level": 6}, "level"),
        ({"level": True}, "level"),
        ({"level": None}, "level"),
        ({"site": "NOWHERE"}, "site"),
        ({"window": "W99"}, "window"),
        ({"matter": "M021"}, "matter"),
        ({"staff": "S0011"}, "staff"),  # works at RS, not at the hall
        ({"channel": "fax"}, "channel"),
        ({"applicant": {"name": "钱七", "id_number": "320102197805123319"}}, "applicant.id_number"),
        ({"applicant": {"name": "钱七", "phone": "12345"}}, "applicant.phone"),
    ],
)
def test_bad_feedback_is_refused_naming_the_field_and_nothing_is_stored(
    intake, db, overrides, field
):
    before = [count(db, f"SELECT 1 FROM intake.{t}") for t in ("cases", "ratings", "outbox")]
    with pytest.raises(InvalidField) as error:
        intake.submit_feedback(rating(**overrides), OFFICER, None)
    assert error.value.field == field
    after = [count(db, f"SELECT 1 FROM intake.{t}") for t in ("cases", "ratings", "outbox")]
    assert after == before


def test_window_staff_give_feedback_only_about_their_own_site(intake):
    with pytest.raises(Forbidden):
        intake.submit_feedback(rating(), XJK_STAFF, None)


def test_the_same_idempotency_key_records_feedback_once(intake, db):
    key = f"fb-{uuid.uuid4()}"
    first = intake.submit_feedback(rating(), OFFICER, key)
    again = intake.submit_feedback(rating(), OFFICER, key)
    assert again["replayed"] is True and first["replayed"] is False
    assert again["case_no"] == first["case_no"] and again["feedback_id"] == first["feedback_id"]
    assert count(db, "SELECT 1 FROM intake.ratings WHERE id = %s", first["feedback_id"]) == 1


# -- hotline and comment book ----------------------------------------------------------------


def test_a_hotline_complaint_always_opens_a_case_at_the_escalation_window(intake, db):
    result = intake.submit_feedback(
        {"channel": "hotline", "site": "XJK", "matter": "M005", "text": "租赁备案被拒三次"},
        OFFICER,
        None,
    )
    case = intake.get_case(result["case_no"], OFFICER)
    assert case["channel"] == "hotline" and case["window"] == "ESC"
    assert case["description"] == "监督投诉电话反映：租赁备案被拒三次"
    assert one(
        db, "SELECT case_no FROM intake.complaints WHERE id = %s", result["feedback_id"]
    ) == {"case_no": result["case_no"]}


def test_a_comment_book_entry_opens_a_case_only_when_it_reports_a_failure(intake, db):
    failure = intake.submit_feedback(
        {
            "channel": "comment_book",
            "site": "HALL",
            "matter": "M001",
            "reports_failure": True,
            "text": "材料齐全仍未办成",
        },
        HALL_STAFF,
        None,
    )
    assert failure["case_no"] and intake.get_case(failure["case_no"], OFFICER)["channel"] == (
        "comment_book"
    )
    low = intake.submit_feedback(
        {"channel": "comment_book", "site": "HALL", "matter": "M001", "level": 1, "text": "太差"},
        HALL_STAFF,
        None,
    )
    assert low["case_no"]

    suggestion = intake.submit_feedback(
        {"channel": "comment_book", "site": "HALL", "text": "建议增加休息座椅"}, HALL_STAFF, None
    )
    assert suggestion["case_no"] is None
    stored = one(db, "SELECT text FROM intake.suggestions WHERE id = %s", suggestion["feedback_id"])
    assert stored == {"text": "建议增加休息座椅"}
    [event] = outbox_events(db, "suggestion_recorded", "feedback_id", suggestion["feedback_id"])
    assert event["data"]["channel"] == "comment_book" and event["data"]["site"] == "HALL"


# -- the batch path --------------------------------------------------------------------------


def test_a_batch_keeps_valid_rows_reports_invalid_ones_and_opens_cases_for_bad_ones(intake, db):
    same_person = {"kind": "person", "name": "孙八", "id_number": person_id("32010219700101123")}
    rows = [
        rating(level=5, text=""),
        rating(level=9),  # 1: refused
        rating(level=1, applicant=same_person),
        rating(level=4, site="XJK", window="W01", matter="M002"),
        "not an object",  # 4: refused
        rating(level=2, applicant=same_person),
        rating(level=3, staff="S9999"),  # 6: refused
    ]
    result = intake.submit_ratings_batch({"ratings": rows}, OFFICER, None)
    assert result["accepted"] == 4
    assert [(r["index"], r["field"]) for r in result["rejected"]] == [
        (1, "level"),
        (4, None),
        (6, "staff"),
    ]
    assert all(r["message"] for r in result["rejected"])
    opened = {item["index"]: item["case_no"] for item in result["cases_opened"]}
    assert set(opened) == {2, 5}

    stored = count(db, "SELECT 1 FROM intake.ratings WHERE batch_id = %s", result["batch_id"])
    assert stored == 4
    first, second = (intake.get_case(opened[i], OFFICER) for i in (2, 5))
    assert first["requires_return_visit"] and first["first_receiver"] == "S0001"
    assert second["id_number_masked"].startswith("320102") and "*" in second["id_number_masked"]
    # the same person's second bad rating in the batch points to the first
    assert second["repeat_of"] == [opened[2]] and second["repeat_visitor"] is True
    assert [link["case_no"] for link in second["repeat_visits"]] == [opened[2]]

    [received] = outbox_events(db, "ratings_received", "batch_id", result["batch_id"])
    counts = {(c["site"], c["level"]): c["n"] for c in received["data"]["counts"]}
    assert counts == {("HALL", 5): 1, ("HALL", 1): 1, ("XJK", 4): 1, ("HALL", 2): 1}
    # the batch's cases in one event; each found by its case number for a consumer's fetch
    for case_no in opened.values():
        assert outbox_events(db, "case_registered", "case_no", case_no) == []
        batch = intake.registration_event(case_no)
        assert batch["type"] == "cases_registered" and batch["source_service"] == "intake"
        cases = {case["case_no"]: case for case in batch["data"]["cases"]}
        assert set(cases) == set(opened.values())
        assert cases[case_no]["channel"] == "rating"


def test_a_batch_that_is_not_a_list_of_ratings_is_refused(intake):
    for body in ({}, {"ratings": []}, {"ratings": "x"}):
        with pytest.raises(InvalidField) as error:
            intake.submit_ratings_batch(body, OFFICER, None)
        assert error.value.field == "ratings"


def test_a_retried_batch_is_stored_once(intake, db):
    key = f"batch-{uuid.uuid4()}"
    first = intake.submit_ratings_batch({"ratings": [rating(level=4)] * 3}, OFFICER, key)
    again = intake.submit_ratings_batch({"ratings": [rating(level=4)] * 3}, OFFICER, key)
    assert again["batch_id"] == first["batch_id"] and again["replayed"] is True
    assert count(db, "SELECT 1 FROM intake.ratings WHERE batch_id = %s", first["batch_id"]) == 3


# -- first receiver and helpers --------------------------------------------------------------


def test_helpers_join_the_case_and_the_first_receiver_stays(intake, db):
    case_no = intake.submit_feedback(rating(staff="S0009"), OFFICER, None)["case_no"]
    added = intake.add_helper(case_no, "S0010", HALL_STAFF)
    assert added["added"] is True and added["first_receiver"] == "S0009"
    assert [h["staff_id"] for h in added["helpers"]] == ["S0010"]
    assert intake.add_helper(case_no, "S0010", OFFICER)["added"] is False
    [event] = outbox_events(db, "case_helper_added", "case_no", case_no)
    assert event["data"] == {
        "case_no": case_no,
        "staff_id": "S0010",
        "actor": "S0001",
        "at": event["data"]["at"],
    }
    with pytest.raises(Conflict):
        intake.add_helper(case_no, "S0009", OFFICER)
    with pytest.raises(InvalidField):
        intake.add_helper(case_no, "S9999", OFFICER)
    with pytest.raises(Forbidden):
        intake.add_helper(case_no, "S0022", XJK_STAFF)
    assert intake.get_case(case_no, OFFICER)["first_receiver"] == "S0009"


def test_the_database_refuses_to_change_a_first_receiver(intake, database_url):
    case_no = intake.submit_feedback(rating(staff="S0009"), OFFICER, None)["case_no"]
    with psycopg.connect(database_url) as conn:
        for column, value in (("first_receiver", "S0010"), ("first_asked_by", "S0010")):
            with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="首接负责制"):
                with conn.transaction():
                    conn.execute(
                        f"UPDATE intake.cases SET {column} = %s WHERE case_no = %s",
                        (value, case_no),
                    )
        # other columns still change
        conn.execute("UPDATE intake.cases SET status = 'registered' WHERE case_no = %s", (case_no,))
        receiver = conn.execute(
            "SELECT first_receiver FROM intake.cases WHERE case_no = %s", (case_no,)
        ).fetchone()[0]
    assert receiver == "S0009"


# -- coordination's state, for the list filters ----------------------------------------------


def coordination_event(event_type: str, case_no: str, at: datetime, **data) -> dict:
    """A coordination event with every field docs/events.md gives it."""
    stamp = at.isoformat()
    fields = {
        "case_classified": {
            "type": "hard",
            "complex": False,
            "reason": "测试",
            "actor": "S0004",
            "at": stamp,
            "site": "HALL",
            "department": "SCJ",
            "matter": "M001",
            "first_receiver": "S0001",
        },
        "case_state_changed": {
            "from_state": "registered",
            "to_state": "classified",
            "actor": "S0004",
            "reason": "测试",
            "at": stamp,
            "site": "HALL",
            "department": "SCJ",
            "type": None,
        },
        "deadline_breached": {
            "deadline_id": str(uuid.uuid4()),
            "kind": "reply",
            "due_at": stamp,
            "department": "SCJ",
            "site": "HALL",
        },
        "case_replied": {
            "replied_at": stamp,
            "due_at": stamp,
            "on_time": False,
            "working_days_taken": 4,
            "summary": "已答复",
            "actor": "S0005",
        },
        "case_resolved": {
            "outcome": "resolved",
            "summary": "已办结",
            "actor": "S0004",
            "at": stamp,
        },
    }[event_type]
    return new_event(
        event_type,
        {"case_no": case_no, **fields, **data},
        source_service="coordination",
        source_site="HALL",
        occurred_at=at,
    )  # fmt: skip


def test_coordination_events_keep_status_type_and_overdue_for_the_list(intake, private_config, db):
    config = private_config
    case_no = intake.submit_feedback(rating(), OFFICER, None)["case_no"]
    publisher = Publisher(
        config["AMQP_URI"],
        declare=[get_event_exchange("coordination", config)],
        delivery_mode=PERSISTENT,
    )
    exchange = get_event_exchange("coordination", config)
    now = datetime.now(UTC)

    def publish(event_type, at, **data):
        event = coordination_event(event_type, case_no, at, **data)
        signed = signed_by(config, "coordination", event)
        publisher.publish(event, exchange=exchange, routing_key=event_type, headers=signed)
        return event

    def listed(**filters):
        return [c["case_no"] for c in intake.list_cases({**filters, "limit": 500}, OFFICER)]

    publish("case_classified", now, type="pending", complex=True, reason="职责不清")
    publish("case_state_changed", now, from_state="registered", to_state="in_meeting")
    # a late, older state change does not win over the newer one
    publish("case_state_changed", now - timedelta(minutes=5), from_state="x", to_state="classified")
    breached = publish("deadline_breached", now)
    wait_for(lambda: case_no in listed(overdue="true"))
    wait_for(lambda: case_no in listed(type="pending", status="in_meeting"))
    time.sleep(0.3)  # let the older state change be handled too
    case = intake.get_case(case_no, OFFICER)
    assert (case["status"], case["type"], case["complex"]) == ("in_meeting", "pending", True)
    assert case_no not in listed(type="hard") and case_no not in listed(overdue="false")

    publish("case_replied", now)
    wait_for(lambda: case_no in listed(overdue="false"))
    # a redelivered breach changes nothing: it was handled once already
    publisher.publish(
        breached,
        exchange=exchange,
        routing_key="deadline_breached",
        headers=signed_by(config, "coordination", breached),
    )
    time.sleep(0.3)
    assert case_no not in listed(overdue="true")

    with pytest.raises(InvalidField):
        intake.list_cases({"overdue": "maybe"}, OFFICER)
    with pytest.raises(InvalidField):
        intake.list_cases({"type": "weird"}, OFFICER)


def test_a_breach_after_the_reply_does_not_make_the_case_overdue(intake, private_config):
    config = private_config
    case_no = intake.submit_feedback(rating(), OFFICER, None)["case_no"]
    exchange = get_event_exchange("coordination", config)
    publisher = Publisher(config["AMQP_URI"], declare=[exchange], delivery_mode=PERSISTENT)
    for event_type in ("case_resolved", "deadline_breached"):
        event = coordination_event(event_type, case_no, datetime.now(UTC))
        signed = signed_by(config, "coordination", event)
        publisher.publish(event, exchange=exchange, routing_key=event_type, headers=signed)

    def handled():
        case = intake.list_cases({"q": case_no}, OFFICER)
        return case and case[0]

    def both_handled():
        with psycopg.connect(config["DATABASE_URL"]) as conn:
            row = conn.execute(
                "SELECT deadline_breached AND answered FROM intake.cases WHERE case_no = %s",
                (case_no,),
            ).fetchone()
        return row[0]

    wait_for(both_handled)
    assert handled()["overdue"] is False


# -- registration extras ---------------------------------------------------------------------


def registration(base17: str, **overrides) -> dict:
    payload = {
        "site": "HALL",
        "window": "W01",
        "matter": "M001",
        "department": "SCJ",
        "applicant": {"kind": "person", "name": "周九", "id_number": person_id(base17)},
        "description": "住所证明不被认可",
        "first_receiver": "S0001",
    }
    payload.update(overrides)
    return payload


def test_registration_shows_practices_and_links_a_repeat_visitor_to_earlier_cases(
    intake, private_config, db
):
    """Intake keeps coordination's standard practices from its practice_promoted events and
    shows a matter's with each registration: no call to coordination per case (issue 16)."""
    config = private_config
    exchange = get_event_exchange("coordination", config)
    publisher = Publisher(config["AMQP_URI"], declare=[exchange], delivery_mode=PERSISTENT)
    practice_id = 9_000_000_000 + uuid.uuid4().int % 1_000_000_000  # beyond coordination's ids
    event = new_event(
        "practice_promoted",
        {
            "practice_id": practice_id,
            "matter": "M001",
            "windows": ["W01"],
            "title": "视频连线确认房东",
            "description": "只有证件时，远程视频确认房东身份后办理租赁备案",
            "case_no": None,
            "actor": "S0004",
            "at": datetime.now(UTC).isoformat(),
        },
        source_service="coordination",
        source_site=None,
    )
    try:
        for _ in range(2):  # a redelivery keeps one copy
            publisher.publish(
                event,
                exchange=exchange,
                routing_key="practice_promoted",
                headers=signed_by(config, "coordination", event),
            )
        wait_for(
            lambda: count(db, "SELECT 1 FROM intake.practices WHERE practice_id = %s", practice_id)
        )
        first = intake.register_case(registration("32010219660606123"), OFFICER, None)
        second = intake.register_case(registration("32010219660606123"), OFFICER, None)
        [shown] = [p for p in first["practices"] if p["id"] == practice_id]
        assert shown["title"] == "视频连线确认房东" and shown["matter"] == "M001"
        assert shown["description"].startswith("只有证件时") and shown["created_by"] == "S0004"
        assert practice_id in [p["id"] for p in second["practices"]]
        other = intake.register_case(
            registration("32010219660606124", matter="M002", department="SCJ"), OFFICER, None
        )
        assert practice_id not in [p["id"] for p in other["practices"]]
        handled = count(db, "SELECT 1 FROM intake.handled_events WHERE event_id = %s", event["id"])
        assert handled == 1
    finally:
        with db.connection() as conn:
            conn.execute("DELETE FROM intake.practices WHERE practice_id = %s", (practice_id,))
    assert first["repeat_of"] == [] and first["repeat_visitor"] is False
    assert second["repeat_of"] == [first["case_no"]] and second["repeat_visitor"] is True
    [link] = second["repeat_visits"]
    assert link["case_no"] == first["case_no"]
    assert link["url"] == f"/api/v1/cases/{first['case_no']}"
    assert link["received_at"] == first["received_at"]


def test_a_registration_answers_what_reading_its_case_back_shows(intake):
    """The answer is built from what was written (no read back): field for field what
    the case shows when read, times included (a ``received_at`` given in UTC comes back in
    the database's time zone), for a first visit and a repeat visit, and for a replay."""
    received_at = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    payload = registration(
        "32010219660606125",
        received_at=received_at,
        first_asked_by="S0008",
        materials_presented=["身份证"],
        materials_missing=["租赁合同"],
    )
    payload["applicant"]["phone"] = "13812345678"
    first = intake.register_case(payload, OFFICER, f"answer-{uuid.uuid4()}")
    key = f"answer-{uuid.uuid4()}"
    second = intake.register_case(payload, OFFICER, key)
    assert second["repeat_of"] == [first["case_no"]]
    for answer in (first, second):
        assert answer["replayed"] is False
        shown = {k: v for k, v in answer.items() if k not in ("replayed", "practices")}
        assert shown == intake.get_case(answer["case_no"], OFFICER)
    replay = intake.register_case(payload, OFFICER, key)
    assert replay == {**second, "replayed": True}


def test_concurrent_reservations_number_a_day_and_site_without_gaps_or_overlaps(db):
    """The registrar reserves case numbers with one upsert in autocommit on its side pool:
    however many workers take numbers of one (day, site) at once, their ranges tile 1..n."""
    from concurrent.futures import ThreadPoolExecutor
    from datetime import date
    from types import SimpleNamespace

    from services.intake.dependencies import RegistrarProvider

    provider = RegistrarProvider()
    provider.pool = SimpleNamespace(pool=db)  # the side pool, here the test's
    day = date(2190, 1, 1) + timedelta(days=uuid.uuid4().int % 30_000)
    counts = [1, 3, 1, 2, 5, 1, 1, 4, 2, 1, 1, 3] * 2

    def reserve(count):
        first = provider._reserve_case_numbers(day, "HALL", count)
        return range(first, first + count)

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            ranges = list(pool.map(reserve, counts))
        assert sorted(n for taken in ranges for n in taken) == list(range(1, sum(counts) + 1))
    finally:
        with db.connection() as conn:
            conn.execute("DELETE FROM intake.case_counters WHERE day = %s", (day,))
