"""A site node's front door (services.gateway.site_mode): district services refused at once
with a 503 that names the district's front door; the case view from intake's copy."""

import pytest

from services.common.errors import ServiceUnavailable
from services.gateway import case_view, site_mode

SITE = {"BANCHENG": {"SITE_NODE": "xjk", "DISTRICT_FRONT_DOOR": "http://127.0.0.1:8000"}}
DISTRICT = {"BANCHENG": {"SITE_NODE": None}}


def test_a_site_node_is_named_by_its_setting():
    assert site_mode.site_node(SITE) == "XJK"
    assert site_mode.site_node(DISTRICT) is None and site_mode.site_node({}) is None
    assert site_mode.services_behind(SITE) == ("intake",)
    assert site_mode.services_behind(DISTRICT) == (
        "intake",
        "coordination",
        "accountability",
        "reporting",
    )


def test_a_district_service_on_a_site_node_refuses_every_call_with_a_503():
    proxy = site_mode._Refusing("coordination", "XJK", SITE)
    for call in (lambda: proxy.classify_case("c", {}, {}), lambda: proxy.ping.call_async()):
        with pytest.raises(ServiceUnavailable) as refusal:
            call()
        assert refusal.value.status == 503 and refusal.value.code == "district_only"
        assert "站点节点（XJK）" in refusal.value.message
        assert "协调" in refusal.value.message and "http://127.0.0.1:8000" in refusal.value.message


class SiteGateway:
    config = SITE

    class intake:  # noqa: N801 - stands for the RPC proxy
        @staticmethod
        def get_case(case_no, user):
            return {"case_no": case_no, "status": "classified", "type": "hard", "overdue": True}

        @staticmethod
        def case_timeline(case_no):
            return [{"service": "intake", "kind": "registered"}]

    coordination = site_mode._Refusing("coordination", "XJK", SITE)
    accountability = site_mode._Refusing("accountability", "XJK", SITE)
    reporting = site_mode._Refusing("reporting", "XJK", SITE)


def test_the_case_view_of_a_site_node_is_intakes_copy_labelled_last_synced():
    detail = case_view.case_detail(SiteGateway(), "XW-20261202-00001-XJK", {"id": "S0002"})
    assert detail["deadlines"] == [] and [e["kind"] for e in detail["timeline"]] == ["registered"]
    synced = detail["last_synced"]
    assert (synced["status"], synced["type"], synced["overdue"]) == ("classified", "hard", True)
    assert synced["label"].startswith("最后同步")
    page = case_view.case_page(SiteGateway(), "XW-20261202-00001-XJK", {"id": "S0002"})
    assert page["flow"] is None and page["last_synced"] == synced
