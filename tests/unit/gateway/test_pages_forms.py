"""The pages' pure helpers: form to API body, error placement, redirects, times, menus."""

import pytest
from werkzeug.datastructures import MultiDict

from services.gateway import case_view, forms
from services.gateway.pages import case_actions, common, home


def test_the_form_becomes_the_apis_registration_body():
    form = MultiDict(
        {
            "site": " HALL ",
            "window": "W01",
            "matter": "M001",
            "department": "SCJ",
            "first_receiver": "S0001",
            "first_asked_by": "",
            "description": "住所使用证明不被认可",
            "channel": "",
            "applicant.kind": "person",
            "applicant.name": "李四",
            "applicant.id_number": "",
            "applicant.phone": "13912345678",
            "materials_presented": "公司章程\r\n\r\n 法定代表人身份证 \n",
            "materials_missing": "",
            "received_at": "2026-11-30T09:30",
        }
    )
    payload = forms.registration_payload(form)
    assert payload["site"] == "HALL"
    assert payload["channel"] == "window"
    assert payload["applicant"] == {
        "kind": "person",
        "name": "李四",
        "id_number": None,
        "phone": "13912345678",
    }
    assert payload["materials_presented"] == ["公司章程", "法定代表人身份证"]
    assert payload["materials_missing"] == []
    assert "first_asked_by" not in payload
    # a datetime-local value is the hall's local time
    assert payload["received_at"] == "2026-11-30T09:30:00+08:00"


def test_a_received_at_that_is_not_a_time_is_passed_on_for_the_service_to_name():
    payload = forms.registration_payload(MultiDict({"received_at": "昨天"}))
    assert payload["received_at"] == "昨天"


@pytest.mark.parametrize(
    ("field", "input_name"),
    [
        ("applicant.id_number", "applicant.id_number"),
        ("materials_missing[2]", "materials_missing"),
        (None, None),
        ("", None),
    ],
)
def test_an_error_lands_on_the_input_it_names(field, input_name):
    assert forms.error_field(field) == input_name


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("/cases?status=registered", "/cases?status=registered"),
        (None, "/"),
        ("", "/"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
    ],
)
def test_only_a_path_on_this_site_follows_the_login(given, kept):
    assert home.safe_next(given) == kept


def test_times_are_shown_in_the_halls_time_zone():
    assert common.local_time("2026-11-30T01:30:00+00:00") == "2026-11-30 09:30"
    assert common.local_time(None) == ""


def test_the_menu_offers_only_what_the_role_may_open():
    staff = {"id": "S0001", "role": "window_staff", "site": "HALL"}
    supervisor = {"id": "S0006", "role": "supervisor", "site": None}
    assert ("/cases/new", "登记事项") in common.menu_for(staff)
    assert ("/cases", "本场所事项") in common.menu_for(staff)
    assert "/cases/new" not in dict(common.menu_for(supervisor))
    assert ("/cases", "全部事项") in common.menu_for(supervisor)
    assert common.menu_for(None) == []


def test_timelines_of_the_services_merge_oldest_first():
    intake = [{"at": "2026-11-30T09:00:00+08:00", "service": "intake", "text": "登记"}]
    coordination = [
        # the same instant written in UTC still sorts by time, not by text
        {"at": "2026-11-30T01:00:01+00:00", "service": "coordination", "text": "建立"},
        {"at": "2026-11-30T10:00:00+08:00", "service": "coordination", "text": "分类"},
    ]
    accountability = [
        {"at": "2026-11-30T09:00:00.500000+08:00", "service": "accountability", "text": "首接"}
    ]
    merged = case_view.merge_timelines([coordination, intake, accountability, []])
    assert [entry["text"] for entry in merged] == ["登记", "首接", "建立", "分类"]


def test_the_return_visit_form_offers_a_choice_and_passes_anything_else_on():
    assert forms.return_visit_payload(MultiDict({"satisfied": "yes", "notes": " 已回访 "})) == {
        "satisfied": True,
        "notes": "已回访",
    }
    assert forms.return_visit_payload(MultiDict({"satisfied": "no"}))["satisfied"] is False
    # nothing chosen: the service names the field
    assert forms.return_visit_payload(MultiDict({}))["satisfied"] is None


def test_the_return_visit_form_shows_only_where_one_is_owed_and_to_case_workers():
    owed = {"requires_return_visit": True}
    assert case_actions.offered_actions({"role": "window_staff"}, owed) == ["return-visit"]
    assert case_actions.offered_actions({"role": "operator"}, owed) == []
    assert case_actions.offered_actions({"role": "officer"}, {"requires_return_visit": False}) == []


def test_the_classify_form_sends_type_reason_and_complexity():
    form = MultiDict({"type": "pending", "reason": " 职责不清 ", "complex": "on"})
    assert forms.classify_payload(form) == {
        "type": "pending",
        "reason": "职责不清",
        "complex": True,
    }
    assert forms.classify_payload(MultiDict({}))["type"] is None


def test_only_the_officer_is_offered_classification_and_only_before_it():
    registered = {"status": "registered"}
    unclassified = {"allowed_actions": ["classify"], "acting_roles": ["officer"]}
    classified = {"allowed_actions": ["reply"], "acting_roles": ["officer"]}
    offered = case_actions.offered_actions
    assert "classify" in offered({"role": "officer"}, registered, unclassified)
    assert "classify" not in offered({"role": "bureau"}, registered, unclassified)
    assert "classify" not in offered({"role": "officer"}, {"status": "classified"}, classified)


def test_a_no_fault_finding_needs_no_staff_member():
    assert forms.finding_payload(MultiDict({"finding": "无过错", "no_fault": "on"})) == {
        "finding": "无过错",
        "no_fault": True,
    }
    payload = forms.finding_payload(
        MultiDict({"finding": "态度生硬", "staff_id": "S0001", "cause": "attitude"})
    )
    assert payload == {
        "finding": "态度生硬",
        "no_fault": False,
        "staff_id": "S0001",
        "cause": "attitude",
    }


def test_supervisors_and_the_bureau_see_scores_and_everyone_their_own_record():
    menu = dict(common.menu_for({"id": "S0006", "role": "supervisor", "site": None}))
    assert "/investigations" in menu and "/departments/scores" in menu
    assert "/staff/S0006/record" in menu
    staff_menu = dict(common.menu_for({"id": "S0001", "role": "window_staff", "site": "HALL"}))
    assert "/investigations" not in staff_menu and "/departments/scores" not in staff_menu
    assert "/reports" in staff_menu and "/refusals" in staff_menu and "/practices" in staff_menu
    assert (
        "/queue" not in staff_menu
        and "/meetings" not in staff_menu
        and "/appeals" not in staff_menu
    )
    assert "/appeals" in menu


def test_a_deadline_is_named_by_its_type_and_stage():
    assert (
        common.deadline_label({"kind": "pending_reply", "stage": "reply"}) == "暂时办不了·答复期限"
    )
    assert common.deadline_label({"kind": "hard_resolution", "stage": "resolution"}) == (
        "不好办·办结期限"
    )
    assert common.deadline_label({"kind": "assignment", "stage": None}) == "联席会议分工"
