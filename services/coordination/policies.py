"""Deadline policies from configuration (deploy/config/deadline_policies.yaml), pure but for reading.

Local rules differ (3/5 working days for joint meetings in the reference district, 15 in
other provinces), so no number of days lives in code: each policy says which case type and
stage it applies to, how many working days, what starts the clock and what may pause it.
The 差评 loop's rectification period (整改期限) is one more policy of the same file: type
``bad_rating``, stage ``rectification`` (15 working days in the national 好差评 rules, fewer
in some places), started by the rating's registration or by its verification (核实).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from services.common.config import REPO_ROOT

ENV_VAR = "DEADLINE_POLICIES"
DEFAULT_FILE = REPO_ROOT / "deploy" / "config" / "deadline_policies.yaml"

TYPES = ("cannot", "hard", "refused", "pending")
STAGES = {"reply": "case_replied", "resolution": "case_resolved"}
START_EVENTS = ("case_registered", "case_classified", "case_reopened")
PAUSE_EVENTS = ("deferred_materials", "manual")
# the 差评 loop: a bad rating's rectification, started when it was registered or verified,
# paused while the rated staff member's appeal against the verification waits for a decision
BAD_RATING = "bad_rating"
BAD_RATING_STAGES = {"rectification": "bad_rating_rectified"}
BAD_RATING_START_EVENTS = ("case_registered", "bad_rating_verified")
BAD_RATING_PAUSE_EVENTS = ("appeal",)
KEYS = {
    "type",
    "stage",
    "working_days",
    "complex_working_days",
    "start_event",
    "pause_events",
    "warning_share",
}


@dataclass(frozen=True)
class Policy:
    case_type: str
    stage: str
    working_days: int
    complex_working_days: int
    start_event: str
    pause_events: tuple[str, ...]
    warning_share: float | None

    @property
    def kind(self) -> str:
        """The deadline's name on the case and in events, e.g. ``pending_reply``."""
        return f"{self.case_type}_{self.stage}"

    @property
    def stop_event(self) -> str:
        return {**STAGES, **BAD_RATING_STAGES}[self.stage]

    def days_for(self, complex_case: bool) -> int:
        return self.complex_working_days if complex_case else self.working_days


class Policies:
    def __init__(self, policies: list[Policy]):
        self.all = policies

    def started_by(self, case_type: str, start_event: str) -> list[Policy]:
        return [p for p in self.all if p.case_type == case_type and p.start_event == start_event]

    def rectification(self) -> Policy | None:
        """The 差评 loop's rectification period, if the district sets one."""
        return next((p for p in self.all if p.case_type == BAD_RATING), None)

    def find(self, case_type: str, stage: str, start_event: str) -> Policy | None:
        for policy in self.all:
            if (policy.case_type, policy.stage, policy.start_event) == (
                case_type,
                stage,
                start_event,
            ):
                return policy
        return None


def _days(entry: dict, key: str, where: str) -> int:
    value = entry[key]
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 366:
        raise ValueError(f"{where}: '{key}' must be a whole number of working days, got {value!r}")
    return value


def parse_policies(text: str) -> Policies:
    """Parse the policy file; ValueError naming the entry and the key on any problem."""
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or not isinstance(data.get("policies"), list):
        raise ValueError("expected a mapping with a list under 'policies'")
    result: list[Policy] = []
    for number, entry in enumerate(data["policies"], start=1):
        where = f"policy {number}"
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: expected a mapping")
        unknown = sorted(str(k) for k in entry if k not in KEYS)
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}")
        for key in ("type", "stage", "working_days", "start_event"):
            if key not in entry:
                raise ValueError(f"{where}: missing key '{key}'")
        types = entry["type"] if isinstance(entry["type"], list) else [entry["type"]]
        stages, starts, pause_kinds = STAGES, START_EVENTS, PAUSE_EVENTS
        if types == [BAD_RATING]:
            stages, starts = BAD_RATING_STAGES, BAD_RATING_START_EVENTS
            pause_kinds = BAD_RATING_PAUSE_EVENTS
        elif not types or any(t not in TYPES for t in types):
            raise ValueError(
                f"{where}: 'type' must be one or more of {', '.join(TYPES)}, or {BAD_RATING} alone"
            )
        if entry["stage"] not in stages:
            raise ValueError(f"{where}: 'stage' must be one of {', '.join(stages)}")
        if entry["start_event"] not in starts:
            raise ValueError(f"{where}: 'start_event' must be one of {', '.join(starts)}")
        pauses = entry.get("pause_events") or []
        if not isinstance(pauses, list) or any(p not in pause_kinds for p in pauses):
            raise ValueError(f"{where}: 'pause_events' must list some of {', '.join(pause_kinds)}")
        share = entry.get("warning_share")
        if share is not None and (
            isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share < 1
        ):
            raise ValueError(f"{where}: 'warning_share' must be between 0 and 1, got {share!r}")
        days = _days(entry, "working_days", where)
        complex_days = (
            _days(entry, "complex_working_days", where) if "complex_working_days" in entry else days
        )
        for case_type in types:
            policy = Policy(
                case_type=case_type,
                stage=entry["stage"],
                working_days=days,
                complex_working_days=complex_days,
                start_event=entry["start_event"],
                pause_events=tuple(pauses),
                warning_share=float(share) if share is not None else None,
            )
            if any(
                (p.case_type, p.stage, p.start_event)
                == (policy.case_type, policy.stage, policy.start_event)
                for p in result
            ):
                raise ValueError(
                    f"{where}: a policy for {policy.kind} from {policy.start_event} exists"
                )
            if case_type == BAD_RATING and any(p.case_type == BAD_RATING for p in result):
                raise ValueError(f"{where}: the bad_rating rectification period is set twice")
            result.append(policy)
    return Policies(result)


def policy_file() -> Path:
    return Path(os.environ.get(ENV_VAR) or DEFAULT_FILE)


def load_policies(path: Path | str | None = None) -> Policies:
    path = Path(path) if path else policy_file()
    try:
        return parse_policies(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
