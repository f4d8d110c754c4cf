"""A case's path through the roles in the browser: window staff register → the officer
classifies it → the bureau convenes and minutes a joint meeting → the reply → resolved, closed,
archived → counted in the monthly summary; `cannot` and `hard` through their own flows; the
supervisor's finding, and the deduction a missed meeting brings."""

import re
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.browser.conftest import BASE_URL
from tests.browser.test_staff_pages import register_in_browser, valid_id
from tests.system import API, login

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

    # the staff member appeals the finding from their own record; the supervisor decides it
    browser.login("hall.staff")
    browser.open("/staff/S0001/record")
    row = next(r for r in browser.find_all("#findings tr") if case_no in r.text)
    finding = row.get_attribute("id")
    browser.submit(f"#{finding} button[type='submit']")
    assert browser.text(f"#{finding} .field-error")  # an appeal needs its reason
    browser.fill({"reason": "当日系统故障，并非拒绝受理"}, within=f"#{finding}")
    browser.submit(f"#{finding} button[type='submit']")
    assert "申诉已提交" in browser.text("#action-notice")
    assert "待决定" in browser.text(f"#{finding}")
    browser.open("/appeals")
    assert "无权访问" in browser.text("h1")

    browser.login("supervisor")
    browser.open("/appeals")
    card = next(c for c in browser.find_all(".appeal") if case_no in c.text)
    appeal = card.get_attribute("id")
    browser.fill({"reason": "经核实系统运行正常"}, within=f"#{appeal}")
    browser.submit(f"#{appeal} button[type='submit']")
    assert "请选择申诉是否成立" in browser.text(f"#{appeal} .field-error")
    assert browser.find(f"#{appeal} [name='reason']").get_attribute("value") == "经核实系统运行正常"
    browser.fill({"upheld": "no"}, within=f"#{appeal}")
    browser.submit(f"#{appeal} button[type='submit']")
    assert "申诉已作出决定" in browser.text("#action-notice")
    assert "申诉驳回" in browser.text(f"#{appeal}")

    browser.login("xjk.staff")
    browser.open("/staff/S0001/record")
    assert "无权访问" in browser.text("h1")


def register_by_api(description: str, matter: str = "M001", department: str = "SCJ") -> str:
    response = requests.post(
        f"{API}/cases",
        json={
            "site": "HALL",
            "window": "W01",
            "matter": matter,
            "department": department,
            "channel": "window",
            "applicant": {
                "kind": "person",
                "name": "周八",
                "id_number": valid_id("32010219900202456"),
                "phone": "13800001111",
            },
            "description": description,
            "first_receiver": "S0001",
        },
        headers=login("hall.staff"),
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()["case_no"]


def classify_in_browser(browser, case_no: str, case_type: str, reason: str):
    """As the officer: wait until coordination has the case, then classify it on its page."""
    reload_until(browser, f"/cases/{case_no}", "#flow-state", "已登记")
    browser.fill({"type": case_type, "reason": reason}, within="#action-classify")
    browser.submit("#action-classify button[type='submit']")
    assert "分类：已完成" in browser.text("#action-notice")


def act(browser, action: str, fields: dict | None = None):
    """Fill and submit one of the case page's action forms; return the notice shown."""
    browser.fill(fields or {}, within=f"#action-{action}")
    browser.submit(f"#action-{action} button[type='submit']")
    return browser.text("#action-notice")


def row_index(browser, row: str) -> str:
    """The index of a department's attendance row (rows follow the invitation's order)."""
    name = browser.find(f"{row} input[type='hidden']").get_attribute("name")
    return name.removeprefix("attendance[").split("]", 1)[0]


def summary_counts(browser, month: str) -> dict:
    """The printable summary's headline: cases registered and replies of the month."""
    browser.open(f"/reports/monthly?month={month}")
    text = browser.text("body")
    cases = re.search(r"咨询及登记事项\s*(\d+)\s*件", text)
    replies = re.search(r"答复\s*(\d+)\s*件", text)
    assert cases and replies, text[:500]
    return {"cases": int(cases[1]), "replies": int(replies[1])}


def test_the_pending_path_from_registration_to_the_monthly_summary(browser):
    month = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    browser.login("officer")
    before = summary_counts(browser, month)

    browser.login("hall.staff")
    case_no = register_in_browser(browser, description="老旧小区加装电梯，多个部门意见不一")
    assert case_no.split("-")[1][:6] == month.replace("-", "")

    # the officer's queue: unclassified first, then counted down in working days
    browser.login("officer")
    reload_until(browser, "/queue", "#queue", case_no)
    row = browser.find(f"#queue tr[data-case-no='{case_no}']")
    assert "待分类" in row.text
    classify_in_browser(browser, case_no, "pending", "涉及多个部门职责，需联席会议研究")
    browser.open("/queue?type=pending")
    row = browser.find(f"#queue tr[data-case-no='{case_no}']")
    assert "暂时办不了·答复期限" in row.text and "个工作日" in row.text

    # the bureau convenes: a refused form keeps the chosen case, the error sits by the field
    browser.login("bureau")
    browser.open("/meetings")
    browser.tick(f"#convene input[value='{case_no}']")
    browser.set_value("#cv-when", "2026-12-01T09:30")
    browser.submit("#convene button[type='submit']")
    assert "参会部门" in browser.text("#convene .field-error")
    assert browser.find(f"#convene input[value='{case_no}']").is_selected()
    browser.tick("#convene input[name='departments'][value='SCJ']")
    browser.tick("#convene input[name='departments'][value='FCJ']")
    browser.set_value("#cv-when", "2026-12-01T09:30")
    browser.submit("#convene button[type='submit']")
    assert "联席会议已召集" in browser.text("#action-notice")
    card = next(c for c in browser.find_all(".meeting") if case_no in c.text)
    meeting = card.get_attribute("id")
    meeting_id = meeting.split("-")[1]
    assert "剩余" in browser.text(f"#{meeting} .replies")

    # minutes: FCJ stays away without a reason; no decision yet → the error by the decision
    form = f"#{meeting} form.minutes"
    scj, fcj = (f"#{meeting}-attendance-{code}" for code in ("SCJ", "FCJ"))
    browser.fill({f"attendance[{row_index(browser, scj)}].position": "同意按规定办理"}, within=scj)
    browser.fill({f"attendance[{row_index(browser, fcj)}].present": "no"}, within=fcj)
    browser.fill(
        {"assignments[0].department": "SCJ", "assignments[0].task": "出具加装电梯审批意见"},
        within=form,
    )
    browser.set_value(f"{form} [name='assignments[0].due']", "2026-12-04")
    browser.submit(f"{form} button[type='submit']")
    assert "会议决定" in browser.text(f"#{meeting} .field-error")
    assert browser.find(f"{scj} input[name$='.position']").get_attribute("value") == (
        "同意按规定办理"
    )
    assert browser.find(f"{form} [name='assignments[0].task']").get_attribute("value") == (
        "出具加装电梯审批意见"
    )
    browser.fill({"decision": "由区市场监督管理局牵头，五个工作日内答复申请人"}, within=form)
    browser.submit(f"{form} button[type='submit']")
    assert "会议纪要已记录" in browser.text("#action-notice")
    absent = next(r for r in browser.find_all(f"#{meeting} .attendance tr") if "房产局" in r.text)
    assert "无故缺席" in absent.text
    assert "出具加装电梯审批意见" in browser.text(f"#{meeting} .assignments")

    # the reply, the result, closing and archiving: each form only when the state allows it
    browser.open(f"/cases/{case_no}")
    assert not browser.find_all("#action-close")
    assert "答复申请人：已完成" in act(
        browser, "reply", {"summary": "已电话告知申请人联席会议决定及办理时限"}
    )
    assert "按期" in browser.text("#flow-reply")
    assert "办结：已完成" in act(
        browser, "resolve", {"outcome": "done", "summary": "联席会议决定后已办成"}
    )
    assert "关闭：已完成" in act(browser, "close")
    assert "归档：已完成" in act(browser, "archive", {"reason": "材料齐全，归档"})
    assert "已归档" in browser.text("#flow-state")
    assert browser.find_all("#action-reopen") and not browser.find_all("#action-archive")
    timeline = browser.text("#timeline")
    assert "联席会议纪要" in timeline and "已答复申请人" in timeline

    # the monthly summary counts it: one more case and one more reply than before
    deadline = time.monotonic() + 20
    while True:
        after = summary_counts(browser, month)
        if after == {"cases": before["cases"] + 1, "replies": before["replies"] + 1}:
            break
        assert time.monotonic() < deadline, (before, after)
        time.sleep(0.5)

    # the reports index links the page and its downloads, which answer with files
    browser.open(f"/reports?month={month}")
    assert (
        browser.find("#link-monthly")
        .get_attribute("href")
        .endswith(f"/reports/monthly?month={month}")
    )
    cookies = {"bancheng_token": browser.driver.get_cookie("bancheng_token")["value"]}
    for link in ("link-monthly-csv", "link-monthly-xlsx", "link-ledger-csv", "link-ledger-xlsx"):
        response = requests.get(
            browser.find(f"#{link}").get_attribute("href"), cookies=cookies, timeout=30
        )
        assert response.status_code == 200, (link, response.text[:300])
        assert "attachment" in response.headers["Content-Disposition"]
    ledger = requests.get(
        browser.find("#link-ledger-csv").get_attribute("href"), cookies=cookies, timeout=30
    )
    assert case_no in ledger.content.decode("utf-8-sig")

    # FCJ's absence costs it points; the supervisor withdraws them with a reason
    browser.login("supervisor")
    label = f"第 {meeting_id} 号联席会议"
    reload_until(browser, "/departments/scores", "#scores", label)
    item = next(d for d in browser.find_all(".deduction") if label in d.text)
    deduction = item.get_attribute("id")
    browser.submit(f"#{deduction} button[type='submit']")
    assert browser.text(f"#{deduction} .field-error")  # a withdrawal needs its reason
    browser.fill({"reason": "经核实，该局已提前书面请假"}, within=f"#{deduction}")
    browser.submit(f"#{deduction} button[type='submit']")
    assert "已撤销" in browser.text("#action-notice")
    assert "经核实，该局已提前书面请假" in browser.text(f"#{deduction}")


def test_cannot_is_explained_with_its_basis_and_listed_among_the_refusals(browser):
    case_no = register_by_api("申请人缺少住所使用证明，无法办理企业开办")
    browser.login("officer")
    classify_in_browser(browser, case_no, "cannot", "缺少法定关键材料")
    assert not browser.find_all("#action-resolve")  # a `cannot` is explained first

    # a material without where to get it: the error sits by that row, the rest stays
    browser.fill(
        {
            "legal_basis": "《中华人民共和国市场主体登记管理条例》第十六条",
            "explanation": "住所使用证明为法定申请材料，缺少则依法不能办理",
            "missing_key_materials[0].name": "住所使用证明",
        },
        within="#action-explain",
    )
    browser.submit("#action-explain button[type='submit']")
    assert browser.text("#ex-material-0 .field-error")
    assert browser.find("#ex-basis").get_attribute("value").startswith("《中华人民共和国")
    browser.fill(
        {"missing_key_materials[0].how_to_obtain": "到所在街道或房产管理部门开具"},
        within="#action-explain",
    )
    browser.submit("#action-explain button[type='submit']")
    assert "说明依据并解释：已完成" in browser.text("#action-notice")
    explanation = browser.text("#flow-explanation")
    assert "第十六条" in explanation and "到所在街道或房产管理部门开具" in explanation

    assert "办结：已完成" in act(
        browser, "resolve", {"outcome": "explained", "summary": "已解释并告知取得途径"}
    )
    assert "已办结" in browser.text("#flow-state")

    browser.login("bureau")
    browser.open("/refusals")
    row = browser.find(f"#refusals tr[data-case-no='{case_no}']")
    assert "第十六条" in row.text and "住所使用证明" in row.text
    browser.open(f"/cases/{case_no}")
    assert not browser.find_all(".action")  # the bureau acts on `pending` cases only


def test_hard_takes_a_measure_records_each_response_resolves_and_becomes_a_practice(browser):
    case_no = register_by_api("经营场所产权证明一时无法提供", matter="M001")
    browser.login("officer")
    classify_in_browser(browser, case_no, "hard", "材料暂缺，可容缺办理")

    browser.tick("#action-measure input[name='departments'][value='FCJ']")
    assert "协调措施：已完成" in act(
        browser, "measure", {"measure": "commitment", "details": "申请人书面承诺后先行办理"}
    )
    measures = browser.text("#measures")
    assert "告知承诺" in measures and "待答复" in measures

    # a response without yes/no: the error by that choice, the typed response stays
    browser.fill(
        {"department": "SCJ", "response": "同意以承诺书代替产权证明"},
        within="#action-measure-response",
    )
    browser.submit("#action-measure-response button[type='submit']")
    assert "是否已落实" in browser.text("#action-measure-response .field-error")
    assert browser.find("#mr-response").get_attribute("value") == "同意以承诺书代替产权证明"
    assert "记录部门答复：已完成" in act(browser, "measure-response", {"delivered": "yes"})
    assert "同意以承诺书代替产权证明" in browser.text("#measures")

    measure_id = browser.find("#mr-measure option").get_attribute("value")
    browser.tick(f"#action-resolve input[name='worked_measures'][value='{measure_id}']")
    assert "办结：已完成" in act(
        browser, "resolve", {"outcome": "done", "summary": "以告知承诺制办成企业开办"}
    )
    assert "办成" in browser.text("#flow-resolution")

    title = f"告知承诺代替住所产权证明（{case_no}）"
    assert "推广为常态化做法：已完成" in act(browser, "promote", {"title": title})
    browser.open("/practices?matter=M001")
    assert title in browser.text("main")

    # window staff see it on the registration form as soon as they choose the matter
    browser.login("hall.staff")
    browser.open("/cases/new")
    browser.fill({"window": "W01", "matter": "M001"})
    browser.wait_for("#matter-practices", title)
    browser.shot("registration-with-practices")
