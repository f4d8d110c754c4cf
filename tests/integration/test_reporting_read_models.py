"""Reporting's read models on real RabbitMQ and PostgreSQL: a hand-computed month, replay, exports.

The events are published by the test itself, shaped as docs/events.md says, so these tests do
not depend on the other services emitting them yet. The months (2031) are used by no other test.
"""

import csv
import io
import uuid

import pytest
from nameko.amqp.publish import Publisher
from nameko.constants import PERSISTENT
from nameko.standalone.events import get_event_exchange
from openpyxl import load_workbook

from services.common.events import new_event
from services.common.outbox import signed_by
from services.common.rpc import SignedClusterRpcProxy
from services.gateway import exports
from services.reporting import replay
from services.reporting.service import ReportingService
from tests.integration.helpers import running, wait_for

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:6].upper()


def case_no(n: int) -> str:
    return f"XW-T{RUN}-{n:03d}"


class Events:
    """Publishes envelopes to the exchanges the real services publish to."""

    def __init__(self, config):
        self.config = config
        self.exchanges = {}
        self.sent = []

    def publish(self, source: str, event_type: str, data: dict, site: str | None = "HALL"):
        event = new_event(event_type, data, source_service=source, source_site=site)
        self.again(event)
        self.sent.append(event)
        return event

    def again(self, event: dict):
        source = event["source_service"]
        if source not in self.exchanges:
            self.exchanges[source] = get_event_exchange(source, self.config)
        exchange = self.exchanges[source]
        Publisher(self.config["AMQP_URI"], declare=[exchange], delivery_mode=PERSISTENT).publish(
            event,
            exchange=exchange,
            routing_key=event["type"],
            headers=signed_by(self.config, source, event),
        )


def registered(
    n, received_at, site="HALL", window="W01", matter="M001", dept="SCJ", channel="window"
):
    return {
        "case_no": case_no(n),
        "site": site,
        "window": window,
        "matter": matter,
        "department": dept,
        "channel": channel,
        "applicant_kind": "person",
        "id_number_masked": "320102********4031",
        "first_receiver": "S0001",
        "first_asked_by": "S0001",
        "received_at": received_at,
        "registered_by": "S0001",
        "repeat_of": None,
        "requires_return_visit": False,
    }


def classified(n, case_type, reason, complex_=False):
    return {
        "case_no": case_no(n),
        "type": case_type,
        "complex": complex_,
        "reason": reason,
        "actor": "S0004",
        "at": "2031-03-05T10:00:00+08:00",
    }


def replied(n, replied_at, on_time, days):
    return {
        "case_no": case_no(n),
        "replied_at": replied_at,
        "due_at": "2031-03-12T17:30:00+08:00",
        "on_time": on_time,
        "working_days_taken": days,
        "summary": "已答复",
        "actor": "S0004",
    }


def publish_fixture_month(events: Events) -> None:
    """Six cases in March 2031, two in February, ratings for both months (see the test)."""
    publish = events.publish
    # March 2031; case 6 is received at 00:10 Beijing time on 1 March (still February in UTC)
    # case 1 ends resolved: with a description it is a compared precedent (precedent_texts)
    first = {**registered(1, "2031-03-03T09:00:00+08:00"), "description": "两个部门都说不归自己管"}
    publish("intake", "case_registered", first)
    publish(
        "intake", "case_registered", registered(2, "2031-03-03T10:00:00+08:00", channel="hotline")
    )
    publish(
        "intake",
        "case_registered",
        registered(3, "2031-03-04T09:00:00+08:00", window="W02", matter="M005", dept="FCJ"),
    )
    publish(
        "intake",
        "case_registered",
        registered(
            4, "2031-03-05T09:00:00+08:00", site="XJK", matter="M005", dept="FCJ", channel="rating"
        ),
    )
    publish(
        "intake",
        "case_registered",
        registered(5, "2031-03-06T09:00:00+08:00", site="XJK", matter="M002"),
    )
    publish("intake", "case_registered", registered(6, "2031-03-01T00:10:00+08:00"))
    # February 2031; case 8 at 23:50 on 28 February Beijing time
    publish("intake", "case_registered", registered(7, "2031-02-15T09:00:00+08:00"))
    publish("intake", "case_registered", registered(8, "2031-02-28T23:50:00+08:00"))

    publish("coordination", "case_classified", classified(1, "pending", "职责不清"))
    publish("coordination", "case_classified", classified(2, "cannot", "缺少关键材料"))
    publish("coordination", "case_classified", classified(3, "hard", "缺少非关键材料", True))
    publish("coordination", "case_classified", classified(4, "refused", "态度问题"))
    publish("coordination", "case_classified", classified(5, "cannot", "缺少关键材料"))
    publish("coordination", "case_classified", classified(7, "cannot", "缺少关键材料"))
    finding = {"investigation_id": 1, "case_no": case_no(4), "staff_id": "S0002",
               "cause": "attitude", "no_fault": False, "finding": "态度生硬", "actor": "S0005",
               "at": "2031-03-08T10:00:00+08:00"}  # fmt: skip
    publish("accountability", "finding_recorded", finding)

    meeting = {"meeting_id": f"JM-{RUN}", "case_nos": [case_no(1)], "departments": ["SCJ", "FCJ"],
               "scheduled_at": "2031-03-06T14:00:00+08:00", "complex": False,
               "reply_due_at": "2031-03-06T17:30:00+08:00", "actor": "S0006",
               "at": "2031-03-05T11:00:00+08:00"}  # fmt: skip
    publish("coordination", "joint_meeting_convened", meeting)
    deadline = {"case_no": case_no(5), "deadline_id": f"D-{RUN}", "kind": "reply",
                "due_at": "2031-03-11T17:30:00+08:00", "working_days": 3, "provisional": True,
                "department": "SCJ", "site": "XJK"}  # fmt: skip
    publish("coordination", "deadline_set", deadline)
    publish("coordination", "deadline_breached", deadline)
    publish("coordination", "case_replied", replied(1, "2031-03-10T15:00:00+08:00", True, 3))
    publish("coordination", "case_replied", replied(2, "2031-03-04T15:00:00+08:00", True, 1))
    publish("coordination", "case_replied", replied(3, "2031-03-14T15:00:00+08:00", False, 5))
    publish("coordination", "case_replied", replied(4, "2031-03-07T15:00:00+08:00", True, 2))
    publish("coordination", "case_replied", replied(7, "2031-03-02T15:00:00+08:00", True, 1))
    resolved = {"case_no": case_no(1), "outcome": "done", "summary": "联席会议后办结",
                "actor": "S0004", "at": "2031-03-12T10:00:00+08:00"}  # fmt: skip
    publish("coordination", "case_resolved", resolved)
    visit = {"case_no": case_no(1), "actor": "S0001", "at": "2031-03-13T10:00:00+08:00",
             "satisfied": True, "notes": ""}  # fmt: skip
    publish("intake", "return_visit_recorded", visit)

    def rating(day, site, level, n):
        return {"day": day, "site": site, "window": "W01", "matter": "M001", "staff": "S0001",
                "level": level, "n": n}  # fmt: skip

    publish("intake", "ratings_received", {"batch_id": f"{RUN}-3", "counts": [
        rating("2031-03-02", "HALL", 5, 6), rating("2031-03-02", "HALL", 4, 2),
        rating("2031-03-09", "HALL", 3, 1), rating("2031-03-09", "HALL", 1, 1),
        rating("2031-03-20", "XJK", 2, 2), rating("2031-03-31", "XJK", 5, 3),
    ]})  # fmt: skip
    publish("intake", "ratings_received", {"batch_id": f"{RUN}-2", "counts": [
        rating("2031-02-10", "HALL", 5, 4), rating("2031-02-11", "HALL", 1, 1),
    ]})  # fmt: skip


BATCH_SITE, SINGLE_SITE = f"B{RUN}", f"S{RUN}"


def publish_batch_of_cases(events: Events) -> None:
    """July 2031, two sites of their own: three bad ratings' cases in one cases_registered
    (cases 101-103) and the same three as case_registered events (201-203), a redelivery of the
    batch (see test_a_batch_of_cases_reads_as_its_cases_one_by_one)."""
    wording = ["窗口人员态度生硬", "等候时间过长", "材料被退回两次"]

    def cases_of(site, first):
        return [
            bad_rating(first + 2, site, 3, 1, wording[0], visit=True),
            bad_rating(first, site, 1, 2, wording[1]),
            bad_rating(first + 1, site, 2, 1, wording[2]),
        ]

    for data in cases_of(SINGLE_SITE, 201):
        events.publish("intake", "case_registered", data, site=SINGLE_SITE)
    batch = events.publish(
        "intake", "cases_registered", {"cases": cases_of(BATCH_SITE, 101)}, site=BATCH_SITE
    )
    events.again(batch)


def logged(db, events) -> bool:
    ids = [event["id"] for event in events.sent]
    with db.connection() as conn:
        found = conn.execute(
            "SELECT count(*) AS n FROM reporting.event_log WHERE event_id = ANY(%s::uuid[])", (ids,)
        ).fetchone()["n"]
    return found == len(ids)


@pytest.fixture(scope="module")
def fixture_month(service_config, database_url):
    """The fixture month published once and consumed by a running reporting service."""
    from services.common.postgres import open_pool

    pool = open_pool(database_url, min_size=1, max_size=2)
    events = Events(service_config)
    try:
        with running(service_config, ReportingService):
            publish_fixture_month(events)
            # a redelivery of a registration and of a rating batch changes nothing
            events.again(events.sent[0])
            events.again(events.sent[-1])
            publish_batch_of_cases(events)
            wait_for(lambda: logged(pool, events), timeout=20)
            with SignedClusterRpcProxy(service_config) as rpc:
                yield rpc, events
    finally:
        pool.close()


def test_the_month_matches_the_figures_computed_by_hand(fixture_month):
    rpc, _events = fixture_month
    summary = rpc.reporting.monthly_summary("2031-03")
    assert summary["month"] == "2031-03" and summary["previous_month"] == "2031-02"
    totals = summary["totals"]
    assert totals["cases"] == 6  # cases 1-6; case 6 arrived at 00:10 on 1 March Beijing time
    assert totals["by_type"] == {"cannot": 2, "hard": 1, "refused": 1, "pending": 1}
    assert totals["by_site"] == {"HALL": 4, "XJK": 2}
    assert totals["by_channel"] == {"hotline": 1, "rating": 1, "window": 4}
    assert totals["by_department"] == {"FCJ": 2, "SCJ": 4}
    assert summary["top_matters"] == [
        {"matter": "M001", "count": 3, "share": 0.5},
        {"matter": "M005", "count": 2, "share": 0.3333},
        {"matter": "M002", "count": 1, "share": 0.1667},
    ]
    assert summary["top_windows"] == [
        {"site": "HALL", "window": "W01", "count": 3, "share": 0.5},
        {"site": "XJK", "window": "W01", "count": 2, "share": 0.3333},
        {"site": "HALL", "window": "W02", "count": 1, "share": 0.1667},
    ]
    # shares of the 5 classified cases; the refused case's cause is the finding's, not the reason
    assert [(s["type"], s["cause"], s["count"], s["share"]) for s in summary["top_situations"]] == [
        ("cannot", "缺少关键材料", 2, 0.4),
        ("hard", "缺少非关键材料", 1, 0.2),
        ("pending", "职责不清", 1, 0.2),
        ("refused", "工作态度问题", 1, 0.2),
    ]
    # replies given in March: cases 1-4 and February's case 7 -> days 3, 1, 5, 2, 1
    replies = summary["replies"]
    assert (replies["total"], replies["on_time"], replies["late"]) == (5, 4, 1)
    assert replies["on_time_rate"] == 0.8
    assert replies["median_working_days"] == 2  # sorted 1 1 2 3 5: the 3rd
    assert replies["p90_working_days"] == 5  # ceil(0.9 x 5) = 5th
    assert replies["working_days_histogram"] == {"1": 2, "2": 1, "3": 1, "5": 1}
    satisfaction = summary["satisfaction"]
    assert [level["count"] for level in satisfaction["levels"]] == [9, 2, 1, 2, 1]  # 5 down to 1
    assert satisfaction["levels"][0]["name"] == "非常满意"
    assert (satisfaction["total"], satisfaction["satisfied"], satisfaction["bad"]) == (15, 11, 3)
    assert satisfaction["satisfied_share"] == 0.7333
    # consultations = every case; complex = pending case 1 and complex hard case 3; 1 solved
    assert summary["headline"] == {"consultations": 6, "complex_cases": 2, "complex_solved": 1}
    assert summary["return_visits"] == {"satisfied": 1, "unsatisfied": 0}
    change = summary["change"]
    assert change["cases"] == {"current": 6, "previous": 2, "delta": 4}
    assert change["replies"] == {"current": 5, "previous": 0, "delta": 5}
    assert change["on_time_rate"] == {"current": 0.8, "previous": None, "delta": None}
    assert change["satisfied_share"] == {"current": 0.7333, "previous": 0.8, "delta": -0.0667}


def test_february_and_one_site(fixture_month):
    rpc, _events = fixture_month
    february = rpc.reporting.monthly_summary("2031-02")
    assert february["totals"]["cases"] == 2  # case 8 at 23:50 on 28 February stays in February
    assert february["totals"]["by_type"]["cannot"] == 1
    assert february["replies"]["total"] == 0  # case 7 was answered in March
    assert february["satisfaction"]["total"] == 5

    xjk = rpc.reporting.monthly_summary("2031-03", "XJK")
    assert xjk["site"] == "XJK" and xjk["totals"]["cases"] == 2
    assert xjk["totals"]["by_site"] == {"XJK": 2}
    assert (xjk["replies"]["total"], xjk["replies"]["median_working_days"]) == (1, 2)
    assert (xjk["satisfaction"]["total"], xjk["satisfaction"]["satisfied_share"]) == (5, 0.6)


def test_a_bad_month_is_refused_naming_the_field(fixture_month):
    from services.common.errors import InvalidField
    from services.gateway import http  # noqa: F401  (maps domain errors back from RPC)

    rpc, _events = fixture_month
    with pytest.raises(InvalidField) as error:
        rpc.reporting.monthly_summary("2031-13")
    assert error.value.field == "month"


def test_the_ledger_has_every_case_of_the_period_with_masked_ids(fixture_month, tmp_path):
    rpc, _events = fixture_month
    batches, after = [], None
    while True:  # small batches, so the keyset pagination is exercised
        batch = rpc.reporting.ledger_batch("2031-02-15", "2031-03-05", None, after, 2)
        if not batch:
            break
        batches.append(batch)
        after = [batch[-1]["received_at"], batch[-1]["case_no"]]
    rows = [row for batch in batches for row in batch if row["case_no"].startswith(f"XW-T{RUN}")]
    # received 15 Feb .. 5 Mar inclusive, in time order: 7, 8, 6, 1, 2, 3, 4
    assert [row["case_no"] for row in rows] == [case_no(n) for n in (7, 8, 6, 1, 2, 3, 4)]
    first = rows[3]
    assert first["classified_at"].startswith("2031-03-05T10:00:00")
    assert first["replied_at"] == "2031-03-10T15:00:00+08:00"
    assert first["resolved_at"] and first["state"] == "resolved"

    text = b"".join(exports.ledger_csv(batches)).decode("utf-8")
    table = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert table[0][0] == "事项编号" and len(table) == 1 + sum(len(b) for b in batches)
    assert all("********" in line[7] for line in table[1:])

    path = tmp_path / "ledger.xlsx"
    assert exports.write_ledger_xlsx(batches, path) == len(table) - 1
    sheet = load_workbook(path, read_only=True)["台账"]
    cells = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert cells[0] == [heading for _name, heading in exports.LEDGER_COLUMNS]
    assert [row[0] for row in cells[1:]] == [line[0] for line in table[1:]]


def bad_rating(n, site, day, level, description, visit=False):
    """A ratings batch's case: what intake's case_registered carries for a bad rating."""
    return {
        **registered(n, f"2031-07-{day:02d}T09:00:00+08:00", site=site, channel="rating"),
        "description": description,
        "backdate_reason": None,
        "requires_return_visit": visit,
        "feedback_id": f"F{RUN}-{n}",
        "rated_staff": "S0002",
        "rating_level": level,
    }


def _read_models_of(conn, site: str, numbers: list[int]) -> dict:
    """Everything reporting holds of ``site``'s cases ``numbers``, with the site and the case
    numbers left out (so two sites' copies of the same cases compare equal)."""

    def plain(row, *names):
        return {key: value for key, value in row.items() if key not in names}

    nos = [case_no(n) for n in numbers]
    cases = conn.execute(
        "SELECT * FROM reporting.cases WHERE case_no = ANY(%s) ORDER BY case_no", (nos,)
    ).fetchall()
    found = conn.execute(
        "SELECT * FROM reporting.precedents WHERE case_no = ANY(%s) ORDER BY case_no", (nos,)
    ).fetchall()
    notes = conn.execute(
        "SELECT case_no, actor, kind, text FROM reporting.timeline WHERE case_no = ANY(%s) "
        "ORDER BY case_no, id",
        (nos,),
    ).fetchall()
    counts = conn.execute(
        "SELECT month, dimension, replace(key, %(site)s, 'SITE') AS key, value "
        "FROM reporting.monthly_counts WHERE site = %(site)s AND value <> 0 "
        "ORDER BY month, dimension, key",
        {"site": site},
    ).fetchall()
    gauges = conn.execute(
        "SELECT metric, labels - 'site' AS labels, value FROM reporting.gauges "
        "WHERE labels ->> 'site' = %s AND value <> 0 ORDER BY metric, labels::text",
        (site,),
    ).fetchall()
    return {
        "cases": [plain(row, "case_no", "site") for row in cases],
        "precedents": [plain(row, "case_no", "site") for row in found],
        "notes": [(row["case_no"][-2:], row["kind"], row["text"]) for row in notes],
        "counts": counts,
        "gauges": gauges,
    }


def test_a_batch_of_cases_reads_as_its_cases_one_by_one(fixture_month, db):
    """One cases_registered (a ratings batch's, three cases) against the same three cases as
    case_registered events: equal rows, counters, gauges, precedents and notes, one log entry."""
    _rpc, events = fixture_month
    (batch,) = [event for event in events.sent if event["type"] == "cases_registered"]
    with db.connection() as conn:
        batched = _read_models_of(conn, BATCH_SITE, [101, 102, 103])
        one_by_one = _read_models_of(conn, SINGLE_SITE, [201, 202, 203])
        log_entries = conn.execute(
            "SELECT count(*) AS n FROM reporting.event_log WHERE event_id = %s", (batch["id"],)
        ).fetchone()["n"]
    assert len(batched["cases"]) == 3 and batched["counts"] and batched["gauges"]
    assert [kind for _n, kind, _t in batched["notes"]] == ["counted"] * 3
    assert batched == one_by_one
    assert log_entries == 1


def test_replay_rebuilds_tables_equal_to_the_live_ones(fixture_month, database_url, db):
    _rpc, events = fixture_month
    with db.connection() as conn:  # the log holds a batch (publish_batch_of_cases) to expand
        batches = conn.execute(
            "SELECT count(*) AS n FROM reporting.event_log WHERE event_type = 'cases_registered'"
        ).fetchone()["n"]
    assert batches >= 1
    result = replay.run(database_url)
    assert result["equal"], replay.report(result)
    assert result["events"] >= len(events.sent)
    assert all(outcome["rebuilt"]["rows"] > 0 for outcome in result["tables"].values()), (
        replay.report(result)
    )


def test_replay_finds_a_damaged_counter_and_leaves_the_live_tables_alone(
    fixture_month, database_url, db
):
    rpc, _events = fixture_month
    with db.connection() as conn:
        conn.execute(
            "UPDATE reporting.monthly_counts SET value = value + 7 "
            "WHERE month = '2031-03-01' AND site = 'HALL' AND dimension = 'cases'"
        )
    assert replay.main(["--database-url", database_url]) == 1
    damaged = replay.run(database_url)
    assert not damaged["equal"]
    assert damaged["tables"]["monthly_counts"]["equal"] is False
    assert damaged["tables"]["cases"]["equal"] is True
    assert "2031-03-01 HALL cases" in replay.report(damaged)
    assert rpc.reporting.monthly_summary("2031-03")["totals"]["cases"] == 13  # rolled back

    repaired = replay.run(database_url, keep_rebuilt=True)
    assert not repaired["equal"]  # it still reports the difference it repaired
    assert rpc.reporting.monthly_summary("2031-03")["totals"]["cases"] == 6
    assert replay.run(database_url)["equal"]


def test_the_cause_wording_migration_moves_only_findings_counters(db):
    """0004 renames a finding's cause in the situation counters (服务态度差 → 工作态度问题)
    from the cases themselves: a free-text reason that reads the same stays where it was."""
    import psycopg

    from services.common.config import REPO_ROOT

    migration = REPO_ROOT / "services/reporting/migrations/0004_one_cause_wording.sql"
    site, month = f"MIG{RUN}", "2019-01-01"
    old, new = "refused|服务态度差", "refused|工作态度问题"

    def situation(conn, key):
        row = conn.execute(
            "SELECT value FROM reporting.monthly_counts WHERE month = %s AND site = %s "
            "AND dimension = 'situation' AND key = %s",
            (month, site, key),
        ).fetchone()
        return row and row["value"]

    with db.connection() as conn, conn.transaction():
        for number, cause, reason in ((1, "attitude", "态度"), (2, None, "服务态度差")):
            conn.execute(
                "INSERT INTO reporting.cases (case_no, site, month, type, finding_cause, reason) "
                "VALUES (%s, %s, %s, 'refused', %s, %s)",
                (f"{site}-{number}", site, month, cause, reason),
            )
        conn.execute(
            "INSERT INTO reporting.monthly_counts VALUES (%s, %s, 'situation', %s, 2)",
            (month, site, old),
        )
        conn.execute(migration.read_text())
        assert (situation(conn, old), situation(conn, new)) == (1, 1)
        raise psycopg.Rollback
