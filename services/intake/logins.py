"""When a login is throttled (pure): too many failures for one account, or from one address.

The failures are intake's (its database), so every gateway and intake instance counts the
same ones. An account is locked after a few failures; an address after more, since a whole
service hall may sign in from one address.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class ThrottlePolicy:
    window: timedelta = timedelta(minutes=15)
    per_account: int = 5
    per_address: int = 20


def minutes_locked(
    account_failures: list[datetime],
    address_failures: list[datetime],
    now: datetime,
    policy: ThrottlePolicy,
) -> int | None:
    """Whole minutes until a login may be tried again, or None when it may be tried now.

    Each list is the times of the failures (any order); only those within the window count.
    A key is locked while ``limit`` failures lie within the window: until the oldest of its
    ``limit`` latest failures leaves it.
    """
    unlocks = []
    for failures, limit in (
        (account_failures, policy.per_account),
        (address_failures, policy.per_address),
    ):
        recent = sorted(at for at in failures if now - at < policy.window)
        if limit > 0 and len(recent) >= limit:
            unlocks.append(recent[-limit] + policy.window)
    if not unlocks:
        return None
    return max(1, math.ceil((max(unlocks) - now).total_seconds() / 60))


def refusal_message(minutes: int) -> str:
    return f"登录失败次数过多，请 {minutes} 分钟后再试"


MIN_PASSWORD_LENGTH = 8


def new_password_refusal(current: str, new: str) -> str | None:
    """Why a new password is refused, or None."""
    if len(new) < MIN_PASSWORD_LENGTH:
        return f"新密码至少 {MIN_PASSWORD_LENGTH} 位"
    if new == current:
        return "新密码不能与当前密码相同"
    return None


DEFAULT_POLICY = ThrottlePolicy()


@dataclass(frozen=True)
class Credentials:
    """How logins are checked: the password check and hashing (off the hub, by the service:
    :mod:`services.common.password_checks`) and the throttle."""

    check: Callable[[str, str | None], bool]
    make_hash: Callable[[str], str]
    policy: ThrottlePolicy = DEFAULT_POLICY
