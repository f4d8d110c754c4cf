"""Login throttling (services/intake/logins.py) and intake's authenticate: per account and per
address, the same scrypt for an unknown user as for a known one."""

import hashlib
from datetime import datetime, timedelta

import pytest

from services.common import password_checks
from services.common.errors import InvalidField, TooManyRequests, Unauthorized
from services.intake import handlers, logins
from services.intake.logins import Credentials, ThrottlePolicy, minutes_locked
from tests.unit.fakes import FakeUnitOfWork
from tests.unit.intake.fakes import FakeIntakeStore

NOW = datetime(2026, 12, 2, 10, 0)
POLICY = ThrottlePolicy(window=timedelta(minutes=15), per_account=5, per_address=20)
CREDENTIALS = Credentials(
    password_checks.check_password, password_checks.make_password_hash, POLICY
)


def ago(*minutes: float) -> list[datetime]:
    return [NOW - timedelta(minutes=m) for m in minutes]


def test_four_failures_leave_the_account_open():
    assert minutes_locked(ago(1, 2, 3, 4), [], NOW, POLICY) is None


def test_the_fifth_failure_locks_the_account_until_the_oldest_leaves_the_window():
    # the oldest of the five latest failures is 10 minutes old: 5 minutes to go
    assert minutes_locked(ago(10, 4, 3, 2, 1), [], NOW, POLICY) == 5


def test_failures_older_than_the_window_do_not_count():
    assert minutes_locked(ago(16, 20, 30, 1, 2), [], NOW, POLICY) is None


def test_an_address_is_locked_after_its_own_limit():
    assert minutes_locked([], ago(*[0.5] * 19), NOW, POLICY) is None
    assert minutes_locked([], ago(*[0.5] * 20), NOW, POLICY) == 15


def test_a_lock_under_a_minute_still_says_one_minute():
    assert minutes_locked(ago(14.9, 1, 1, 1, 1), [], NOW, POLICY) == 1
    assert logins.refusal_message(1) == "登录失败次数过多，请 1 分钟后再试"


class Logins:
    def __init__(self):
        self.store = FakeIntakeStore()
        self.uow = FakeUnitOfWork(self.store)

    def attempt(self, username, password, address="10.0.0.1"):
        return handlers.authenticate(self.uow, CREDENTIALS, username, password, address)


@pytest.fixture
def intake():
    return Logins()


def test_five_wrong_passwords_lock_the_account_even_for_the_right_one(intake):
    for _ in range(5):
        with pytest.raises(Unauthorized):
            intake.attempt("hall.staff", "wrong")
    with pytest.raises(TooManyRequests) as refused:
        intake.attempt("hall.staff", "demo")
    assert refused.value.status == 429
    assert refused.value.message == "登录失败次数过多，请 15 分钟后再试"
    # from another address too: the account is locked, wherever the guesses come from
    with pytest.raises(TooManyRequests):
        intake.attempt("hall.staff", "demo", address="10.0.0.2")
    intake.uow.clock.current += timedelta(minutes=15)
    assert intake.attempt("hall.staff", "demo")["id"] == "S0001"


def test_one_address_guessing_many_accounts_is_locked(intake):
    for n in range(20):
        with pytest.raises(Unauthorized):
            intake.attempt(f"guess{n}", "demo", address="10.9.9.9")
    with pytest.raises(TooManyRequests):
        intake.attempt("hall.staff", "demo", address="10.9.9.9")
    assert intake.attempt("hall.staff", "demo", address="10.0.0.3")["id"] == "S0001"


def test_a_success_forgets_the_accounts_failures(intake):
    for _ in range(4):
        with pytest.raises(Unauthorized):
            intake.attempt("hall.staff", "wrong")
    intake.attempt("hall.staff", "demo")
    with pytest.raises(Unauthorized):  # the count starts again: not locked
        intake.attempt("hall.staff", "wrong")


def test_an_unknown_user_costs_the_same_scrypt_as_a_wrong_password(intake, monkeypatch):
    calls = []
    scrypt = hashlib.scrypt

    def counted(*args, **kwargs):
        calls.append(kwargs["n"])
        return scrypt(*args, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counted)
    password_checks.check_password("x", None)  # the dummy hash made, if not yet
    calls.clear()
    with pytest.raises(Unauthorized):
        intake.attempt("hall.staff", "wrong")
    known = list(calls)
    calls.clear()
    with pytest.raises(Unauthorized):
        intake.attempt("nobody", "wrong")
    assert calls == known == [2**14]


def test_a_new_password_is_refused_when_short_or_unchanged():
    assert logins.new_password_refusal("demo", "short") == "新密码至少 8 位"
    assert logins.new_password_refusal("a-long-one", "a-long-one") == "新密码不能与当前密码相同"
    assert logins.new_password_refusal("demo", "a-long-one") is None


def test_change_password_names_the_refused_field(intake):
    with pytest.raises(InvalidField) as short:
        handlers.change_password(intake.uow, CREDENTIALS, "S0001", "demo", "short")
    assert short.value.field == "new_password"
