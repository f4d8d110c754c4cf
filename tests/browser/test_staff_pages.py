"""Each demo role in a real browser: log in, see its pages, do its part of a case's path."""

import pytest
import requests
from stdnum.cn import ric

from tests.browser.conftest import BASE_URL
from tests.system import API, login

pytestmark = pytest.mark.e2e


def valid_id(base17: str = "32010219800101123") -> str:
    return base17 + ric.calc_check_digit(base17 + "0")


def register_in_browser(browser, **fields) -> str:
    """Fill the registration form as window staff do; return the new case number."""
    browser.open("/cases/new")
    browser.fill(
        {
            "window": "W01",
            "matter": "M001",
            "applicant.name": "李四",
            "applicant.id_number": valid_id(),
            "applicant.phone": "13912345678",
            "description": "住所使用证明不被认可，企业开办未能办成",
            "materials_presented": "公司章程\n法定代表人身份证",
            "materials_missing": "住所使用证明",
            **fields,
        }
    )
    browser.submit()
    assert "登记成功" in browser.text("#registered-notice")
    return browser.text("#case-no")


def test_pages_need_a_login_and_a_bad_password_stays_on_the_form(browser):
    browser.open("/cases")
    assert browser.driver.current_url.startswith(f"{BASE_URL}/login?next=/cases")
    browser.fill({"username": "hall.staff", "password": "wrong"})
    browser.submit()
    assert "用户名或密码不正确" in browser.text(".field-error")
    assert browser.find("[name='username']").get_attribute("value") == "hall.staff"
    browser.fill({"password": "demo"})
    browser.submit()
    assert browser.driver.current_url == f"{BASE_URL}/cases"
    cookie = browser.driver.get_cookie("bancheng_token")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"


def test_window_staff_register_print_and_find_their_case(browser):
    browser.login("hall.staff")
    assert "王雅婷" in browser.text(".topbar")
    menu = browser.text("nav.menu")
    assert "登记事项" in menu and "我首接的事项" in menu

    # bad input: the values stay and the service's message sits next to the field
    browser.open("/cases/new")
    browser.fill(
        {
            "window": "W01",
            "matter": "M001",
            "applicant.name": "李四",
            "applicant.id_number": "320102198001011230",
            "description": "住所使用证明不被认可",
        }
    )
    browser.submit()
    assert "身份证" in browser.text("#error-applicant-id_number")
    assert browser.find("[name='applicant.name']").get_attribute("value") == "李四"
    assert browser.find("[name='description']").get_attribute("value") == "住所使用证明不被认可"
    assert browser.find("[name='matter']").get_attribute("value") == "M001"

    case_no = register_in_browser(browser)
    assert case_no.endswith("-HALL")
    assert "王雅婷" in browser.text("#first-receiver")
    assert "*" in browser.text(".facts") and valid_id() not in browser.text("body")
    timeline = browser.text("#timeline")
    assert "事项已登记" in timeline

    browser.open(f"/cases/{case_no}/print")
    sheet = browser.text("#registration-sheet")
    assert "事项登记表" in sheet and case_no in sheet and "住所使用证明" in sheet
    assert "首接负责人签字" in sheet
    # printed, the sheet stands alone: no menu, no buttons
    browser.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    assert not browser.find("nav.menu").is_displayed()
    assert not browser.find("main .no-print").is_displayed()
    assert browser.find("#registration-sheet").is_displayed()
    browser.shot("print-media")
    browser.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})

    browser.open("/cases/mine")
    assert case_no in browser.text("table.cases")
    browser.open("/cases")
    assert case_no in browser.text("table.cases")


def test_street_staff_get_a_chinese_403_for_another_sites_case(browser, system):  # noqa: F811
    browser.login("hall.staff")
    case_no = register_in_browser(browser)

    browser.login("xjk.staff")
    browser.open(f"/cases/{case_no}")
    assert "无权访问" in browser.text("h1")
    assert "本场所" in browser.text("#error-message")
    browser.open("/cases")
    assert case_no not in browser.text("main")
    # the same answer without a browser: the page's status is 403
    token = browser.driver.get_cookie("bancheng_token")["value"]
    response = requests.get(
        f"{BASE_URL}/cases/{case_no}", cookies={"bancheng_token": token}, timeout=10
    )
    assert response.status_code == 403 and "无权访问" in response.text


@pytest.mark.parametrize("username", ["officer", "bureau", "supervisor", "operator"])
def test_every_district_role_has_a_home_and_sees_all_sites(browser, username):
    browser.login(username)
    assert browser.driver.current_url == f"{BASE_URL}/"
    assert "您好" in browser.text("h1")
    browser.open("/cases")
    assert browser.find("select[name='site']")


def test_a_real_name_bad_rating_gets_its_return_visit_on_the_case_page(browser):
    rating = {
        "channel": "rating",
        "site": "HALL",
        "window": "W02",
        "matter": "M001",
        "level": 1,
        "text": "窗口人员态度冷淡",
        "applicant": {"kind": "person", "name": "钱七", "phone": "13700001111"},
    }
    response = requests.post(f"{API}/feedback", json=rating, headers=login("officer"), timeout=10)
    assert response.status_code == 201, response.text
    case_no = response.json()["case_no"]

    browser.login("hall.staff")
    browser.open(f"/cases/{case_no}")
    assert "结案前须回访" in browser.text("#return-visit-required")
    # no answer chosen: the notes stay, the error sits by the choice
    browser.fill({"notes": "已电话回访，申请人表示理解"})
    browser.submit("#action-return-visit button[type='submit']")
    assert "满意" in browser.text("#action-return-visit .field-error")
    assert browser.find("#rv-notes").get_attribute("value") == "已电话回访，申请人表示理解"

    browser.fill({"satisfied": "yes"})
    browser.submit("#action-return-visit button[type='submit']")
    assert "记录回访：已完成" in browser.text("#action-notice")
    assert "已电话回访" in browser.text("#return-visits")
    assert "已回访：满意" in browser.text("#timeline")


@pytest.mark.parametrize(
    ("username", "path"),
    [
        ("hall.staff", "/queue"),
        ("hall.staff", "/meetings"),
        ("hall.staff", "/appeals"),
        ("hall.staff", "/departments/scores"),
        ("supervisor", "/queue"),
        ("officer", "/appeals"),
    ],
)
def test_a_page_a_role_may_not_see_answers_403(browser, username, path):
    browser.login(username)
    token = browser.driver.get_cookie("bancheng_token")["value"]
    response = requests.get(f"{BASE_URL}{path}", cookies={"bancheng_token": token}, timeout=10)
    assert response.status_code == 403 and "无权访问" in response.text
    assert path not in dict(
        (a.get_attribute("href").removeprefix(BASE_URL), a.text)
        for a in browser.find_all("nav.menu a")
    )


def test_window_staff_see_the_library_the_refusals_and_the_reports_of_their_site(browser):
    browser.login("hall.staff")
    browser.open("/practices")
    assert "常态化做法库" in browser.text("h1") and not browser.find_all("#promote")
    browser.open("/refusals")
    assert not browser.find_all("select[name='site']")  # their own site only
    browser.open("/reports?month=2026-11")
    assert "site=HALL" in browser.find("#link-monthly-csv").get_attribute("href")
