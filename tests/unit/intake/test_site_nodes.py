"""Site nodes (docs/network.md): one numbering node per site, the sealed copy a site node sends
to the district, and the district's intake storing it once."""

import pytest

from services.common import signing
from services.common.errors import InvalidField
from services.intake import domain, handlers
from tests.unit.fakes import FakeUnitOfWork
from tests.unit.intake.fakes import FakeCaseNumbers, FakeIntakeStore, registrar
from tests.unit.intake.test_handlers import HALL_STAFF, OFFICER, XJK_STAFF, form, rating

KEY = b"unit-test-assertion-key-for-sealing"
SEAL = {"seal": lambda value: signing.seal(KEY, value), "unseal": lambda t: signing.unseal(KEY, t)}
XJK_FORM = {"site": "XJK", "window": "W01", "matter": "M002", "first_receiver": "S0002"}


class Node:
    def __init__(self, **site_mode):
        self.uow = FakeUnitOfWork(None)
        self.store = FakeIntakeStore(outbox=lambda: self.uow.committed)
        self.uow.store = self.store
        self.numbers = FakeCaseNumbers()
        self.registrar = registrar(self.numbers, **SEAL, **site_mode)

    def register(self, payload, actor=OFFICER, key=None):
        return handlers.register_case(self.uow, self.registrar, payload, actor, key)


def test_the_site_nodes_setting_names_each_site_and_its_front_door():
    assert domain.site_nodes("XJK=http://127.0.0.1:8001, my=http://127.0.0.1:8002") == {
        "XJK": "http://127.0.0.1:8001",
        "MY": "http://127.0.0.1:8002",
    }
    assert domain.site_nodes(None) == {} and domain.site_nodes("") == {}


def test_the_district_refuses_a_case_at_a_site_that_runs_its_own_node():
    district = Node(site_nodes={"XJK": "http://127.0.0.1:8001"})
    with pytest.raises(InvalidField) as refusal:
        district.register(form(**XJK_FORM), actor=XJK_STAFF)
    assert refusal.value.field == "site"
    assert "站点节点" in refusal.value.message and "http://127.0.0.1:8001" in refusal.value.message
    assert district.store.cases == {} and district.numbers.last == {}
    assert district.register(form())["case_no"] == "XW-20260930-00001-HALL"  # others as before


def test_a_site_node_registers_only_its_own_site():
    site = Node(site_node="XJK")
    with pytest.raises(InvalidField) as refusal:
        site.register(form(), actor=HALL_STAFF)
    assert refusal.value.field == "site" and "XJK" in refusal.value.message
    assert site.register(form(**XJK_FORM), actor=XJK_STAFF)["case_no"] == "XW-20260930-00001-XJK"


def test_a_district_batch_rejects_the_rows_that_would_open_a_case_at_a_site_node():
    district = Node(site_nodes={"XJK": ""})
    rows = [rating(level=1, site="XJK", window="W01", matter="M002"), rating(level=1)]
    result = district.batch_result = handlers.submit_ratings_batch(
        district.uow, district.registrar, {"ratings": rows}, OFFICER, None
    )
    assert [(r["index"], r["field"]) for r in result["rejected"]] == [(0, "site")]
    assert [c["case_no"] for c in result["cases_opened"]] == ["XW-20260930-00001-HALL"]


def test_a_site_nodes_case_reaches_the_districts_intake_once_with_its_numbers_unclashed():
    site = Node(site_node="XJK")
    district = Node(site_nodes={"XJK": ""})
    case = site.register(form(**XJK_FORM), actor=XJK_STAFF, key="client-key-1")
    [shipped] = site.uow.events("site_case_recorded")
    assert shipped.case_no == case["case_no"] and shipped.data["site"] == "XJK"
    # sealed: no name in clear on the link, and it opens only with the services' key
    assert "张三" not in shipped.data["copy"]
    with pytest.raises(signing.InvalidSeal):
        signing.unseal(b"another-deployment-key-000000000", shipped.data["copy"])

    event = {"id": "e-1", "type": "site_case_recorded", "data": shipped.data}
    assert handlers.record_site_case(district.uow, district.registrar, event) is True
    assert handlers.record_site_case(district.uow, district.registrar, event) is False  # again
    again = {**event, "id": "e-2"}  # a copy published twice (a relay retry): still one case
    assert handlers.record_site_case(district.uow, district.registrar, again) is False
    stored = district.store.cases[case["case_no"]]
    assert stored["applicant_name"] == "张三" and stored["site"] == "XJK"
    assert stored["idempotency_key"] is None  # the site's clients' keys stay at the site
    # the district's own HALL numbering is untouched by the site's
    assert district.register(form())["case_no"] == "XW-20260930-00001-HALL"


def test_a_site_node_ignores_its_own_copies():
    site = Node(site_node="XJK")
    site.register(form(**XJK_FORM), actor=XJK_STAFF)
    [shipped] = site.uow.events("site_case_recorded")
    event = {"id": "e-1", "type": "site_case_recorded", "data": shipped.data}
    assert handlers.record_site_case(site.uow, site.registrar, event) is False


def test_news_of_a_site_nodes_case_waits_for_its_copy_at_the_district():
    site = Node(site_node="XJK")
    district = Node(site_nodes={"XJK": ""})
    case = site.register(form(**XJK_FORM), actor=XJK_STAFF)
    classified = {
        "id": "c-1",
        "type": "case_classified",
        "occurred_at": "2026-09-30T10:05:00+08:00",
        "data": {"case_no": case["case_no"], "type": "hard", "complex": False},
    }
    # the copy is on its way (another queue): refused, so that the broker delivers it again
    with pytest.raises(domain.CaseNotCopiedYet):
        handlers.follow_coordination(district.uow, classified, district.registrar.site_nodes)
    [shipped] = site.uow.events("site_case_recorded")
    copied = {"id": "e-1", "type": "site_case_recorded", "data": shipped.data}
    handlers.record_site_case(district.uow, district.registrar, copied)
    assert handlers.follow_coordination(district.uow, classified, district.registrar.site_nodes)
    assert district.store.cases[case["case_no"]]["type"] == "hard"
    # a district case, or news at a site node of another site's case, is applied as before
    other = {**classified, "id": "c-2", "data": {**classified["data"], "case_no": "XW-1-1-HALL"}}
    assert handlers.follow_coordination(site.uow, other, site.registrar.site_nodes) is True
