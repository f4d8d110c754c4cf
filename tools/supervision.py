"""When to restart a process that exited, and how its record reads (pure: no processes here).

A process that keeps dying at once is restarted ever more slowly — 0.5 s, 1 s, 2 s … up to
30 s — so a crash loop neither eats the machine's two cores nor floods the logs. One that had
run stably (a minute) before it exited starts that ladder again from the bottom: it met a
fault, not a crash loop.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class RestartBackoff:
    """Exponential backoff between restarts, reset by a stable run."""

    initial: float = 0.5
    factor: float = 2.0
    maximum: float = 30.0
    stable_after: float = 60.0

    def __post_init__(self):
        if not 0 < self.initial <= self.maximum:
            raise ValueError("need 0 < initial <= maximum")
        if self.factor < 1:
            raise ValueError("factor must be at least 1")
        if self.stable_after <= 0:
            raise ValueError("stable_after must be positive")

    def delay(self, consecutive_failures: int) -> float:
        """Seconds to wait before restarting after the ``consecutive_failures``-th exit in a row."""
        if consecutive_failures < 1:
            raise ValueError("a restart follows at least one failure")
        # capped before it is raised to a power, so a long crash loop cannot overflow
        exponent = min(consecutive_failures - 1, 64)
        return min(self.maximum, self.initial * self.factor**exponent)

    def after_exit(self, failures_before: int, ran_for: float) -> tuple[int, float]:
        """(consecutive failures counting this exit, seconds to wait before the restart)."""
        failures = 1 if ran_for >= self.stable_after else failures_before + 1
        return failures, self.delay(failures)


def format_duration(seconds: float | None) -> str:
    """``3s``, ``4m05s``, ``2h07m``, ``3d04h``: how long a process has been up, at a glance."""
    if seconds is None:
        return "-"
    whole = max(0, int(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"
