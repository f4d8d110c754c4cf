"""The drill's verdict: what counts as lost, duplicated, hung or dead (pure, no processes)."""

from tools.drill_report import (
    TIMEOUT,
    UNREACHABLE,
    Attempt,
    Observed,
    Processes,
    last_traceback,
    table,
    tally,
)

PIDS = {"intake-1": 11, "coordination": 12, "gateway": 13}
HEALTHY = dict.fromkeys(PIDS, "ok")


def observed(stored, consumers=None, repeated=None):
    everything = {case_no for found in stored.values() for case_no in found}
    return Observed(
        stored=stored,
        consumers=consumers or {"coordination": everything, "reporting": everything},
        repeated=repeated or {},
    )


def same_processes(**changes):
    return Processes(before=PIDS, after={**PIDS, **changes}, health=HEALTHY)


def test_a_clean_drill_counts_acknowledged_keys_and_refusals():
    attempts = [
        Attempt("k1", 503, 5.0),
        Attempt("k1", 201, 0.1, "C1"),
        Attempt("k2", 201, 0.2, "C2"),
    ]
    report = tally("broker", attempts, observed({"k1": ["C1"], "k2": ["C2"]}), same_processes())
    assert report.passed, report.problems
    assert (report.requests, report.acknowledged, report.refused) == (3, 2, 1)
    assert (report.lost, report.duplicated, report.longest, report.alive) == (0, 0, 5.0, True)


def test_a_refused_registration_that_was_stored_must_still_reach_every_consumer():
    attempts = [Attempt("k1", 201, 0.1, "C1"), Attempt("k2", 503, 5.0)]
    stored = {"k1": ["C1"], "k2": ["C2"]}  # k2 committed after its caller was told 503
    report = tally(
        "hang",
        attempts,
        observed(stored, consumers={"coordination": {"C1", "C2"}, "reporting": {"C1"}}),
        same_processes(),
    )
    assert report.lost == 1 and not report.passed
    assert "1 cases never reached reporting: C2" in report.problems


def test_an_acknowledged_case_missing_from_intake_is_lost():
    report = tally("db", [Attempt("k1", 201, 0.1, "C1")], observed({}), same_processes())
    assert report.lost == 1
    assert report.problems[0].startswith("acknowledged but not in intake: ['C1']")


def test_one_key_answered_as_two_cases_is_a_duplicate():
    attempts = [Attempt("k1", 201, 0.1, "C1"), Attempt("k1", 200, 0.1, "C2")]
    report = tally("kill", attempts, observed({"k1": ["C1", "C2"]}), same_processes())
    assert report.duplicated == 2  # answered twice, and stored twice
    assert not report.passed


def test_a_case_recorded_twice_by_a_consumer_is_a_duplicate():
    report = tally(
        "kill",
        [Attempt("k1", 201, 0.1, "C1")],
        observed({"k1": ["C1"]}, repeated={"coordination's timeline (opened)": {"C1"}}),
        same_processes(),
    )
    assert report.duplicated == 1
    assert report.problems == ["1 cases recorded twice in coordination's timeline (opened): C1"]


def test_a_500_fails_the_drill_and_keeps_its_error_id():
    attempts = [Attempt("k1", 201, 0.1, "C1"), Attempt("k2", 500, 0.1, error_code="abc123")]
    report = tally("broker", attempts, observed({"k1": ["C1"]}), same_processes())
    assert (report.other_5xx, report.error_ids, report.passed) == (1, ["abc123"], False)


def test_a_client_left_waiting_is_a_hang():
    attempts = [Attempt("k1", 201, 0.1, "C1"), Attempt("k2", TIMEOUT, 15.0)]
    report = tally("hang", attempts, observed({"k1": ["C1"]}), same_processes())
    assert report.hung == 1 and not report.passed


def test_an_unreachable_front_door_is_expected_only_when_the_drill_killed_it():
    attempts = [Attempt("k1", UNREACHABLE, 0.0), Attempt("k1", 201, 0.1, "C1")]
    killed = Processes(
        before=PIDS, after={**PIDS, "gateway": 99}, health=HEALTHY, killed=frozenset({"gateway"})
    )
    assert tally("kill", attempts, observed({"k1": ["C1"]}), killed, front_door_killed=True).passed
    report = tally("broker", attempts, observed({"k1": ["C1"]}), same_processes())
    assert report.problems == ["the front door was unreachable for 1 requests"]


def test_a_process_restarted_behind_the_drills_back_did_not_survive():
    report = tally(
        "broker",
        [Attempt("k1", 201, 0.1, "C1")],
        observed({"k1": ["C1"]}),
        same_processes(gateway=77),
    )
    assert not report.alive and report.casualties == ["gateway"]
    assert report.problems == ["gateway died and was restarted (pid 13 → 77)"]


def test_a_killed_process_must_come_back_as_a_new_one_and_answer():
    not_back = Processes(
        before=PIDS, after=PIDS, health=HEALTHY, killed=frozenset({"coordination"})
    )
    report = tally("kill", [Attempt("k1", 201, 0.1, "C1")], observed({"k1": ["C1"]}), not_back)
    assert report.problems == ["coordination was killed but not restarted"]
    silent = Processes(
        before=PIDS,
        after={**PIDS, "coordination": 50},
        health={**HEALTHY, "coordination": "unhealthy (database)"},
        killed=frozenset({"coordination"}),
    )
    report = tally("kill", [Attempt("k1", 201, 0.1, "C1")], observed({"k1": ["C1"]}), silent)
    assert report.problems == ["coordination /healthz: unhealthy (database)"]
    assert (report.casualties, report.silent) == ([], ["coordination"])


def test_the_table_has_a_row_per_drill_and_names_each_problem():
    ok = tally(
        "broker-restart",
        [Attempt("k1", 201, 0.25, "C1")],
        observed({"k1": ["C1"]}),
        same_processes(),
    )
    bad = tally("kill-9 gateway", [Attempt("k2", 502, 0.5)], observed({}), same_processes())
    lines = table([ok, bad])
    assert lines[2].startswith("broker-restart") and lines[2].endswith("ok")
    assert lines[3].startswith("kill-9 gateway") and lines[3].endswith("FAILED")
    assert "    ! HTTP 502 for key k2 (error id None)" in lines


def test_the_last_traceback_of_a_log_ends_at_its_exception():
    log = (
        "starting\n"
        'Traceback (most recent call last):\n  File "a.py", line 1\nValueError: old\n'
        "more lines\n"
        'Traceback (most recent call last):\n  File "b.py", line 2, in f\n    g()\n'
        "ConnectionResetError: [Errno 104] Connection reset by peer\n"
        "later unrelated line\n"
    )
    assert last_traceback(log).splitlines() == [
        "Traceback (most recent call last):",
        '  File "b.py", line 2, in f',
        "    g()",
        "ConnectionResetError: [Errno 104] Connection reset by peer",
    ]
    assert last_traceback("no trouble\n") is None


def test_the_front_doors_health_check_may_say_503_but_must_answer():
    attempts, stored = [Attempt("k1", 201, 0.1, "C1")], observed({"k1": ["C1"]})
    checks = [Attempt("healthz", 200, 0.01), Attempt("healthz", 503, 5.2)]
    report = tally("hang", attempts, stored, same_processes(), health_checks=checks)
    assert report.passed and report.longest_health_check == 5.2
    checks.append(Attempt("healthz", TIMEOUT, 15.0))
    report = tally("hang", attempts, stored, same_processes(), health_checks=checks)
    assert report.problems == ["the front door's /healthz answered ['timeout']"]
