"""List pages ask for what they show in one call, not one call per listed case; and the case
page offers the forms coordination's summary allows (the pages over in-memory services)."""

from werkzeug.test import EnvironBuilder

from services.common import errors
from services.gateway.pages.cases import CasePages
from services.gateway.pages.meetings import MeetingPages
from services.gateway.pages.queue import QueuePages

OFFICER = {"id": "S0003", "name": "陈明", "role": "officer", "site": None}
BUREAU = {"id": "S0005", "name": "赵局", "role": "bureau", "site": None}


class Reply:
    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value


class FakeService:
    """An RPC proxy's stand-in: ``answers[method](*args)`` gives the reply; calls are recorded."""

    def __init__(self, name: str, calls: list, answers: dict):
        self._name, self._calls, self._answers = name, calls, answers

    def __getattr__(self, method):
        def call(*args):
            self._calls.append((self._name, method, args))
            if method not in self._answers:
                raise errors.NotFound(f"{self._name}.{method} is not faked")
            return self._answers[method](*args)

        call.call_async = lambda *args: Reply(call(*args))
        return call


def pages_for(user, cls, intake: dict, coordination: dict):
    class Pages(cls):
        def _user(self, request, *roles):
            if roles and user["role"] not in roles:
                raise errors.Forbidden("当前角色无权执行此操作")
            return user

    pages = Pages()
    pages.config = {}
    pages.calls = []
    pages.intake = FakeService("intake", pages.calls, intake)
    pages.coordination = FakeService("coordination", pages.calls, coordination)
    return pages


def listed(case_no, status, case_type=None):
    return {
        "case_no": case_no,
        "status": status,
        "type": case_type,
        "site": "HALL",
        "matter_name": "企业开办",
        "applicant_name": "李四",
        "received_at": f"2026-11-{case_no[-2:]}T01:30:00+00:00",
        "first_receiver": "S0001",
    }


def deadline(case_no, days_left, breached=False, stage="reply"):
    return {
        "case_no": case_no,
        "kind": f"hard_{stage}",
        "stage": stage,
        "due_at": "2026-12-04T09:00:00+00:00",
        "working_days_left": days_left,
        "breached": breached,
        "met_at": None,
    }


def get(pages, method, path, *args):
    request = EnvironBuilder(method="GET", path=path).get_request()
    return getattr(pages, method)(request, *args)


def test_the_queue_reads_every_listed_cases_deadlines_in_one_call():
    cases = {
        "registered": [listed("XW-01", "registered")],
        "classified": [
            listed("XW-02", "classified", "hard"),
            listed("XW-03", "classified", "hard"),
        ],
    }
    deadlines = {"XW-02": [deadline("XW-02", 3)], "XW-03": [deadline("XW-03", 0, breached=True)]}
    pages = pages_for(
        OFFICER,
        QueuePages,
        intake={
            "list_cases": lambda filters, user: cases.get(filters["status"], []),
            "sites": lambda: [],
        },
        coordination={
            "deadlines_of_cases": lambda case_nos: {no: deadlines.get(no, []) for no in case_nos}
        },
    )
    response = get(pages, "queue_page", "/queue")
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    coordination_calls = [call for call in pages.calls if call[0] == "coordination"]
    assert coordination_calls == [
        ("coordination", "deadlines_of_cases", (["XW-01", "XW-02", "XW-03"],))
    ]
    # unclassified first, then the breached one, then fewest working days left
    assert html.index("XW-01") < html.index("XW-03") < html.index("XW-02")
    assert "剩余 3 个工作日" in html


def test_the_meeting_board_reads_its_cases_deadlines_in_one_call():
    meetings = [
        {
            "id": 2,
            "case_nos": ["XW-01", "XW-02"],
            "departments": ["SCJ"],
            "scheduled_at": "2026-12-01T01:30:00+00:00",
            "convened_at": "2026-11-30T01:30:00+00:00",
            "reply_due_at": "2026-12-04T09:00:00+00:00",
            "complex": False,
            "status": "convened",
            "minutes": None,
            "assignments": [],
        }
    ]
    waiting = [listed("XW-01", "in_progress", "pending"), listed("XW-05", "classified", "pending")]
    pages = pages_for(
        BUREAU,
        MeetingPages,
        intake={
            "list_cases": lambda filters, user: [
                case for case in waiting if case["status"] == filters["status"]
            ],
            "departments": lambda: [{"code": "SCJ", "name": "区市场监督管理局"}],
        },
        coordination={
            "list_meetings": lambda filters, user: meetings,
            "deadlines_of_cases": lambda case_nos: {
                no: [deadline(no, 0, breached=no == "XW-02")] for no in case_nos
            },
        },
    )
    response = get(pages, "meetings_page", "/meetings")
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    reads = [method for service, method, _ in pages.calls if service == "coordination"]
    assert reads == ["list_meetings", "deadlines_of_cases"]
    assert 'id="meeting-2-overdue"' in html
    # XW-01 already has its meeting: only XW-05 waits for one
    convene_form = html.split('action="/meetings"')[1].split("</form>")[0]
    assert 'value="XW-05"' in convene_form and 'value="XW-01"' not in convene_form


def test_the_case_page_shows_the_forms_of_coordinations_summary():
    case = {**listed("XW-01", "in_progress", "hard"), "deadlines": [], "timeline": []}
    summary = {
        "case_no": "XW-01",
        "state": "in_progress",
        "type": "hard",
        "complex": False,
        "explanation": None,
        "measures": [],
        "meetings": [],
        "reply": None,
        "resolution": None,
        "allowed_actions": ["measure", "reply"],
        "acting_roles": ["officer"],
    }
    pages = pages_for(
        OFFICER,
        CasePages,
        intake={
            "get_case": lambda case_no, user: case,
            "departments": lambda: [],
            "staff": lambda site: [],
            "case_timeline": lambda case_no: [],
        },
        coordination={
            "case_deadlines": lambda case_no: [],
            "case_summary": lambda case_no: summary,
            "case_timeline": lambda case_no: [],
        },
    )
    no_timeline = {"case_timeline": lambda case_no: []}
    pages.accountability = FakeService("accountability", pages.calls, no_timeline)
    reporting = {**no_timeline, "similar_cases": lambda *args: []}
    pages.reporting = FakeService("reporting", pages.calls, reporting)
    html = get(pages, "case_page", "/cases/XW-01", "XW-01").get_data(as_text=True)
    assert 'id="action-measure"' in html and 'id="action-reply"' in html
    assert 'id="action-resolve"' not in html and 'id="action-classify"' not in html
