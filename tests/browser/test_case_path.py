"""A case's path through the roles in the browser, as far as the pages reach today:
window staff register → the officer classifies it → the supervisor records a finding."""

import time

import pytest
import requests

from tests.browser.conftest import BASE_URL
from tests.browser.test_staff_pages import register_in_browser
from tests.e2e.conftest import API, login

pytestmark = pytest.mark.e2e


def reload_until(browser, path: str, css: str, text: str, timeout: float = 20.0):
    """Events reach the other services a moment later: reload until ``text`` shows."""
    deadline = time.monotonic() + timeout
    while True:
        browser.driver.get(BASE_URL + path)
        found = browser.find_all(css)
        if found and text in found[0].text:
            return browser.shot(path)
        assert time.monotonic() < deadline, f"{text!r} not in {css} of {path} after {timeout}s"
        time.sleep(0.3)


def test_staff_register_and_the_officer_classifies_pending(browser):
    browser.login("hall.staff")
    case_no = register_in_browser(browser, description="房屋历史遗留问题，权属部门职责不清")

    browser.login("officer")
    assert "待分类" in browser.text("main")
    reload_until(browser, f"/cases/{case_no}", "#timeline", "coordination")
    # no type chosen: the reason stays and the error sits by the type
    browser.fill({"reason": "涉及多个部门职责，需联席会议研究"})
    browser.submit("#action-classify button[type='submit']")
    assert browser.text("#action-classify .field-error")
    assert browser.find("#cl-reason").get_attribute("value") == "涉及多个部门职责，需联席会议研究"

    browser.fill({"type": "pending"})
    browser.submit("#action-classify button[type='submit']")
    assert "分类：已完成" in browser.text("#action-notice")
    assert "暂时办不了" in browser.text("#timeline") or "pending" in browser.text("#timeline")
    reload_until(browser, f"/cases/{case_no}", "#case-type", "暂时办不了")
    assert not browser.find_all("#action-classify")  # classified once only

    browser.open("/cases?type=pending")
    assert case_no in browser.text("table.cases")


def test_the_supervisor_records_a_finding_and_sees_strikes_and_scores(browser):
    case = requests.post(
        f"{API}/cases",
        json={
            "site": "HALL",
            "window": "W01",
            "matter": "M001",
            "department": "SCJ",
            "channel": "window",
            "applicant": {"kind": "enterprise", "name": "南京某某科技有限公司"},
            "description": "窗口人员态度生硬，拒绝受理",
            "first_receiver": "S0001",
        },
        headers=login("hall.staff"),
        timeout=10,
    )
    assert case.status_code == 201, case.text
    case_no = case.json()["case_no"]
    officer = login("officer")
    deadline = time.monotonic() + 20
    while True:
        classified = requests.post(
            f"{API}/cases/{case_no}/classify",
            json={"type": "refused", "reason": "态度生硬，拒不受理", "complex": False},
            headers=officer,
            timeout=10,
        )
        if classified.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert classified.status_code == 200, classified.text

    browser.login("hall.staff")
    browser.open("/investigations")
    assert "无权访问" in browser.text("h1")

    browser.login("supervisor")
    reload_until(browser, "/investigations", "main", case_no)
    card = next(
        element
        for element in browser.find_all("main .card")
        if case_no in element.text and element.get_attribute("id")
    )
    card_id = card.get_attribute("id")
    browser.fill({"cause": "attitude"}, within=f"#{card_id}")
    browser.submit(f"#{card_id} button[type='submit']")
    assert browser.text(f"#{card_id} .field-error")  # the finding's facts are required
    browser.fill({"finding": "经调取录像核实，窗口人员态度生硬，拒绝受理"}, within=f"#{card_id}")
    browser.submit(f"#{card_id} button[type='submit']")
    assert "结论已记录" in browser.text("#action-notice")

    reload_until(browser, "/staff/S0001/record", "main", case_no)
    assert "工作态度问题" in browser.text("#strikes")
    browser.open("/departments/scores")
    assert "区市场监督管理局" in browser.text("#scores")

    browser.login("xjk.staff")
    browser.open("/staff/S0001/record")
    assert "无权访问" in browser.text("h1")
