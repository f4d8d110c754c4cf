"""A login's password check runs off the eventlet hub and costs as much for an unknown user."""

import eventlet

from services.common.password_checks import check_password, make_password_hash
from services.common.passwords import hash_password, verify_password

STORED = hash_password("demo")


def test_the_hub_keeps_serving_while_scrypt_runs():
    ticks = []
    running = True

    def other_request():
        while running:
            ticks.append(1)
            eventlet.sleep(0.001)

    other = eventlet.spawn(other_request)
    eventlet.sleep(0)  # let it start
    ticks.clear()
    for _ in range(3):  # each scrypt takes tens of milliseconds
        assert check_password("demo", STORED)
    during = len(ticks)
    running = False
    other.wait()
    # on the hub, scrypt would hold it: no tick at all while the passwords are checked
    assert during > 0


def test_no_stored_hash_refuses_after_the_same_work():
    assert check_password("demo", None) is False
    assert check_password("", "") is False
    assert check_password("wrong", STORED) is False


def test_a_new_hash_is_made_off_the_hub_too():
    assert verify_password("a-new-password", make_password_hash("a-new-password"))
