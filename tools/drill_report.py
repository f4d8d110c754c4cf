"""What a drill found, counted (pure: the drill gathers the facts, this judges them).

A drill passes when nothing acknowledged was lost, nothing was stored twice, every answer was
a success or a clean 503 (never another 5xx, never a client left hanging), and every process
is alive at the end — the same process for a broker or database fault, which it must survive,
and a new one only where the drill killed one (the supervisor's restart).
"""

import re
from dataclasses import asdict, dataclass, field

SUCCESS = (200, 201)
REFUSED = 503
TIMEOUT = "timeout"  # the client gave up waiting: a hang
UNREACHABLE = "unreachable"  # no connection to the front door, or it closed mid-request


@dataclass(frozen=True)
class Attempt:
    """One request of the registration load."""

    key: str  # its Idempotency-Key (a client retries a refused key, with the same key)
    outcome: int | str  # the HTTP status, TIMEOUT or UNREACHABLE
    seconds: float
    case_no: str | None = None
    error_code: str | None = None  # the error body's code: a 500's error id


@dataclass(frozen=True)
class Observed:
    """What the databases hold after the drill settled, for the drill's own keys."""

    stored: dict[str, list[str]]  # idempotency key → intake's case numbers for it
    consumers: dict[str, set[str]]  # consumer → the case numbers it has recorded
    repeated: dict[str, set[str]]  # where → case numbers recorded more than once there


@dataclass(frozen=True)
class Processes:
    """Pids before and after, each one's /healthz in a word (``ok``, ``unhealthy (database)``,
    ``no answer``), and which ones the drill killed."""

    before: dict[str, int]
    after: dict[str, int | None]
    health: dict[str, str]
    killed: frozenset[str] = frozenset()


@dataclass
class DrillReport:
    drill: str
    requests: int
    acknowledged: int
    refused: int
    unreachable: int
    lost: int
    duplicated: int
    other_5xx: int
    unexpected: int  # answers that are neither success, 503 nor 5xx (a 4xx, say)
    hung: int
    longest: float
    longest_health_check: float  # the front door's /healthz, asked throughout the drill
    alive: bool
    problems: list[str] = field(default_factory=list)
    casualties: list[str] = field(default_factory=list)  # processes that died unbidden
    silent: list[str] = field(default_factory=list)  # running, but not answering /healthz
    error_ids: list[str] = field(default_factory=list)  # of the 5xx answers, for their logs
    # a site link drill (tools.drill_network): from the link's return until the last case
    # registered meanwhile reached every service at the district
    catch_up_seconds: float | None = None

    @property
    def passed(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed}


def tally(
    drill: str,
    attempts: list[Attempt],
    observed: Observed,
    processes: Processes,
    front_door_killed: bool = False,
    health_checks: list[Attempt] = (),
) -> DrillReport:
    """Count a drill's outcome and name every problem found. ``health_checks`` are the front
    door's ``/healthz`` answers during the drill: 200 or 503, never a hang or another 5xx."""
    problems: list[str] = []
    acknowledged: dict[str, set[str]] = {}
    for attempt in attempts:
        if attempt.outcome in SUCCESS:
            acknowledged.setdefault(attempt.key, set()).add(attempt.case_no)

    lost = _lost(acknowledged, observed, problems)
    duplicated = _duplicated(acknowledged, observed, problems)

    statuses = [a.outcome for a in attempts if isinstance(a.outcome, int)]
    other_5xx = [a for a in attempts if isinstance(a.outcome, int) and a.outcome >= 500]
    other_5xx = [a for a in other_5xx if a.outcome != REFUSED]
    unexpected = [s for s in statuses if s not in SUCCESS and s < 500]
    hung = sum(1 for a in attempts if a.outcome == TIMEOUT)
    unreachable = sum(1 for a in attempts if a.outcome == UNREACHABLE)
    for attempt in other_5xx:
        problems.append(
            f"HTTP {attempt.outcome} for key {attempt.key} (error id {attempt.error_code})"
        )
    if unexpected:
        problems.append(f"unexpected answers: {sorted(set(unexpected))}")
    if hung:
        problems.append(f"{hung} requests got no answer in time (hung)")
    if unreachable and not front_door_killed:
        problems.append(f"the front door was unreachable for {unreachable} requests")
    if not acknowledged:
        problems.append("no registration was acknowledged at all")
    bad_checks = [
        check.outcome
        for check in health_checks
        if check.outcome not in (200, REFUSED)
        and not (front_door_killed and check.outcome == UNREACHABLE)
    ]
    if bad_checks:
        problems.append(f"the front door's /healthz answered {sorted(set(map(str, bad_checks)))}")

    process_problems = check_processes(processes)
    problems += process_problems
    casualties = [
        name
        for name, pid in sorted(processes.before.items())
        if name not in processes.killed and processes.after.get(name) != pid
    ]
    return DrillReport(
        drill=drill,
        requests=len(attempts),
        acknowledged=len(acknowledged),
        refused=sum(1 for s in statuses if s == REFUSED),
        unreachable=unreachable,
        lost=lost,
        duplicated=duplicated,
        other_5xx=len(other_5xx),
        unexpected=len(unexpected),
        hung=hung,
        longest=max((a.seconds for a in attempts), default=0.0),
        longest_health_check=max((c.seconds for c in health_checks), default=0.0),
        alive=not process_problems,
        problems=problems,
        casualties=casualties,
        silent=sorted(
            name
            for name, pid in processes.after.items()
            if pid is not None and processes.health.get(name) != "ok"
        ),
        error_ids=sorted({a.error_code for a in other_5xx if a.error_code}),
    )


def _lost(acknowledged: dict[str, set[str]], observed: Observed, problems: list[str]) -> int:
    """Acknowledged cases intake does not have, and stored cases a consumer never recorded."""
    stored_case_nos = {case_no for found in observed.stored.values() for case_no in found}
    lost: set[str] = set()
    for key, case_nos in acknowledged.items():
        missing = case_nos - set(observed.stored.get(key, []))
        if missing:
            problems.append(f"acknowledged but not in intake: {sorted(missing)} (key {key})")
            lost |= missing
    for consumer, recorded in sorted(observed.consumers.items()):
        missing = stored_case_nos - recorded
        if missing:
            problems.append(f"{len(missing)} cases never reached {consumer}: {_few(missing)}")
            lost |= missing
    return len(lost)


def _duplicated(acknowledged: dict[str, set[str]], observed: Observed, problems) -> int:
    """Keys answered with more than one case, keys stored twice, cases recorded twice."""
    duplicated = 0
    for key, case_nos in acknowledged.items():
        if len(case_nos) > 1:
            problems.append(f"key {key} was acknowledged as {sorted(case_nos)}")
            duplicated += 1
    for key, case_nos in observed.stored.items():
        if len(case_nos) > 1:
            problems.append(f"key {key} is stored as {sorted(case_nos)} in intake")
            duplicated += 1
    for where, case_nos in sorted(observed.repeated.items()):
        if case_nos:
            problems.append(f"{len(case_nos)} cases recorded twice in {where}: {_few(case_nos)}")
            duplicated += len(case_nos)
    return duplicated


def check_processes(processes: Processes) -> list[str]:
    """Every process alive and answering; the same pid unless the drill killed it."""
    problems = []
    for name, pid in sorted(processes.before.items()):
        now = processes.after.get(name)
        if now is None:
            problems.append(f"{name} is not running")
        elif name in processes.killed and now == pid:
            problems.append(f"{name} was killed but not restarted")
        elif name not in processes.killed and now != pid:
            problems.append(f"{name} died and was restarted (pid {pid} → {now})")
        health = processes.health.get(name, "no answer")
        if now is not None and health != "ok":
            problems.append(f"{name} /healthz: {health}")
    return problems


def _few(items, shown: int = 5) -> str:
    ordered = sorted(items)
    more = f" … (+{len(ordered) - shown})" if len(ordered) > shown else ""
    return ", ".join(ordered[:shown]) + more


COLUMNS = (
    ("drill", "drill", "{:<22}"),
    ("acknowledged", "acked", "{:>6}"),
    ("refused", "503", "{:>5}"),
    ("unreachable", "unreach", "{:>7}"),
    ("lost", "lost", "{:>5}"),
    ("duplicated", "dup", "{:>4}"),
    ("other_5xx", "5xx", "{:>4}"),
    ("hung", "hung", "{:>5}"),
    ("longest", "longest s", "{:>9.2f}"),
    ("longest_health_check", "healthz s", "{:>9.2f}"),
    ("alive", "alive", "{:>6}"),
)


def table(reports: list[DrillReport]) -> list[str]:
    """The drill table: one row per drill, then each problem under its drill."""
    header = (
        " ".join(fmt.replace(".2f", "").format(title) for _, title, fmt in COLUMNS) + "  result"
    )
    lines = [header, "-" * len(header)]
    for report in reports:
        values = asdict(report)
        values["alive"] = "yes" if report.alive else "NO"
        row = " ".join(fmt.format(values[name]) for name, _, fmt in COLUMNS)
        lines.append(row + ("  ok" if report.passed else "  FAILED"))
        lines += [f"    ! {problem}" for problem in report.problems]
    return lines


TRACEBACK_START = "Traceback (most recent call last):"


def last_traceback(log_text: str, max_lines: int = 40) -> str | None:
    """The last Python traceback in a log, up to the exception line that ends it."""
    start = log_text.rfind(TRACEBACK_START)
    if start < 0:
        return None
    lines = log_text[start:].splitlines()
    end = 1
    while end < len(lines) and (lines[end].startswith((" ", "\t")) or not lines[end].strip()):
        end += 1
    # the exception line, and a chained exception's own lines if nameko printed one
    block = lines[: end + 1]
    return "\n".join(block[-max_lines:])


def lines_mentioning(log_text: str, needle: str, context: int = 30) -> str | None:
    """The lines from the first mention of ``needle`` (an error id) on, for the report."""
    match = re.search(re.escape(needle), log_text)
    if not match:
        return None
    start = log_text.rfind("\n", 0, match.start()) + 1
    return "\n".join(log_text[start:].splitlines()[:context])
