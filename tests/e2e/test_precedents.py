"""End to end: precedents at registration (issue 15, item 4) on the running system.

Cases of the lease filing matter (M005) are registered at the hall and at a street centre,
answered, resolved and archived, one of them promoting a standard practice; then a new case's
``similar_cases`` and ``GET /api/v1/precedents`` show them — how each ended and the practice
it produced, the same matter first, another site's case to window staff by its knowledge only,
no applicant's name, ID number or phone, no unfinished case and never the case itself.
"""

import time

import pytest
import requests

from tests.e2e.test_walking_skeleton import registration
from tests.system import API, login

pytestmark = pytest.mark.e2e

LEASE = {"matter": "M005", "department": "FCJ"}
XJK = {"site": "XJK", "window": "W01", "first_receiver": "S0002"}
SUMMARY = "已告知可凭经公证的授权委托书代为办理租赁备案"
PRACTICE = "房东委托书公证后代办租赁备案"
QUERY = "房东在外地无法到场办理租赁备案"


def post(path, token, body=None):
    return requests.post(f"{API}{path}", json=body or {}, headers=token, timeout=10)


def get(path, token, **params):
    return requests.get(f"{API}{path}", params=params, headers=token, timeout=10)


def act(path, token, body=None, status=200) -> dict:
    response = post(path, token, body)
    assert response.status_code == status, response.text
    return response.json()


def register(user: str, description: str, **overrides) -> str:
    body = registration(**{**LEASE, **overrides, "description": description})
    response = post("/cases", login(user), body)
    assert response.status_code == 201, response.text
    case_no = response.json()["case_no"]
    officer, started = login("officer"), time.monotonic()
    while get(f"/cases/{case_no}/coordination", officer).status_code != 200:
        assert time.monotonic() - started < 10, "coordination never opened the case"
        time.sleep(0.05)
    return case_no


def archive(case_no: str, summary: str = SUMMARY) -> None:
    """The `cannot` flow to its end: classified, explained, answered, resolved, archived."""
    officer = login("officer")
    act(f"/cases/{case_no}/classify", officer, {"type": "cannot", "reason": "缺少关键材料"})
    explanation = {
        "legal_basis": "《商品房屋租赁管理办法》第十四条",
        "explanation": "出租人身份证明须由出租人本人提供或委托办理",
        "missing_key_materials": [{"name": "出租人身份证", "how_to_obtain": "出租人公证委托"}],
    }
    act(f"/cases/{case_no}/explain", officer, explanation)
    act(f"/cases/{case_no}/reply", officer, {"summary": "已告知申请人办理途径"})
    act(f"/cases/{case_no}/resolve", officer, {"outcome": "explained", "summary": summary})
    act(f"/cases/{case_no}/close", officer, {"reason": "申请人已知悉"})
    assert act(f"/cases/{case_no}/archive", officer)["state"] == "archived"


def precedents_of(user: str, **params) -> list[dict]:
    response = get("/precedents", login(user), **params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def wait_for_precedents(user: str, wanted: set, **params) -> list[dict]:
    """Reporting learns of each step from events: poll until every wanted case is shown."""
    started = time.monotonic()
    while True:
        items = precedents_of(user, **params)
        if wanted <= {item["case_no"] for item in items}:
            return items
        assert time.monotonic() - started < 15, f"precedents never showed {wanted}: {items}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def archived(system):
    """A hall case with a practice, a street centre's case, one of another matter and an
    unfinished one, all alike."""
    hall = register("hall.staff", "房东在外地无法到场，申请人王五电话13900001111，租赁备案未能办成")
    archive(hall)
    practice = {
        "case_no": hall,
        "matter": "M005",
        "windows": ["HALL/W01"],
        "title": PRACTICE,
        "description": "房东无法到场时，凭经公证的授权委托书由代理人办理租赁备案",
    }
    act("/practices", login("officer"), practice, status=201)
    street = register("xjk.staff", "房东在外地无法到场办理租赁备案，只带了房产证复印件", **XJK)
    archive(street, summary="凭公证委托书由代理人办结")
    other = register(
        "hall.staff",
        "房东在外地无法到场办理租赁备案",
        matter="M001",
        department="SCJ",
    )
    archive(other, summary="住所证明另行办理")
    unfinished = register("hall.staff", "房东在外地无法到场，租赁备案没有办成")
    wait_for_precedents("officer", {hall, street, other}, matter="M005", text=QUERY, limit=20)
    return {"hall": hall, "street": street, "other": other, "unfinished": unfinished}


def test_precedents_show_how_each_ended_the_practice_and_the_same_matter_first(archived):
    items = precedents_of("officer", matter="M005", text=QUERY, limit=20)
    numbers = [item["case_no"] for item in items]
    ours = [n for n in numbers if n in archived.values()]
    # the other matter's description is the query itself, yet both lease cases come first
    assert ours.index(archived["other"]) > max(
        ours.index(archived["hall"]), ours.index(archived["street"])
    )
    assert archived["unfinished"] not in numbers  # not resolved: no precedent yet
    hall = next(item for item in items if item["case_no"] == archived["hall"])
    assert (hall["type"], hall["type_name"]) == ("cannot", "不能办")
    assert (hall["outcome"], hall["outcome_name"]) == ("explained", "已解释说明")
    assert hall["summary"] == SUMMARY and hall["practice"] == PRACTICE
    assert hall["same_matter"] is True and 0 < hall["similarity"] <= 1
    # the applicant's name and phone typed in the description never left intake
    assert "王五" not in hall["description"] and "13900001111" not in hall["description"]
    assert "申请人" in hall["description"]
    other = next(item for item in items if item["case_no"] == archived["other"])
    assert other["same_matter"] is False


def test_window_staff_see_another_sites_case_by_its_knowledge_only(archived):
    items = precedents_of("hall.staff", matter="M005", text=QUERY, limit=20)
    numbers = [item["case_no"] for item in items]
    assert archived["hall"] in numbers and archived["street"] not in numbers
    street = [item for item in items if item["summary"] == "凭公证委托书由代理人办结"]
    assert street and all(item["case_no"] is None and item["site"] is None for item in street)
    assert street[0]["outcome_name"] == "已解释说明" and street[0]["description"]
    # and the street centre sees the hall's case the same way
    theirs = precedents_of("xjk.staff", matter="M005", text=QUERY, limit=20)
    assert archived["street"] in [item["case_no"] for item in theirs]
    assert archived["hall"] not in [item["case_no"] for item in theirs]
    assert any(item["practice"] == PRACTICE and item["case_no"] is None for item in theirs)


def test_a_new_case_shows_its_precedents_and_never_itself(archived):
    new = register("hall.staff", "房东在外地无法到场办理租赁备案，带了委托书")
    detail = get(f"/cases/{new}", login("hall.staff"))
    assert detail.status_code == 200, detail.text
    similar = detail.json()["similar_cases"]
    numbers = [item["case_no"] for item in similar]
    assert new not in numbers
    assert archived["hall"] in numbers
    assert set(similar[0]) >= {"case_no", "similarity", "type", "outcome", "summary", "practice"}
    # the case page lists them too, without any script
    page = requests.get(
        f"{API.removesuffix('/api/v1')}/cases/{new}",
        cookies={"bancheng_token": login("hall.staff")["Authorization"].split()[1]},
        timeout=10,
    )
    assert page.status_code == 200 and 'id="similar-cases"' in page.text
    assert archived["hall"] in page.text and SUMMARY in page.text


def test_who_may_ask_and_what_is_refused(archived):
    assert precedents_of("hall.staff", matter="M005", text="房") == []  # too short to compare
    for user in ("operator", "hr"):
        assert get("/precedents", login(user), text=QUERY).status_code == 403
    too_long = get("/precedents", login("officer"), text="a" * 2001)
    assert too_long.status_code == 422 and too_long.json()["error"]["field"] == "text"
    assert requests.get(f"{API}/precedents", params={"text": QUERY}, timeout=10).status_code == 401
