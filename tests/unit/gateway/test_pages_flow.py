"""The pages of each type's flow, the queue and the meeting board: forms to API bodies,
which actions a case offers, and the templates that show them."""

import pytest
from werkzeug.datastructures import MultiDict

from services.common.errors import InvalidField
from services.coordination import domain
from services.coordination.domain import CaseFacts
from services.gateway import case_view, forms
from services.gateway.pages import case_actions, common, meetings, queue, reports

OFFICER = {"id": "S0003", "name": "陈明", "role": "officer", "site": None}
BUREAU = {"id": "S0005", "name": "赵局", "role": "bureau", "site": None}
STAFF = {"id": "S0001", "name": "王雅婷", "role": "window_staff", "site": "HALL"}


def flow(state, case_type=None, *, explanation=None, measures=(), minuted=False, **extra):
    """Coordination's summary of a case, with the actions its own rules allow."""
    facts = CaseFacts(
        case_no="XW-1",
        state=state,
        case_type=case_type,
        explained=explanation is not None,
        measures=len(measures),
        minuted=minuted,
    )
    return {
        "state": state,
        "type": case_type,
        "explanation": explanation,
        "measures": list(measures),
        "meetings": [4] if minuted else [],
        "resolution": None,
        "allowed_actions": domain.allowed_actions(facts),
        "acting_roles": list(domain.acting_roles(facts)),
        **extra,
    }


def test_blank_rows_are_dropped_and_the_rest_renumbered_as_the_service_will_count_them():
    form = MultiDict(
        {
            "legal_basis": " 《公司登记管理条例》第二十四条 ",
            "explanation": "住所证明为法定要件",
            "missing_key_materials[0].name": "",
            "missing_key_materials[0].how_to_obtain": "",
            "missing_key_materials[1].name": "住所使用证明",
            "missing_key_materials[1].how_to_obtain": "",
        }
    )
    payload = forms.explain_payload(form)
    assert payload["legal_basis"] == "《公司登记管理条例》第二十四条"
    assert payload["missing_key_materials"] == [{"name": "住所使用证明", "how_to_obtain": ""}]
    # the service's missing_key_materials[0].how_to_obtain is the first row shown again
    error = InvalidField("缺少获取途径", "missing_key_materials[0].how_to_obtain")
    state = forms.form_state(form, error)
    assert state["values"]["missing_key_materials[0].name"] == "住所使用证明"
    assert "missing_key_materials[1].name" not in state["values"]
    assert state["errors"] == {"missing_key_materials[0].how_to_obtain": "缺少获取途径"}


def test_a_measure_names_its_departments_and_deferred_materials():
    form = MultiDict(
        [
            ("measure", "deferred_materials"),
            ("departments", "SCJ"),
            ("departments", "ZJJ"),
            ("details", "容缺受理，先行办理"),
            ("materials", "房屋租赁合同\n\n"),
            ("due", "2026-12-04"),
        ]
    )
    assert forms.measure_payload(form) == {
        "measure": "deferred_materials",
        "departments": ["SCJ", "ZJJ"],
        "details": "容缺受理，先行办理",
        "due": "2026-12-04",
        "materials": ["房屋租赁合同"],
    }
    assert forms.form_values(form)["departments"] == ["SCJ", "ZJJ"]
    assert forms.measure_payload(MultiDict({"measure": "commitment"}))["departments"] == []


def test_a_measure_response_needs_a_chosen_measure_and_a_yes_or_no():
    form = MultiDict(
        {"measure_id": "7", "department": "SCJ", "response": "同意", "delivered": "yes"}
    )
    assert forms.measure_response_args("XW-1", form) == (
        "XW-1",
        7,
        {"department": "SCJ", "response": "同意", "delivered": True},
    )
    with pytest.raises(InvalidField) as refused:
        forms.measure_response_args("XW-1", MultiDict({"delivered": "no"}))
    assert refused.value.field == "measure_id"
    with pytest.raises(InvalidField) as refused:
        forms.measure_response_args("XW-1", MultiDict({"measure_id": "7"}))
    assert refused.value.field == "delivered"


def test_an_appeal_decision_is_chosen_before_it_is_sent():
    with pytest.raises(InvalidField) as refused:
        forms.appeal_decision_payload(MultiDict({"reason": "经核实"}))
    assert refused.value.field == "upheld"
    decided = forms.appeal_decision_payload(MultiDict({"upheld": "no", "reason": "经核实"}))
    assert decided == {"upheld": False, "reason": "经核实"}


def test_a_resolution_lists_the_measures_that_worked():
    form = MultiDict([("outcome", "done"), ("summary", "已办结"), ("worked_measures", "3")])
    assert forms.resolve_payload(form) == {
        "outcome": "done",
        "summary": "已办结",
        "worked_measures": [3],
    }
    assert forms.reason_payload(MultiDict({"reason": " "})) == {}


def test_a_meeting_is_convened_for_the_chosen_cases_at_the_halls_local_time():
    form = MultiDict(
        [
            ("case_nos", "XW-1"),
            ("case_nos", "XW-2"),
            ("departments", "SCJ"),
            ("scheduled_at", "2026-12-01T09:30"),
            ("complex", "on"),
        ]
    )
    assert forms.meeting_payload(form) == {
        "case_nos": ["XW-1", "XW-2"],
        "departments": ["SCJ"],
        "scheduled_at": "2026-12-01T09:30:00+08:00",
        "complex": True,
    }
    assert forms.meeting_payload(MultiDict())["scheduled_at"] is None


def test_minutes_carry_each_departments_attendance_and_the_filled_assignments():
    form = MultiDict(
        {
            "attendance[0].department": "SCJ",
            "attendance[0].present": "yes",
            "attendance[0].position": "同意先行受理",
            "attendance[1].department": "ZJJ",
            "attendance[1].present": "no",
            "attendance[1].valid_reason": "",
            "decision": "由区市场监管局牵头办理",
            "assignments[0].department": "",
            "assignments[0].case_no": "XW-1",
            "assignments[0].task": "",
            "assignments[0].due": "",
            "assignments[1].department": "SCJ",
            "assignments[1].case_no": "XW-1",
            "assignments[1].task": "出具意见",
            "assignments[1].due": "2026-12-03",
        }
    )
    payload = forms.minutes_payload(form)
    assert payload["attendance"] == [
        {"department": "SCJ", "present": True, "position": "同意先行受理"},
        {"department": "ZJJ", "present": False},
    ]
    assert payload["decision"] == "由区市场监管局牵头办理"
    assert payload["assignments"] == [
        {"department": "SCJ", "case_no": "XW-1", "task": "出具意见", "due": "2026-12-03"}
    ]
    error = InvalidField("缺少部门意见", "attendance[1].present")
    assert forms.form_state(form, error)["errors"] == {"attendance[1].present": "缺少部门意见"}


@pytest.mark.parametrize(
    ("user", "summary", "offered"),
    [
        (OFFICER, flow("registered"), ["classify"]),
        (BUREAU, flow("registered"), []),
        (OFFICER, flow("classified", "cannot"), ["explain", "reply"]),
        (
            OFFICER,
            flow("in_progress", "cannot", explanation={"legal_basis": "x"}),
            ["reply", "resolve"],
        ),
        (OFFICER, flow("classified", "hard"), ["measure", "reply"]),
        (
            OFFICER,
            flow("in_progress", "hard", measures=[{"id": 1}]),
            ["measure", "measure-response", "reply", "resolve"],
        ),
        (BUREAU, flow("in_progress", "hard", measures=[{"id": 1}]), []),
        (BUREAU, flow("classified", "pending"), []),
        (BUREAU, flow("in_progress", "pending", minuted=True), ["reply", "resolve"]),
        (OFFICER, flow("replied", "pending", minuted=True), ["resolve"]),
        (
            OFFICER,
            flow("resolved", "refused"),
            ["close", "reopen", "promote"],
        ),
        (
            OFFICER,
            flow("closed", "hard", measures=[{"id": 1}]),
            ["archive", "reopen", "promote"],
        ),
        (STAFF, flow("resolved", "cannot"), []),
    ],
)
def test_each_action_is_offered_only_when_the_state_and_type_allow_it(user, summary, offered):
    assert case_actions.offered_actions(user, {"status": summary["state"]}, summary) == offered


def test_the_page_offers_what_coordination_allows_to_the_roles_it_names():
    summary = {"allowed_actions": ["reply", "measure_response"], "acting_roles": ["officer"]}
    case = {"status": "in_progress"}
    assert case_actions.offered_actions(OFFICER, case, summary) == ["reply", "measure-response"]
    assert case_actions.offered_actions(BUREAU, case, summary) == []
    # an action this front door has no form for yet is not offered
    newer = {"allowed_actions": ["reply", "escalate"], "acting_roles": ["officer"]}
    assert case_actions.offered_actions(OFFICER, case, newer) == ["reply"]


def test_without_coordinations_summary_only_intakes_actions_are_offered():
    assert case_actions.offered_actions(OFFICER, {"status": "registered"}, None) == []
    case = {"status": "registered", "requires_return_visit": True}
    assert case_actions.offered_actions(STAFF, case, None) == ["return-visit"]


def test_the_queue_puts_unclassified_then_breached_then_fewest_days_left_first():
    cases = [
        {"case_no": "a", "status": "classified", "received_at": "1", "deadline": None},
        {
            "case_no": "b",
            "status": "in_progress",
            "received_at": "2",
            "deadline": {"working_days_left": 3, "breached": False},
        },
        {
            "case_no": "c",
            "status": "classified",
            "received_at": "3",
            "deadline": {"working_days_left": 0, "breached": True},
        },
        {"case_no": "d", "status": "registered", "received_at": "4", "deadline": None},
        {
            "case_no": "e",
            "status": "replied",
            "received_at": "5",
            "deadline": {"working_days_left": 1, "breached": False},
        },
    ]
    assert [c["case_no"] for c in sorted(cases, key=queue.queue_order)] == ["d", "c", "e", "b", "a"]


def test_the_nearest_deadline_skips_the_met_ones():
    deadlines = [
        {"id": 1, "met_at": "x", "working_days_left": None},
        {"id": 2, "working_days_left": 4, "due_at": "b"},
        {"id": 3, "working_days_left": 2, "due_at": "a"},
    ]
    assert case_view.nearest_deadline(deadlines)["id"] == 3
    assert case_view.nearest_deadline(deadlines[:1]) is None


def test_a_meeting_is_overdue_when_a_reply_or_an_assignment_is_past_its_deadline():
    meeting = {"case_nos": ["XW-1"], "assignments": []}
    reply = {"stage": "reply", "breached": False, "met_at": None, "working_days_left": 2}
    row = meetings.meeting_board_row(dict(meeting), {"XW-1": [reply]})
    assert not row["overdue"] and row["replies"][0]["deadline"] is reply
    assert meetings.meeting_board_row(dict(meeting), {"XW-1": [{**reply, "breached": True}]})[
        "overdue"
    ]
    late_task = {**meeting, "assignments": [{"breached": True, "delivered_at": None}]}
    assert meetings.meeting_board_row(late_task, {})["overdue"]


def test_a_months_ledger_runs_from_its_first_to_its_last_day():
    assert reports.month_bounds("2026-02") == ("2026-02-01", "2026-02-28")
    assert reports.month_bounds("2026-12") == ("2026-12-01", "2026-12-31")
    with pytest.raises(InvalidField):
        reports.month_bounds("2026-13")


# -- the templates ---------------------------------------------------------------------------

CASE = {
    "case_no": "XW-20261130-00001-HALL",
    "site": "HALL",
    "window": "W01",
    "matter": "M001",
    "department": "SCJ",
    "site_name": "玄武区政务服务中心",
    "window_name": "综合受理窗口",
    "matter_name": "企业开办",
    "department_name": "区市场监督管理局",
    "channel": "window",
    "applicant_kind": "person",
    "applicant_name": "李四",
    "description": "住所使用证明不被认可",
    "materials_presented": [],
    "materials_missing": [],
    "first_receiver": "S0001",
    "first_receiver_name": "王雅婷",
    "received_at": "2026-11-30T01:30:00+00:00",
    "status": "in_progress",
    "type": "hard",
    "deadlines": [],
    "timeline": [],
}
DEPARTMENTS = [{"code": "SCJ", "name": "区市场监督管理局"}, {"code": "ZJJ", "name": "区住建局"}]


def html_of(template, user, **context):
    return common.render(template, user, **context).get_data(as_text=True)


def test_the_case_page_shows_the_measures_and_a_refused_response_form_keeps_its_values():
    summary = flow(
        "in_progress",
        "hard",
        measures=[
            {
                "id": 5,
                "measure": "commitment",
                "departments": ["SCJ", "ZJJ"],
                "details": "告知承诺",
                "materials": [],
                "due": None,
                "responses": [{"department": "SCJ", "response": "同意", "delivered": True}],
            }
        ],
    )
    offered = case_actions.offered_actions(OFFICER, CASE, summary)
    html = html_of(
        "cases/detail.html",
        OFFICER,
        case={**CASE, "flow": summary},
        flow=summary,
        staff_names={},
        departments=DEPARTMENTS,
        department_names={d["code"]: d["name"] for d in DEPARTMENTS},
        actions={name: case_actions.CASE_ACTIONS[name] for name in offered},
        forms={
            "measure-response": {
                "values": {"measure_id": "5", "department": "ZJJ", "response": "<i>研究中</i>"},
                "errors": {"delivered": "是否已落实应为 true 或 false"},
            }
        },
    )
    assert 'id="measures"' in html and "告知承诺" in html and "已落实" in html
    for name in ("measure", "measure-response", "reply", "resolve"):
        assert f'id="action-{name}"' in html
    assert "是否已落实应为 true 或 false" in html and "&lt;i&gt;研究中&lt;/i&gt;" in html
    assert '<option value="ZJJ" data-measure="5" selected>' in html


def test_the_explanation_form_puts_a_rows_error_by_that_row():
    summary = flow("classified", "cannot")
    html = html_of(
        "cases/detail.html",
        OFFICER,
        case={**CASE, "type": "cannot", "flow": summary},
        flow=summary,
        staff_names={},
        departments=DEPARTMENTS,
        department_names={},
        actions={"explain": case_actions.CASE_ACTIONS["explain"]},
        forms={
            "explain": {
                "values": {"missing_key_materials[0].name": "住所使用证明"},
                "errors": {"missing_key_materials[0].how_to_obtain": "缺少获取途径"},
            }
        },
    )
    row = html.split('id="ex-material-0"')[1].split('id="ex-material-1"')[0]
    assert "缺少获取途径" in row and 'value="住所使用证明"' in row


def test_the_queue_counts_down_in_working_days():
    items = [
        {
            **CASE,
            "deadline": {
                "kind": "hard_reply",
                "stage": "reply",
                "due_at": "2026-12-02T09:00:00+00:00",
                "working_days_left": 2,
                "breached": False,
            },
        },
        {**CASE, "case_no": "XW-2", "status": "registered", "type": None, "deadline": None},
    ]
    html = html_of(
        "coordination/queue.html",
        OFFICER,
        items=items,
        shown="",
        filters={},
        more=False,
        next_page=None,
        sites=[],
        states=queue.QUEUE_STATES,
    )
    assert "不好办·答复期限" in html and "剩余 2 个工作日" in html and "待分类" in html


def test_the_meeting_board_shows_minutes_overdue_replies_and_the_bureaus_forms():
    reply = {"due_at": "2026-12-02T09:00:00+00:00", "breached": True, "working_days_left": 0}
    minuted = {
        "id": 2,
        "case_nos": ["XW-1"],
        "departments": ["SCJ", "ZJJ"],
        "scheduled_at": "2026-12-01T01:30:00+00:00",
        "convened_at": "2026-11-30T01:30:00+00:00",
        "reply_due_at": "2026-12-02T09:00:00+00:00",
        "complex": False,
        "status": "minuted",
        "minutes": {
            "decision": "牵头办理",
            "attendance": [
                {"department": "SCJ", "present": True, "position": "同意"},
                {"department": "ZJJ", "present": False, "valid_reason": None},
            ],
        },
        "assignments": [],
        "replies": [{"case_no": "XW-1", "deadline": reply}],
        "overdue": True,
    }
    convened = {**minuted, "id": 3, "status": "convened", "minutes": None, "overdue": False}
    html = html_of(
        "coordination/meetings.html",
        BUREAU,
        meetings=[minuted, convened],
        candidates=[CASE],
        departments=DEPARTMENTS,
        department_names={d["code"]: d["name"] for d in DEPARTMENTS},
        forms={
            3: {"values": {}, "errors": {"attendance[1].present": "present 应为 true 或 false"}}
        },
        done=None,
    )
    assert 'id="meeting-2-overdue"' in html and "无故缺席" in html and "牵头办理" in html
    assert 'action="/meetings/3/minutes"' in html and 'action="/meetings"' in html
    assert "present 应为 true 或 false" in html
    officer_view = html_of(
        "coordination/meetings.html",
        OFFICER,
        meetings=[convened],
        candidates=[],
        departments=DEPARTMENTS,
        department_names={},
        done=None,
    )
    assert 'action="/meetings' not in officer_view and "纪要待区行政审批局记录" in officer_view


def test_the_library_the_refusals_the_reports_and_the_appeals_render():
    practice = {
        "id": 1,
        "matter": "M001",
        "windows": ["W01"],
        "title": "住所承诺制",
        "description": "以承诺书代替住所证明",
        "case_no": "XW-1",
        "created_by": "S0003",
        "created_at": "2026-11-30T01:30:00+00:00",
    }
    html = html_of(
        "coordination/practices.html",
        STAFF,
        items=[practice],
        matter="",
        matters=[{"code": "M001", "name": "企业开办"}],
        matter_names={"M001": "企业开办"},
        staff_names={},
        done=None,
    )
    assert "住所承诺制" in html and "推广一项做法" not in html  # staff only read it
    refusal = {
        "case_no": "XW-1",
        "site": "HALL",
        "matter": "M001",
        "department": "SCJ",
        "legal_basis": "《条例》第二十四条",
        "explanation": "法定要件",
        "missing_key_materials": [{"name": "住所证明", "how_to_obtain": "到住建局开具"}],
        "explained_by": "S0003",
        "explained_at": "2026-11-30T01:30:00+00:00",
        "state": "resolved",
    }
    html = html_of(
        "coordination/refusals.html",
        STAFF,
        items=[refusal],
        filters={},
        sites=[],
        departments=DEPARTMENTS,
        department_names={},
        matter_names={},
        staff_names={},
        next_page=None,
    )
    assert "《条例》第二十四条" in html and "到住建局开具" in html
    links = {"page": "/p", "csv": "/c", "xlsx": "/x", "ledger_csv": "/lc", "ledger_xlsx": "/lx"}
    html = html_of(
        "reports_index.html",
        STAFF,
        month="2026-11",
        site="HALL",
        first="2026-11-01",
        last="2026-11-30",
        links=links,
        sites=[],
    )
    assert all(f'href="{href}"' in html for href in links.values())
    appeal = {
        "id": 4,
        "staff_id": "S0001",
        "status": "pending",
        "reason": "事出有因",
        "filed_at": "2026-11-30T01:30:00+00:00",
        "finding": {"case_no": "XW-1", "cause": "attitude", "finding": "态度生硬"},
    }
    sanction = {
        "id": 9,
        "staff_id": "S0001",
        "kind": "dismissal",
        "status": "recommended",
        "period": "2026",
        "strike_no": 3,
        "applied_at": "2026-11-30T01:30:00+00:00",
    }
    html = html_of(
        "accountability/appeals.html",
        {"id": "S0006", "name": "督查", "role": "supervisor", "site": None},
        appeals=[appeal],
        sanctions=[sanction],
        decides_appeals=True,
        decides_sanctions=False,
        staff_names={"S0001": "王雅婷"},
        done=None,
    )
    # the supervisor decides the appeal; the dismissal waits for HR (separated duties)
    assert 'action="/appeals/4/decision"' in html and 'action="/sanctions/9/confirm"' not in html
    assert "等待人事部门确认" in html
    assert "辞退" in html and "工作态度问题" in html
    html = html_of(
        "accountability/appeals.html",
        {"id": "S0039", "name": "人事", "role": "hr", "site": None},
        appeals=[appeal],
        sanctions=[sanction],
        decides_appeals=False,
        decides_sanctions=True,
        staff_names={"S0001": "王雅婷"},
        done=None,
    )
    assert 'action="/sanctions/9/confirm"' in html and 'action="/sanctions/9/reject"' in html
    assert 'action="/appeals/4/decision"' not in html and "等待督查人员决定" in html
