"""The pages a director reads, in real Chromium: the monthly summary with its 12-month trend
chart (and the table of the same numbers), shares as percentages and nothing but Chinese words;
the 否定答复 page, where the approval bureau sends an answer back through its form, and the
month's report, which prints.

The monthly page's month (2033-03) and the two before it belong to this module: its cases and
ratings are published as the services would, so the page shows known numbers.
"""

import base64
import re
import time
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.browser.conftest import ARTIFACTS
from tests.e2e.test_reporting_exports import publish
from tests.e2e.test_scoping import post, register
from tests.system import API, login

pytestmark = pytest.mark.e2e
RUN = uuid.uuid4().hex[:6].upper()
MONTH = "2033-03"
# what the summary JSON calls its figures: none may reach the page a director reads
SUMMARY_KEYS = (
    "complex_cases",
    "complex_solved",
    "on_time_rate",
    "satisfied_share",
    "median_working_days",
    "p90_working_days",
    "top_windows",
    "top_matters",
    "by_type",
    "unclassified",
)


def case(n: int, month: str, day: int) -> dict:
    return {
        "case_no": f"XW-D{RUN}-{n:03d}",
        "site": "HALL",
        "window": "W02",
        "matter": "M001",
        "department": "SCJ",
        "channel": "window",
        "applicant_kind": "enterprise",
        "id_number_masked": None,
        "first_receiver": "S0001",
        "received_at": f"{month}-{day:02d}T09:00:00+08:00",
    }


@pytest.fixture(scope="module")
def director_month(system, service_config):
    """Eight cases in March 2033 (one replied late, three on time), two in January; ratings
    of March: 7 satisfied of 8."""
    for n in range(1, 9):
        publish(service_config, "intake", "case_registered", case(n, MONTH, n))
    for n in (9, 10):
        publish(service_config, "intake", "case_registered", case(n, "2033-01", n))
    for n, on_time in ((1, True), (2, True), (3, True), (4, False)):
        publish(service_config, "coordination", "case_classified", {
            "case_no": f"XW-D{RUN}-{n:03d}", "type": "hard", "complex": n == 1,
            "reason": "缺少非关键材料", "actor": "S0004", "at": f"{MONTH}-{n:02d}T10:00:00+08:00",
        })  # fmt: skip
        publish(service_config, "coordination", "case_replied", {
            "case_no": f"XW-D{RUN}-{n:03d}", "replied_at": f"{MONTH}-20T10:00:00+08:00",
            "due_at": f"{MONTH}-21T18:00:00+08:00", "on_time": on_time, "working_days_taken": 2,
        })  # fmt: skip
    counts = [
        {"day": f"{MONTH}-05", "site": "HALL", "window": "W02", "matter": "M001",
         "staff": "S0001", "level": level, "n": n}
        for level, n in ((5, 4), (4, 3), (2, 1))
    ]  # fmt: skip
    publish(
        service_config,
        "intake",
        "ratings_received",
        {"batch_id": None, "n": 8, "bad": 1, "counts": counts},
    )
    headers, deadline = login("officer"), time.monotonic() + 30
    while True:
        summary = requests.get(
            f"{API}/reports/monthly", params={"month": MONTH}, headers=headers, timeout=10
        ).json()
        if (
            summary["totals"]["cases"] >= 8
            and summary["replies"]["total"] >= 4
            and summary["satisfaction"]["total"] >= 8
        ):
            return summary
        assert time.monotonic() < deadline, f"reporting did not count {MONTH}: {summary}"
        time.sleep(0.3)


def visible_words(browser) -> list[str]:
    """Runs of ASCII letters in the page's visible text (a code or a key a person would see)."""
    return re.findall(r"[A-Za-z_]{2,}", browser.text("body"))


def test_the_monthly_page_shows_the_trend_chart_in_chinese_with_percentages(
    browser, director_month
):
    browser.login("supervisor")
    browser.open(f"/reports/monthly?month={MONTH}")
    chart = browser.find("#trend-chart")
    assert chart.tag_name == "svg" and chart.is_displayed()
    assert chart.size["width"] > 600 and chart.size["height"] > 250
    bars = browser.find_all("#trend-chart rect.bar")
    assert len(bars) == 12
    # the busiest month (March, the last) reaches highest; an empty month has no bar
    heights = [float(bar.get_attribute("height")) for bar in bars]
    assert heights[-1] == max(heights) > 0 and heights[-2] == 0 and heights[-3] > 0
    assert browser.find_all("#trend-chart polyline.line-on-time") or browser.find_all(
        "#trend-chart circle"
    )
    rows = browser.find_all("#trend-table tr")
    assert len(rows) == 13  # the heading and 12 months
    march = [cell.text for cell in rows[-1].find_elements("css selector", "th, td")]
    assert march[0] == MONTH and int(march[1]) == director_month["totals"]["cases"]
    rate = director_month["replies"]["on_time_rate"]
    assert march[3] == f"{rate * 100:.1f} %"  # 3 of 4 on time if no other test wrote March
    assert re.fullmatch(r"\d+\.\d %", march[5])

    text = browser.text("body")
    for words in ("近12个月趋势", "按时答复率", "满意率", "与上月", "窗口排行", "企业开办窗口"):
        assert words in text, words
    assert re.search(r"按时答复率\s*\d+\.\d %", text)
    assert visible_words(browser) == [], "every label in Chinese"
    html = browser.driver.page_source
    for key in SUMMARY_KEYS:
        assert key not in html, key
    assert not re.search(r"<td>0\.\d+</td>", html), "shares are shown as percentages"
    browser.shot("monthly-trend")


def explained_case() -> str:
    case_no = register("hall.staff")
    officer = login("officer")
    assert (
        post(
            f"/cases/{case_no}/classify", officer, {"type": "cannot", "reason": "缺少关键材料"}
        ).status_code
        == 200
    )
    explanation = {
        "legal_basis": "《市场主体登记管理条例》第十六条",
        "explanation": "住所使用证明为关键材料",
        "missing_key_materials": [{"name": "住所使用证明", "how_to_obtain": "向产权人索取"}],
    }
    assert post(f"/cases/{case_no}/explain", officer, explanation).status_code == 200
    return case_no


def test_the_bureau_sends_an_answer_back_on_the_refusals_page_and_the_report_prints(browser):
    case_no = explained_case()
    browser.login("bureau")
    browser.open("/refusals")
    row = f"#refusal-{case_no}"
    browser.find(f"{row} input[value='sent_back']").click()
    browser.fill({"reason": ""}, within=row)
    browser.submit(f"{row} .review-form button[type='submit']")
    assert "退回理由" in browser.text(f"{row} .field-error")  # refused: the reason is required
    browser.find(f"{row} input[value='sent_back']").click()
    browser.fill({"reason": "依据条款引用有误"}, within=row)
    browser.submit(f"{row} .review-form button[type='submit']")
    assert "已退回" in browser.text("#review-done")
    assert "退回重新说明" in browser.text(f"{row} .review") and "依据条款引用有误" in browser.text(
        row
    )

    month = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    browser.open(f"/refusals/report?month={month}")
    assert "否定答复" in browser.text("h1")
    total = int(browser.text("#refusal-total"))
    by_department = browser.find_all("#refusal-table-1 tbody tr")
    counts = [int(r.find_elements("css selector", "td")[1].text) for r in by_department[:-1]]
    assert by_department[-1].find_elements("css selector", "td")[0].text == "合计"
    assert (
        sum(counts) == total == int(by_department[-1].find_elements("css selector", "td")[1].text)
    )
    assert case_no in browser.text("#refusal-table-3")
    assert browser.find("#print-report").is_displayed()

    browser.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    assert (
        not browser.find("nav.menu").is_displayed()
        and not browser.find("#print-report").is_displayed()
    )
    assert browser.find("#refusal-table-3").is_displayed()
    browser.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    pdf = base64.b64decode(
        browser.driver.execute_cdp_cmd("Page.printToPDF", {"printBackground": False})["data"]
    )
    assert pdf.startswith(b"%PDF") and len(pdf) > 5000
    (ARTIFACTS / "test_refusal_report_printed.pdf").write_bytes(pdf)
