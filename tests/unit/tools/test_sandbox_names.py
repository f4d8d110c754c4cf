"""Sandbox names carry their creator's pid, so a later run can remove what a killed run left."""

import os
import subprocess
import sys

from tools import sandbox


def _ended_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_name_carries_this_process_pid():
    name = sandbox.sandbox_name("bench_registration")
    assert name.startswith(f"bancheng_bench_registration_{os.getpid()}_")
    assert sandbox.SANDBOX_NAME.match(name)


def test_only_sandboxes_of_ended_processes_are_stale():
    ended = _ended_pid()
    assert sandbox.owner_gone(f"bancheng_test_{ended}_3fa2c1")
    assert sandbox.owner_gone(f"bancheng_bench_registration_{ended}_3fa2c1")
    assert not sandbox.owner_gone(sandbox.sandbox_name("test"))  # this process
    assert not sandbox.owner_gone(f"bancheng_test_{os.getppid()}_3fa2c1")  # alive
    # names that are no sandbox, or of the old form without a pid, are never touched
    for name in ("bancheng", "/", "bancheng_site_xjk", "bancheng_qrpc_f128246b", "postgres"):
        assert not sandbox.owner_gone(name)
