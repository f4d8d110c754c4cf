"""The 差评 loop on the case page in a real browser: each role gets its own forms (with their
CSRF tokens) and only those — the officer verifies, the rated staff member appeals, a
supervisor decides, the officer rectifies and answers, window staff record the return visit,
the officer the re-rating — and the monthly page shows the loop's rates."""

import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.system import API, login

pytestmark = pytest.mark.e2e

LOOP_FORMS = (
    "#action-bad-rating-verify",
    "#action-bad-rating-appeal",
    "#action-bad-rating-appeal-decision",
    "#action-bad-rating-rectify",
    "#action-bad-rating-answer",
    "#action-bad-rating-re-rating",
)


def bad_rating() -> str:
    rating = {
        "channel": "rating",
        "site": "HALL",
        "window": "W02",
        "matter": "M001",
        "staff": "S0001",  # hall.staff
        "level": 2,
        "text": "窗口人员不耐烦",
        "applicant": {"kind": "person", "name": "孙八", "phone": "13700002222"},
    }
    response = requests.post(f"{API}/feedback", json=rating, headers=login("officer"), timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["case_no"]


def forms_shown(browser) -> list[str]:
    return [css for css in LOOP_FORMS if browser.find_all(css)]


def test_the_loop_walked_through_its_forms(browser):
    case_no = bad_rating()

    browser.login("officer")
    browser.open(f"/cases/{case_no}")
    assert browser.text("#bad-rating-state") == "待核实"
    assert "核实属实后开始计算" in browser.text("#bad-rating-deadline")
    assert forms_shown(browser) == ["#action-bad-rating-verify"]
    assert browser.find("#action-bad-rating-verify input[name='csrf_token']").get_attribute("value")
    # no finding chosen: the reason stays, the error sits by the choice
    browser.fill({"reason": "调阅窗口录像，服务用语不规范"}, "#action-bad-rating-verify")
    browser.submit("#action-bad-rating-verify button[type='submit']")
    assert "核实结论" in browser.text("#action-bad-rating-verify .field-error")
    assert browser.find("#br-reason").get_attribute("value") == "调阅窗口录像，服务用语不规范"
    browser.fill({"finding": "genuine"}, "#action-bad-rating-verify")
    browser.submit("#action-bad-rating-verify button[type='submit']")
    assert "核实差评：已完成" in browser.text("#action-notice")
    assert browser.text("#bad-rating-state") == "整改中"
    assert "15 个工作日" in browser.text("#bad-rating-deadline")
    assert "差评属实" in browser.text("#bad-rating-verification")
    assert forms_shown(browser) == ["#action-bad-rating-rectify"]  # the appeal is not theirs

    browser.login("hall.staff")
    browser.open(f"/cases/{case_no}")
    assert forms_shown(browser) == ["#action-bad-rating-appeal"]
    browser.fill({"reason": "当时系统故障，并非态度问题"}, "#action-bad-rating-appeal")
    browser.submit("#action-bad-rating-appeal button[type='submit']")
    assert browser.text("#bad-rating-state") == "申诉待决定"
    assert "申诉期间暂停" in browser.text("#bad-rating-deadline")
    assert forms_shown(browser) == []

    browser.login("supervisor")
    browser.open(f"/cases/{case_no}")
    assert forms_shown(browser) == ["#action-bad-rating-appeal-decision"]
    browser.fill(
        {"upheld": "no", "reason": "系统日志显示当时运行正常"},
        "#action-bad-rating-appeal-decision",
    )
    browser.submit("#action-bad-rating-appeal-decision button[type='submit']")
    assert "申诉驳回" in browser.text("#bad-rating-appeal-decision")
    assert browser.text("#bad-rating-state") == "整改中"

    browser.login("officer")
    browser.open(f"/cases/{case_no}")
    browser.fill({"measures": "约谈当事人，组织服务规范培训"}, "#action-bad-rating-rectify")
    browser.submit("#action-bad-rating-rectify button[type='submit']")
    assert "按期" in browser.text("#bad-rating-rectification")
    assert forms_shown(browser) == ["#action-bad-rating-answer"]
    browser.fill({"summary": "已核实并整改，向您致歉"}, "#action-bad-rating-answer")
    browser.submit("#action-bad-rating-answer button[type='submit']")
    assert browser.text("#bad-rating-state") == "待回访"
    assert "尚未回访" in browser.text("#bad-rating-visit")

    browser.login("hall.staff")
    browser.open(f"/cases/{case_no}")
    browser.fill({"satisfied": "yes", "notes": "电话回访，评价人认可整改"}, "#action-return-visit")
    browser.submit("#action-return-visit button[type='submit']")

    browser.login("officer")
    started = time.monotonic()  # coordination hears of the visit from intake's event
    while True:
        browser.open(f"/cases/{case_no}")
        if browser.find_all("#action-bad-rating-re-rating"):
            break
        assert time.monotonic() - started < 15, "the return visit never reached the loop"
        time.sleep(0.5)
    assert browser.text("#bad-rating-state") == "已回访，可再评价"
    browser.fill({"level": "4", "text": "服务态度明显改进"}, "#action-bad-rating-re-rating")
    browser.submit("#action-bad-rating-re-rating button[type='submit']")
    assert browser.text("#bad-rating-state") == "已完成"
    assert "评价提升" in browser.text("#bad-rating-re-rating")
    assert "再评价：满意（4级）" in browser.text("#timeline")
    assert forms_shown(browser) == []

    month = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    browser.open(f"/reports/monthly?month={month}")
    assert "差评整改率" in browser.text("#bad-ratings")
    assert "回访率" in browser.text("#bad-ratings")
