"""The strike ladder and the recount after an appeal (pure: no broker, no database)."""

from datetime import date

import pytest

from services.accountability import domain
from services.accountability.rules import load_sanction_rules

RULES = load_sanction_rules()  # deploy/config/sanction_rules.yaml, the source's defaults
LADDER = domain.StrikeLadder(RULES)
TALK = ("reminder_talk", "bonus_withheld")


def attitude(finding_id, on, counts=True):
    return domain.Finding(finding_id, "attitude", on, counts)


def sanctions_by_finding(findings):
    return {fid: (s.strike_no, s.sanctions) for fid, s in LADDER.strikes(findings).items()}


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (1, [(1, TALK)]),
        (2, [(1, TALK), (2, TALK)]),
        (3, [(1, TALK), (2, TALK), (3, ("dismissal",))]),
        # the last rung repeats: a fourth attitude finding is again a dismissal recommendation
        (4, [(1, TALK), (2, TALK), (3, ("dismissal",)), (4, ("dismissal",))]),
    ],
)
def test_attitude_findings_in_one_year_climb_the_ladder(n, expected):
    findings = [attitude(i, date(2026, 3, i)) for i in range(1, n + 1)]
    result = sanctions_by_finding(findings)
    assert [result[i] for i in range(1, n + 1)] == expected


def test_the_count_starts_again_in_a_new_assessment_year():
    findings = [
        attitude(1, date(2025, 11, 3)),
        attitude(2, date(2025, 12, 31)),
        attitude(3, date(2026, 1, 1)),  # a third finding, but the first of 2026
        attitude(4, date(2026, 6, 1)),
    ]
    strikes = LADDER.strikes(findings)
    assert [(strikes[i].period, strikes[i].strike_no) for i in (1, 2, 3, 4)] == [
        ("2025", 1),
        ("2025", 2),
        ("2026", 1),
        ("2026", 2),
    ]
    assert all(strikes[i].sanctions == TALK for i in (1, 2, 3, 4))


def test_the_order_is_by_date_then_id_not_by_arrival():
    findings = [
        attitude(9, date(2026, 5, 1)),
        attitude(3, date(2026, 2, 1)),
        attitude(5, date(2026, 5, 1)),
    ]
    strikes = LADDER.strikes(findings)
    assert [strikes[i].strike_no for i in (3, 5, 9)] == [1, 2, 3]
    assert strikes[9].sanctions == ("dismissal",)


def test_a_configured_counting_period_moves_the_boundary():
    rules = domain.sanction_rules(
        {
            "counting_period": {"months": 12, "start_month": 7},
            "causes": {
                "attitude": {"ladder": [list(TALK), list(TALK), ["dismissal"]]},
                "unfamiliar": {"ladder": [["training"]]},
                "process": {"ladder": [], "improvement_action": True},
            },
        }
    )
    ladder = domain.StrikeLadder(rules)
    strikes = ladder.strikes(
        [
            attitude(1, date(2025, 7, 1)),
            attitude(2, date(2026, 1, 5)),
            attitude(3, date(2026, 6, 30)),
        ]
    )
    assert {s.period for s in strikes.values()} == {"2025-07..2026-06"}
    assert strikes[3].sanctions == ("dismissal",)
    assert ladder.period_of(date(2026, 7, 1)) == "2026-07..2027-06"
    assert ladder.period_of(date(2025, 6, 30)) == "2024-07..2025-06"


def test_causes_are_counted_apart_and_process_is_no_personal_strike():
    findings = [
        attitude(1, date(2026, 1, 10)),
        domain.Finding(2, "unfamiliar", date(2026, 1, 11)),
        domain.Finding(3, "process", date(2026, 1, 12)),
        attitude(4, date(2026, 1, 13)),
        domain.Finding(5, None, date(2026, 1, 14), counts=False),  # no fault
    ]
    strikes = LADDER.strikes(findings)
    assert set(strikes) == {1, 2, 4}
    assert strikes[2].sanctions == ("award_ineligible", "bonus_withheld", "training")
    assert (strikes[4].cause, strikes[4].strike_no) == ("attitude", 2)
    assert RULES.causes["process"].improvement_action


def record_of(strikes, next_id=100):
    """The sanctions on record as the service would have stored them from ``strikes``."""
    on_record = []
    for strike in strikes.values():
        for kind in strike.sanctions:
            next_id += 1
            on_record.append(
                domain.SanctionOnRecord(next_id, strike.finding_id, kind, strike.strike_no)
            )
    return on_record


def test_an_upheld_appeal_in_the_middle_recounts_the_later_strikes():
    findings = [
        attitude(1, date(2026, 2, 1)),
        attitude(2, date(2026, 3, 1)),
        attitude(3, date(2026, 4, 1)),
    ]
    on_record = record_of(LADDER.strikes(findings))
    dismissal = next(s for s in on_record if s.kind == "dismissal")
    first = [s for s in on_record if s.finding_id == 1]
    second = [s for s in on_record if s.finding_id == 2]

    # the first finding is overturned on appeal: it no longer counts
    recount = LADDER.strikes([attitude(1, date(2026, 2, 1), counts=False), *findings[1:]])
    plan = domain.plan_sanctions(recount, on_record)

    assert recount[2].strike_no == 1 and recount[3].strike_no == 2
    # the first finding's sanctions and the dismissal recommendation go ...
    assert set(plan.revoke) == {s.id for s in first} | {dismissal.id}
    # ... the former 3rd gets the 2nd strike's sanctions instead ...
    assert sorted(plan.apply) == [(3, "bonus_withheld", 2), (3, "reminder_talk", 2)]
    # ... and the former 2nd keeps its sanctions, renumbered as the 1st strike
    assert sorted(plan.renumber) == sorted((s.id, 1) for s in second)


def test_recounting_an_unchanged_ladder_changes_nothing():
    findings = [attitude(i, date(2026, 1, i)) for i in range(1, 5)]
    strikes = LADDER.strikes(findings)
    plan = domain.plan_sanctions(strikes, record_of(strikes))
    assert plan == domain.SanctionPlan((), (), ())


def test_dismissal_is_only_a_recommendation_until_confirmed():
    assert domain.initial_status(RULES, "attitude", "dismissal") == "recommended"
    assert domain.initial_status(RULES, "attitude", "reminder_talk") == "applied"


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"causes": {"attitude": {"ladder": [["firing_squad"]]}}},
        {"causes": {"attitude": {"ladder": []}, "unfamiliar": {}}},  # process missing
        {"counting_period": {"months": 5}, "causes": {}},
    ],
)
def test_broken_rules_are_refused_at_load(raw):
    with pytest.raises(ValueError):
        domain.sanction_rules(raw)
