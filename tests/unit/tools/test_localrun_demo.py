"""Every system tools.localrun starts (make up, the test systems, bench, drills) is a demo."""

from tools import localrun


def test_the_processes_get_demo_mode():
    assert localrun.demo_environment({"PATH": "/bin"}) == {"PATH": "/bin", "BANCHENG_DEMO": "1"}


def test_a_caller_that_says_otherwise_is_heard():
    assert localrun.demo_environment({"BANCHENG_DEMO": "0"})["BANCHENG_DEMO"] == "0"
