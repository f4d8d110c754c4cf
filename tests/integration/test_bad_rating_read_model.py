"""Reporting's 差评 figures on real RabbitMQ and PostgreSQL: the loop's events, published as
coordination signs them (docs/events.md), reach the monthly summary's ``bad_ratings`` and the
overdue gauge of the rectification period; a redelivery changes nothing, and a replay of the log
rebuilds the same tables. The month (2033-05) is used by no other test."""

import uuid

import pytest

from services.common.postgres import open_pool
from services.common.rpc import SignedClusterRpcProxy
from services.reporting import replay
from services.reporting.service import ReportingService
from tests.integration.helpers import private_vhost, running, wait_for
from tests.integration.test_reporting_read_models import Events, logged, registered

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:6].upper()
DUE = "2033-05-23T18:00:00+08:00"


def number(n: int) -> str:
    return f"XW-B{RUN}-{n:03d}"


def loop_step(n: int, at: str, **data) -> dict:
    return {
        "case_no": number(n),
        "site": "HALL",
        "department": "SPJ",
        "rated_staff": "S0001",
        "rating_level": 2,
        "actor": "S0004",
        "at": at,
        **data,
    }


def publish_loops(events: Events) -> None:
    for n in (1, 2, 3):
        case = registered(100 + n, "2033-05-05T09:00:00+08:00", dept="SPJ", channel="rating")
        case.update(case_no=number(n), requires_return_visit=True, rating_level=2)
        events.publish("intake", "case_registered", case)
        events.publish(
            "coordination",
            "deadline_set",
            {
                "case_no": number(n),
                "deadline_id": f"B{RUN}{n}",
                "kind": "bad_rating_rectification",
                "due_at": DUE,
                "working_days": 15,
                "provisional": False,
                "department": "SPJ",
                "site": "HALL",
            },
        )
        events.publish(
            "coordination",
            "bad_rating_verified",
            loop_step(
                n,
                "2033-05-05T10:00:00+08:00",
                finding="genuine",
                genuine=True,
                reason="属实",
                rectification_due_at=DUE,
            ),
        )
    # one rectified on time, re-rated better after its visit; one late; one still overdue
    events.publish(
        "coordination",
        "bad_rating_rectified",
        loop_step(1, "2033-05-20T10:00:00+08:00", measures="培训", due_at=DUE, on_time=True),
    )
    events.publish(
        "intake",
        "return_visit_recorded",
        {"case_no": number(1), "actor": "S0001", "at": "2033-05-21T10:00:00+08:00",
         "satisfied": True, "notes": None},
    )  # fmt: skip
    events.publish(
        "coordination",
        "bad_rating_re_rated",
        loop_step(1, "2033-05-22T10:00:00+08:00", level=4, improved=True, text=None),
    )
    events.publish(
        "coordination",
        "bad_rating_rectified",
        loop_step(2, "2033-05-26T10:00:00+08:00", measures="约谈", due_at=DUE, on_time=False),
    )
    events.publish(
        "coordination",
        "deadline_breached",
        {
            "case_no": number(3),
            "deadline_id": f"B{RUN}3",
            "kind": "bad_rating_rectification",
            "due_at": DUE,
            "department": "SPJ",
            "site": "HALL",
            "meeting_id": None,
        },
    )


@pytest.fixture(scope="module")
def loops(service_config, database_url):
    pool = open_pool(database_url, min_size=1, max_size=2)
    try:
        with (
            private_vhost(service_config, "bad_ratings") as config,
            running(config, ReportingService),
        ):
            events = Events(config)
            publish_loops(events)
            events.again(events.sent[-2])  # a redelivered rectification changes nothing
            wait_for(lambda: logged(pool, events), timeout=20)
            with SignedClusterRpcProxy(config) as rpc:
                yield rpc, pool
    finally:
        pool.close()


def test_the_months_bad_rating_figures(loops):
    rpc, _pool = loops
    figures = rpc.reporting.monthly_summary("2033-05", "HALL")["bad_ratings"]
    assert (figures["genuine"], figures["rectification_due"]) == (3, 3)
    assert (figures["rectified_on_time"], figures["rectified_late"]) == (1, 1)
    assert figures["rectification_rate"] == round(1 / 3, 4)
    assert (figures["return_visits_required"], figures["return_visits_done"]) == (3, 1)
    assert figures["return_visit_rate"] == round(1 / 3, 4)
    assert (figures["re_ratings"], figures["re_rating_average"]) == (1, 4.0)
    assert figures["re_rating_improved_share"] == 1.0


def test_the_overdue_rectification_is_in_the_gauges(loops):
    _rpc, pool = loops
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT value FROM reporting.gauges WHERE metric = 'bancheng_cases_overdue' "
            "AND labels = %s::jsonb",
            ('{"site": "HALL", "department": "SPJ", "kind": "bad_rating_rectification"}',),
        ).fetchone()
    assert row is not None and row["value"] >= 1


def test_replay_rebuilds_the_same_tables(loops, database_url):
    result = replay.run(database_url)
    assert result["equal"], replay.report(result)
