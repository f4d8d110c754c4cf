"""Precedents in the browser: typing a description on the registration form shows the archived
cases like it (the page's script asks /api/v1/precedents as the text is typed), and the new
case's page lists them as rendered by the server."""

import pytest

from tests.e2e.test_precedents import archive, register, wait_for_precedents

pytestmark = pytest.mark.e2e

DESCRIPTION = "房东出国无法到场签字，租赁合同登记备案未能办成"
SUMMARY = "已告知房东可在使领馆办理委托公证后由代理人办理备案"


def test_typing_a_description_shows_similar_archived_cases(browser):
    earlier = register("hall.staff", DESCRIPTION)
    archive(earlier, summary=SUMMARY)
    wait_for_precedents("hall.staff", {earlier}, matter="M005", text="房东出国无法到场签字")

    browser.login("hall.staff")
    browser.open("/cases/new")
    assert not browser.find("#precedent-hints").is_displayed()  # nothing typed yet
    browser.fill({"window": "W01", "matter": "M005"})
    browser.fill({"description": "房东出国无法到场"})
    browser.wait_for("#precedent-hints", SUMMARY)
    hints = browser.text("#precedent-hints")
    assert earlier in hints and "同一事项" in hints and "不能办" in hints
    assert "相似度" in hints and "已解释说明" in hints
    browser.shot("registration-with-precedent-hints")

    # registered, the case's own page lists the same precedent (no script needed there)
    browser.fill(
        {
            "department": "FCJ",
            "applicant.name": "赵六",
            "applicant.id_number": "11010519491231002X",
            "applicant.phone": "13912345678",
            "first_receiver": "S0001",
        }
    )
    browser.submit()
    assert "登记成功" in browser.text("#registered-notice")
    similar = browser.text("#similar-cases")
    assert earlier in similar and SUMMARY in similar
    browser.shot("case-with-similar-cases")
