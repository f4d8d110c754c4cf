"""The network drills' place in ``make drill`` (tools.drill_network): their system, their load
(the site's own registrations) and the catch-up time in the report."""

import random

from tools import drill, drill_cluster, drill_network, load
from tools.drill_report import DrillReport


def test_the_network_drills_run_on_the_network_system_and_the_others_where_they_did(tmp_path):
    plan = drill.full_plan([])
    names = [d.name for d in plan]
    assert "site-link-cut" in names and "district-front-door-down" in names
    systems = {
        cls: [d.name for d in drills] for cls, drills, _ in drill.systems_for(plan, tmp_path)
    }
    assert systems[drill_network.NetworkDrilledSystem] == [
        "site-link-cut",
        "district-front-door-down",
    ]
    assert "site-link-cut" not in systems[drill_cluster.ClusterDrilledSystem]
    assert "site-link-cut" not in systems[drill.DrilledSystem]
    [cut] = [d for d in plan if d.name == "site-link-cut"]
    # a minute down, the load going on after the return
    assert cut.outage_seconds == 60 and cut.load_seconds > cut.fault_at + cut.outage_seconds


def test_the_site_registers_its_own_site_with_a_new_applicant_each_time():
    rng = random.Random(7)
    first = load.registration(rng, drill_network.SITE_REGISTRATION)
    second = load.registration(rng, drill_network.SITE_REGISTRATION)
    assert first["site"] == "XJK" and first["first_receiver"] == "S0002"
    assert first["applicant"]["id_number"] != second["applicant"]["id_number"]
    assert first["applicant"]["name"] == load.REGISTRATION["applicant"]["name"]
    assert load.registration(rng)["site"] == "HALL"


def report() -> DrillReport:
    return DrillReport("site-link-cut", 1, 1, 0, 0, 0, 0, 0, 0, 0, 0.1, 0.1, True)


def test_the_report_carries_the_catch_up_and_fails_without_it_or_a_link_seen_down():
    system = drill_network.NetworkDrilledSystem.__new__(drill_network.NetworkDrilledSystem)
    [cut] = [d for d in drill_network.plan() if d.fault == "site-link"]
    system.catch_up = {cut.name: 12.5}
    system.link_seen = {
        cut.name: {
            "bancheng_site_link_up": 0.0,
            "bancheng_site_link_backlog_messages[to_district]": 40.0,
        }
    }
    done = report()
    system.annotate(cut, done)
    assert done.catch_up_seconds == 12.5 and done.passed
    system.catch_up = {cut.name: None}
    system.link_seen = {cut.name: {"bancheng_site_link_up": 1.0}}
    late = report()
    system.annotate(cut, late)
    assert not late.passed and len(late.problems) == 2


def test_a_site_that_refuses_while_the_district_is_away_fails_the_drill():
    system = drill_network.NetworkDrilledSystem.__new__(drill_network.NetworkDrilledSystem)
    [down] = [d for d in drill_network.plan() if d.fault == "district-front-door"]
    refused = report()
    refused.refused = 3
    system.annotate(down, refused)
    assert not refused.passed and "refused 3" in refused.problems[0]
    fine = report()
    system.annotate(down, fine)
    assert fine.passed and fine.catch_up_seconds is None
