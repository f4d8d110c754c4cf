"""The templates render what people need to see, in Chinese, and escape what they typed."""

from services.common.errors import Forbidden
from services.gateway.pages import common

STAFF = {"id": "S0001", "name": "王雅婷", "role": "window_staff", "site": "HALL"}
SITES = [
    {
        "code": "HALL",
        "name": "玄武区政务服务中心",
        "windows": [{"code": "W01", "name": "综合受理窗口"}],
    }
]
MATTERS = [
    {
        "code": "M001",
        "name": "企业开办",
        "department": "SCJ",
        "sites": ["HALL"],
        "key_materials": ["住所使用证明"],
        "other_materials": [],
    }
]
CASE = {
    "case_no": "XW-20261130-00001-HALL",
    "site": "HALL",
    "site_name": "玄武区政务服务中心",
    "window_name": "综合受理窗口",
    "matter_name": "企业开办",
    "department_name": "区市场监督管理局",
    "channel": "window",
    "applicant_kind": "person",
    "applicant_name": "<b>李四</b>",
    "id_number_masked": "320102********1238",
    "phone": None,
    "description": "住所使用证明不被认可",
    "materials_presented": ["公司章程"],
    "materials_missing": ["住所使用证明"],
    "first_receiver": "S0001",
    "first_receiver_name": "王雅婷",
    "first_asked_by": None,
    "received_at": "2026-11-30T01:30:00+00:00",
    "registered_at": "2026-11-30T01:31:00+00:00",
    "registered_by": "S0001",
    "status": "registered",
    "repeat_of": ["XW-20261101-00007-HALL"],
}


def body(response) -> str:
    return response.get_data(as_text=True)


def test_a_refused_registration_keeps_every_value_and_shows_the_error_by_its_field():
    response = common.render(
        "cases/new.html",
        STAFF,
        status=422,
        sites=SITES,
        matters=MATTERS,
        departments=[{"code": "SCJ", "name": "区市场监督管理局"}],
        staff=[{"id": "S0001", "name": "王雅婷", "site": "HALL"}],
        values={
            "site": "HALL",
            "window": "W01",
            "matter": "M001",
            "applicant.name": "李四",
            "applicant.id_number": "320102198001011230",
            "description": "<script>alert(1)</script>",
        },
        errors={"applicant.id_number": "身份证号码校验位不正确"},
    )
    html = body(response)
    assert response.status_code == 422
    assert 'id="error-applicant-id_number"' in html and "身份证号码校验位不正确" in html
    assert 'value="320102198001011230"' in html and 'value="李四"' in html
    assert '<option value="M001" data-sites="HALL"' in html and "selected>企业开办" in html
    # what was typed comes back escaped, never as markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert response.headers["Cache-Control"] == "no-store"


def test_the_case_page_shows_the_masked_number_the_repeat_visit_and_the_timeline():
    timeline = [
        {
            "at": "2026-11-30T09:30:00+08:00",
            "service": "intake",
            "actor": "S0001",
            "text": "事项已登记（intake）",
        }
    ]
    html = body(
        common.render(
            "cases/detail.html",
            STAFF,
            case={**CASE, "deadlines": [], "timeline": timeline},
            staff_names={"S0001": "王雅婷"},
            notice="registered",
        )
    )
    assert "登记成功" in html and "320102********1238" in html
    assert "重复来访" in html and "/cases/XW-20261101-00007-HALL" in html
    assert "2026-11-30 09:30:00" in html and "事项已登记（intake）" in html
    assert "&lt;b&gt;李四&lt;/b&gt;" in html


def test_the_printed_registration_form_has_the_boxes_and_the_signatures():
    html = body(
        common.render(
            "cases/print.html",
            STAFF,
            case={**CASE, "type": "pending"},
            staff_names={"S0001": "王雅婷"},
            printed_at="2026-11-30 10:00",
        )
    )
    assert "事项登记表" in html and "@media print" in html
    assert "☑ 窗口反映" in html and "☑ 暂时办不了" in html and "☐ 不能办" in html
    assert "申请人签字" in html and "首接负责人签字" in html
    assert "接收时间：2026-11-30 09:30" in html


def test_a_refusal_is_a_chinese_page_with_its_status():
    response = common.render(
        "error.html",
        STAFF,
        status=403,
        title="无权访问",
        error=Forbidden("窗口工作人员只能查看本场所的事项"),
    )
    assert response.status_code == 403
    assert "无权访问" in body(response) and "只能查看本场所的事项" in body(response)


SUPERVISOR = {"id": "S0006", "name": "吴秀英", "role": "supervisor", "site": None}


def test_an_open_investigation_has_its_form_and_a_refused_finding_keeps_its_error():
    open_one = {
        "id": 1,
        "case_no": "XW-20261130-00001-HALL",
        "site": "HALL",
        "first_receiver": "S0001",
        "opened_at": "2026-11-30T01:00:00+00:00",
        "reason": "态度生硬",
        "status": "open",
        "finding": None,
    }
    done = {
        **open_one,
        "id": 2,
        "status": "closed",
        "finding": {"finding": "属实", "no_fault": False, "staff_id": "S0001", "cause": "attitude"},
    }
    html = body(
        common.render(
            "accountability/investigations.html",
            SUPERVISOR,
            items=[open_one, done],
            shown="open",
            staff=[{"id": "S0001", "name": "王雅婷"}],
            staff_names={"S0001": "王雅婷"},
            forms={1: {"values": {"cause": "attitude"}, "errors": {"finding": "缺少调查结论"}}},
            done=None,
        )
    )
    assert 'action="/investigations/1/finding"' in html
    assert 'action="/investigations/2/finding"' not in html
    assert "缺少调查结论" in html and '<option value="attitude" selected>' in html
    assert "原因：工作态度问题" in html


def test_the_staff_record_and_the_scores_show_strikes_sanctions_and_each_deduction():
    record = {
        "staff_id": "S0001",
        "first_received": [{"case_no": "XW-1", "site": "HALL", "assisted_after_handover": True}],
        "helped": [],
        "findings": [{}],
        "strikes": [
            {
                "case_no": "XW-1",
                "cause": "attitude",
                "period": "2026",
                "strike_no": 1,
                "sanctions": ["reminder_talk", "bonus_withheld"],
            }
        ],
        "sanctions": [
            {
                "kind": "reminder_talk",
                "case_no": "XW-1",
                "strike_no": 1,
                "status": "applied",
                "applied_at": "2026-11-30T01:00:00+00:00",
            }
        ],
    }
    html = body(
        common.render(
            "accountability/staff_record.html", SUPERVISOR, record=record, staff_name="王"
        )
    )
    assert "第 1 次" in html and "谈话提醒" in html and "扣发奖金" in html
    scores = {
        "year": 2026,
        "base_score": 100,
        "items": [
            {
                "department": "SCJ",
                "name": "区市场监督管理局",
                "score": 98,
                "deducted": 2,
                "deductions": [
                    {
                        "points": 2,
                        "reason": "无正当理由缺席联席会议",
                        "case_no": None,
                        "status": "recorded",
                    },
                    {"points": 1, "reason": "逾期", "case_no": "XW-1", "status": "withdrawn"},
                ],
            }
        ],
    }
    html = body(common.render("accountability/scores.html", SUPERVISOR, scores=scores))
    assert "−2：无正当理由缺席联席会议" in html and "已撤销" in html
