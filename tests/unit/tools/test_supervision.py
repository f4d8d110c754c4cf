"""The supervisor's restart policy: exponential backoff, capped, reset by a stable run."""

import pytest

from tools.supervision import RestartBackoff, format_duration


def test_restarts_back_off_exponentially_up_to_the_cap():
    backoff = RestartBackoff(initial=0.5, factor=2, maximum=30)
    assert [backoff.delay(n) for n in range(1, 9)] == [0.5, 1, 2, 4, 8, 16, 30, 30]


def test_a_long_crash_loop_stays_at_the_cap():
    assert RestartBackoff().delay(10_000) == 30


def test_each_quick_exit_climbs_the_ladder():
    backoff = RestartBackoff(initial=0.5, stable_after=60)
    failures, delays = 0, []
    for _ in range(4):
        failures, delay = backoff.after_exit(failures, ran_for=1.0)
        delays.append(delay)
    assert (failures, delays) == (4, [0.5, 1, 2, 4])


def test_an_exit_after_a_stable_run_starts_again_at_the_bottom():
    backoff = RestartBackoff(initial=0.5, stable_after=60)
    assert backoff.after_exit(failures_before=6, ran_for=60.0) == (1, 0.5)
    assert backoff.after_exit(failures_before=6, ran_for=59.9) == (7, 30)


@pytest.mark.parametrize(
    "settings",
    [
        {"initial": 0},
        {"initial": 5, "maximum": 1},
        {"factor": 0.5},
        {"stable_after": 0},
    ],
)
def test_nonsense_settings_are_refused(settings):
    with pytest.raises(ValueError):
        RestartBackoff(**settings)


def test_a_delay_needs_a_failure():
    with pytest.raises(ValueError):
        RestartBackoff().delay(0)


@pytest.mark.parametrize(
    "seconds, shown",
    [(None, "-"), (-3, "0s"), (7.9, "7s"), (245, "4m05s"), (7620, "2h07m"), (273600, "3d04h")],
)
def test_uptime_reads_at_a_glance(seconds, shown):
    assert format_duration(seconds) == shown
