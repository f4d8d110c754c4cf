"""An Open311 request in the staff pages (real Chromium): a 12345 platform files it, the
officer finds it in the case list by its channel and opens it; the page names the integrating
system, the address and the materials, and the staff can classify it as any case."""

import pytest

from tests.e2e.test_open311 import file_request

pytestmark = pytest.mark.e2e


def test_an_open311_request_is_a_case_the_officer_finds_and_works(browser):
    answer = file_request(address_string="南京市玄武区长江路292号")
    assert answer.status == 201, answer.body
    case_no = answer.data[0]["service_request_id"]

    browser.login("officer")
    browser.open("/cases")
    listed = browser.text("main")
    assert case_no in listed and "12345/Open311 接入" in listed
    browser.shot("case-list-with-open311-case")

    browser.open(f"/cases/{case_no}")
    page = browser.text("main")
    assert browser.text("#open311-system") == "12345 演示平台"
    assert browser.text("#open311-address") == "南京市玄武区长江路292号"
    assert "住所使用证明" in page and "公司章程" in page
    browser.shot("open311-case-page")
