"""Accountability on real RabbitMQ and PostgreSQL: events in, decisions and events out.

Coordination's events are published here the way its outbox relay would publish them, several
times over, as a broker redelivers after a lost acknowledgement.
"""

import uuid

import pytest
from nameko.amqp.publish import Publisher
from nameko.constants import PERSISTENT
from nameko.exceptions import deserialize_to_instance
from nameko.standalone.events import get_event_exchange

from services.accountability.service import AccountabilityService
from services.common.errors import Conflict, Forbidden, InvalidField
from services.common.events import new_event
from services.common.outbox import signed_by
from services.common.rpc import SignedClusterRpcProxy
from tests.integration.helpers import running, wait_for

pytestmark = pytest.mark.integration

# domain errors come back over RPC as themselves (the gateway registers them the same way)
for _error in (Conflict, Forbidden, InvalidField):
    deserialize_to_instance(_error)

SUPERVISOR = {"id": "S0006", "name": "吴秀英", "role": "supervisor", "site": None}


def publish(config: dict, event: dict, times: int = 1) -> None:
    """Publish ``event`` as its source service would, ``times`` times."""
    exchange = get_event_exchange(event["source_service"], config)
    publisher = Publisher(config["AMQP_URI"], declare=[exchange], delivery_mode=PERSISTENT)
    for _ in range(times):
        publisher.publish(
            event,
            exchange=exchange,
            routing_key=event["type"],
            headers=signed_by(config, event["source_service"], event),
        )


def coordination_event(event_type: str, **data) -> dict:
    return new_event(event_type, data, source_service="coordination", source_site="HALL")


def all_handled(db, events) -> bool:
    with db.connection() as conn:
        row = conn.execute(
            "SELECT count(*) AS n FROM accountability.handled_events "
            "WHERE event_id = ANY(%s::uuid[])",
            ([event["id"] for event in events],),
        ).fetchone()
    return row["n"] == len(events)


def rows(db, sql: str, *params) -> list[dict]:
    with db.connection() as conn:
        return conn.execute(sql, params).fetchall()


def outbox(db, event_type: str, **match) -> list[dict]:
    found = rows(
        db,
        "SELECT payload FROM accountability.outbox WHERE event_type = %s ORDER BY position",
        event_type,
    )
    return [
        row["payload"]["data"]
        for row in found
        if all(row["payload"]["data"].get(k) == v for k, v in match.items())
    ]


def test_minutes_and_breaches_deduct_once_however_often_they_arrive(service_config, db):
    meeting = f"M-{uuid.uuid4().hex[:8]}"
    case_no = f"XW-T-{uuid.uuid4().hex[:8]}"
    minutes = coordination_event(
        "joint_meeting_minuted",
        meeting_id=meeting,
        case_nos=[case_no],
        attendance=[
            {"department": "GTJ", "present": False, "valid_reason": None, "position": None},
            {"department": "ZJJ", "present": False, "valid_reason": "防汛值班", "position": None},
            {"department": "SCJ", "present": True, "valid_reason": None, "position": "同意"},
        ],
        decision="由市场监管局牵头办理",
        assignments=[],
        actor="S0005",
        at="2026-03-10T10:00:00+08:00",
    )
    # coordination also announces the absence on its own: the same fact, deducted once
    absent = coordination_event(
        "department_absent",
        meeting_id=meeting,
        case_nos=[case_no],
        department="GTJ",
        actor="S0005",
        at="2026-03-10T10:00:00+08:00",
    )
    not_delivered = coordination_event(
        "assignment_not_delivered",
        meeting_id=meeting,
        case_no=case_no,
        department="SCJ",
        task="出具住所核查意见",
        due="2026-03-13T17:30:00+08:00",
    )
    breach = coordination_event(
        "deadline_breached",
        case_no=case_no,
        deadline_id=f"D-{meeting}",
        kind="joint_meeting_reply",
        due_at="2026-03-13T17:30:00+08:00",
        department="SCJ",
        site="HALL",
        meeting_id=meeting,
    )
    events = [minutes, absent, not_delivered, breach]
    with running(service_config, AccountabilityService):
        for event in events:
            publish(service_config, event, times=3)
        wait_for(lambda: all_handled(db, events))
        # a second breach event for the same deadline (e.g. re-emitted after a restart)
        again = coordination_event("deadline_breached", **breach["data"])
        publish(service_config, again, times=2)
        wait_for(lambda: all_handled(db, [again]))

    deductions = rows(
        db,
        "SELECT department, reason_code, points::float AS points, case_no, year, status "
        "FROM accountability.deductions WHERE meeting_id = %s OR deadline_id = %s "
        "ORDER BY reason_code, department",
        meeting,
        f"D-{meeting}",
    )
    assert deductions == [
        {"department": "SCJ", "reason_code": "assignment_not_delivered", "points": 2.0,
         "case_no": case_no, "year": 2026, "status": "recorded"},
        {"department": "SCJ", "reason_code": "deadline_breached", "points": 1.0,
         "case_no": case_no, "year": 2026, "status": "recorded"},
        {"department": "GTJ", "reason_code": "department_absent", "points": 2.0,
         "case_no": case_no, "year": 2026, "status": "recorded"},
    ]  # fmt: skip
    assert len(outbox(db, "deduction_recorded", meeting_id=meeting)) == 3
    # the minutes were audited once, with who and when
    audited = rows(
        db, "SELECT action, actor FROM accountability.audit_log WHERE source_event_id = %s",
        minutes["id"],
    )  # fmt: skip
    assert audited == [{"action": "minutes", "actor": "S0005"}]

    with (
        SignedClusterRpcProxy(service_config) as rpc,
        running(service_config, AccountabilityService),
    ):
        departments = [
            {"code": "GTJ", "name": "规划资源分局"},
            {"code": "SCJ", "name": "市场监管局"},
        ]
        before = rpc.accountability.department_scores(2026, departments)
        gtj = next(d for d in before["items"] if d["department"] == "GTJ")
        deduction_id = next(d["id"] for d in gtj["deductions"] if d["meeting_id"] == meeting)
        rpc.accountability.withdraw_deduction(
            deduction_id, {"reason": "会议通知未送达，缺席有正当理由"}, SUPERVISOR
        )
        with pytest.raises(Conflict):
            rpc.accountability.withdraw_deduction(deduction_id, {"reason": "再次"}, SUPERVISOR)
        after = rpc.accountability.department_scores(2026, departments)
    gtj_after = next(d for d in after["items"] if d["department"] == "GTJ")
    assert gtj_after["score"] == gtj["score"] + 2
    withdrawn = next(d for d in gtj_after["deductions"] if d["id"] == deduction_id)
    assert withdrawn["status"] == "withdrawn"
    assert withdrawn["withdrawal_reason"] == "会议通知未送达，缺席有正当理由"
    assert outbox(db, "deduction_withdrawn", deduction_id=deduction_id)


def refused(case_no: str, staff_id: str) -> dict:
    return coordination_event(
        "case_classified",
        case_no=case_no,
        type="refused",
        complex=False,
        reason="窗口人员态度生硬，拒不受理",
        actor="S0004",
        at="2026-03-02T09:30:00+08:00",
        site="HALL",
        department="SCJ",
        matter="M001",
        first_receiver=staff_id,
    )


def test_refused_cases_flow_to_findings_sanctions_and_an_appeal_that_recounts(service_config, db):
    staff = f"T{uuid.uuid4().hex[:6]}"
    cases = [f"XW-R-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    events = [refused(case_no, staff) for case_no in cases]
    with running(service_config, AccountabilityService):
        for event in events:
            publish(service_config, event, times=2)
        wait_for(lambda: all_handled(db, events))
        with SignedClusterRpcProxy(service_config) as rpc:
            listed = rpc.accountability.investigations("open", 500, None)["items"]
            ids = {i["case_no"]: i["id"] for i in listed if i["case_no"] in cases}
            assert set(ids) == set(cases)  # one investigation per refused case, not two

            with pytest.raises(InvalidField) as bad:
                rpc.accountability.record_finding(
                    ids[cases[0]], {"staff_id": staff, "cause": "rude", "finding": "x"}, SUPERVISOR
                )
            assert bad.value.field == "cause"

            results = [
                rpc.accountability.record_finding(
                    ids[case_no],
                    {"staff_id": staff, "cause": "attitude", "finding": f"第{n}次态度问题"},
                    SUPERVISOR,
                )
                for n, case_no in enumerate(cases, start=1)
            ]
            with pytest.raises(Conflict):
                rpc.accountability.record_finding(
                    ids[cases[0]], {"staff_id": staff, "cause": "attitude", "finding": "再认定"},
                    SUPERVISOR,
                )  # fmt: skip
            kinds = [
                sorted((s["kind"], s["strike_no"], s["status"]) for s in r["sanctions"])
                for r in results
            ]
            assert kinds == [
                [("bonus_withheld", 1, "applied"), ("reminder_talk", 1, "applied")],
                [("bonus_withheld", 2, "applied"), ("reminder_talk", 2, "applied")],
                [("dismissal", 3, "recommended")],
            ]
            dismissal_id = results[2]["sanctions"][0]["id"]

            # only the staff member or a supervisor may appeal
            other = {"id": "S0002", "name": "陈志刚", "role": "window_staff", "site": "XJK"}
            with pytest.raises(Forbidden):
                rpc.accountability.file_appeal(results[0]["id"], {"reason": "不服"}, other)
            me = {"id": staff, "name": "测试", "role": "window_staff", "site": "HALL"}
            appeal = rpc.accountability.file_appeal(
                results[0]["id"], {"reason": "当日系统故障，并非态度问题"}, me
            )
            decided = rpc.accountability.decide_appeal(
                appeal["id"], {"upheld": True, "reason": "经核实系统故障属实"}, SUPERVISOR
            )
            assert decided["status"] == "upheld"
            record = rpc.accountability.staff_record(staff, SUPERVISOR)
            with pytest.raises(Forbidden):
                rpc.accountability.staff_record(staff, other)

    live = sorted(
        (s["finding_id"], s["kind"], s["strike_no"], s["status"])
        for s in record["sanctions"]
        if s["status"] != "revoked"
    )
    first, second, third = (r["id"] for r in results)
    # the first strike is gone; the former 2nd is now the 1st; the former 3rd is the 2nd, so
    # its dismissal recommendation is revoked and replaced by a talk and a withheld bonus
    assert live == [
        (second, "bonus_withheld", 1, "applied"),
        (second, "reminder_talk", 1, "applied"),
        (third, "bonus_withheld", 2, "applied"),
        (third, "reminder_talk", 2, "applied"),
    ]
    revoked = {s["id"]: s for s in record["sanctions"] if s["status"] == "revoked"}
    assert dismissal_id in revoked and len(revoked) == 3
    assert [(s["finding_id"], s["strike_no"]) for s in record["strikes"]] == [
        (second, 1),
        (third, 2),
    ]
    assert {f["id"]: f["status"] for f in record["findings"]}[first] == "overturned"
    assert len(outbox(db, "investigation_opened", case_no=cases[0])) == 1
    assert len(outbox(db, "sanction_revoked", staff_id=staff)) == 3
    assert len(outbox(db, "sanction_applied", staff_id=staff)) == 7
    assert outbox(db, "appeal_decided", staff_id=staff)[0]["upheld"] is True

    # one record() wrote each decision's event, timeline entry and audit entry, naming each other
    [announced] = rows(
        db,
        "SELECT payload FROM accountability.outbox WHERE event_type = 'finding_recorded' "
        "AND payload->'data'->>'finding_id' = %s",
        str(first),
    )
    assert announced["payload"]["data"]["at"].endswith("+08:00")  # local time, as documented
    audited = rows(
        db,
        "SELECT action, actor, role, subject, case_no FROM accountability.audit_log "
        "WHERE source_event_id = %s",
        announced["payload"]["id"],
    )
    assert audited == [
        {"action": "finding", "actor": "S0006", "role": "supervisor",
         "subject": f"finding:{first}", "case_no": cases[0]},
    ]  # fmt: skip
    timeline = rows(
        db, "SELECT kind, text, actor FROM accountability.timeline WHERE case_no = %s ORDER BY id",
        cases[0],
    )  # fmt: skip
    assert [t["kind"] for t in timeline] == ["investigation_opened", "finding_recorded"]
    assert timeline[1] == {
        "kind": "finding_recorded",
        "text": "调查结论：工作态度问题",
        "actor": "S0006",
    }


def test_no_fault_closes_without_sanction_and_process_goes_to_the_department(service_config, db):
    staff = f"T{uuid.uuid4().hex[:6]}"
    cases = [f"XW-R-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    events = [refused(case_no, staff) for case_no in cases]
    with running(service_config, AccountabilityService):
        for event in events:
            publish(service_config, event)
        wait_for(lambda: all_handled(db, events))
        with SignedClusterRpcProxy(service_config) as rpc:
            listed = rpc.accountability.investigations(None, 500, None)["items"]
            ids = {i["case_no"]: i["id"] for i in listed if i["case_no"] in cases}
            clear = rpc.accountability.record_finding(
                ids[cases[0]], {"finding": "已依法告知，无过错", "no_fault": True}, SUPERVISOR
            )
            process = rpc.accountability.record_finding(
                ids[cases[1]],
                {"staff_id": staff, "cause": "process", "finding": "需跑两个窗口，流程未整合"},
                SUPERVISOR,
            )
            closed = rpc.accountability.investigations("closed", 500, None)["items"]
    assert clear["sanctions"] == [] and clear["no_fault"] is True
    assert process["sanctions"] == []
    assert process["improvement_action"]["department"] == "SCJ"
    assert {ids[c] for c in cases} <= {i["id"] for i in closed}
    assert not rows(db, "SELECT 1 FROM accountability.sanctions WHERE staff_id = %s", staff)


def test_helpers_and_later_actions_show_as_assistance_after_the_hand_over(service_config, db):
    case_no = f"XW-H-{uuid.uuid4().hex[:8]}"
    receiver, helper = f"T{uuid.uuid4().hex[:6]}", f"T{uuid.uuid4().hex[:6]}"
    registered = new_event(
        "case_registered",
        {
            "case_no": case_no,
            "site": "HALL",
            "window": "W01",
            "matter": "M001",
            "department": "SCJ",
            "channel": "window",
            "first_receiver": receiver,
            "first_asked_by": receiver,
            "received_at": "2026-03-02T09:00:00+08:00",
            "registered_by": receiver,
        },
        source_service="intake",
        source_site="HALL",
    )
    helper_added = new_event(
        "case_helper_added",
        {
            "case_no": case_no,
            "staff_id": helper,
            "actor": "S0004",
            "at": "2026-03-02T10:00:00+08:00",
        },
        source_service="intake",
        source_site="HALL",
    )
    measure = coordination_event(
        "measure_added",
        case_no=case_no,
        measure_id="1",
        measure="video_verification",
        departments=["SCJ"],
        details="视频连线确认房东身份",
        due="2026-03-04",
        actor=receiver,
        at="2026-03-02T11:00:00+08:00",
    )
    events = [registered, helper_added, measure]
    with running(service_config, AccountabilityService):
        for event in events:
            publish(service_config, event, times=2)
            wait_for(lambda event=event: all_handled(db, [event]))
        with SignedClusterRpcProxy(service_config) as rpc:
            record = rpc.accountability.staff_record(receiver, SUPERVISOR)
            helped = rpc.accountability.staff_record(helper, SUPERVISOR)
    [case] = record["first_received"]
    assert case["case_no"] == case_no and case["first_received"]
    assert case["assisted_after_handover"] is True
    assert [a["action"] for a in case["assistance"]] == ["measure"]
    assert [h["case_no"] for h in helped["helped"]] == [case_no]


def test_a_batch_of_registrations_arrives_once_as_its_cases_one_by_one(service_config, db):
    """Intake's ``cases_registered`` (the cases a ratings batch opened), delivered twice: each
    case's first receiver recorded and its registration audited, once."""
    run = uuid.uuid4().hex[:6]
    receiver = f"T{run}"
    case_nos = [f"XW-R-{run}-{i}" for i in range(3)]
    cases = [
        {
            "case_no": case_no,
            "site": "HALL",
            "window": None,
            "matter": "M001",
            "department": "SCJ",
            "channel": "rating",
            "first_receiver": receiver,
            "first_asked_by": receiver,
            "received_at": "2026-03-02T09:00:00+08:00",
            "registered_by": receiver,
            "feedback_id": f"FB-{case_no}",
            "rated_staff": receiver,
            "rating_level": 1,
        }
        for case_no in case_nos
    ]
    batch = new_event(
        "cases_registered", {"cases": cases}, source_service="intake", source_site="HALL"
    )
    with running(service_config, AccountabilityService):
        publish(service_config, batch, times=2)
        wait_for(lambda: all_handled(db, [batch]))
        with SignedClusterRpcProxy(service_config) as rpc:
            record = rpc.accountability.staff_record(receiver, SUPERVISOR)
            trails = [rpc.accountability.audit_entries(case_no)["items"] for case_no in case_nos]
    assert sorted(case["case_no"] for case in record["first_received"]) == case_nos
    assert [[(e["action"], e["case_no"]) for e in trail] for trail in trails] == [
        [("registration", case_no)] for case_no in case_nos
    ]
    assert (
        len(rows(db, "SELECT 1 FROM accountability.timeline WHERE case_no = ANY(%s)", case_nos))
        == 3
    )
