"""Accountability's rules (pure): the strike ladder, department deductions, separated duties.

Nothing here touches the database or the broker. The service loads the confirmed findings of a
staff member, asks :class:`StrikeLadder` which sanctions each should carry, and diffs that with
the sanctions on record (:func:`plan_sanctions`); an upheld appeal is just a recount. The audit
chain is :mod:`services.accountability.chain`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo

from services.common import fields
from services.common.errors import InvalidField

CAUSES = ("unfamiliar", "process", "attitude")
SANCTION_KINDS = ("reminder_talk", "bonus_withheld", "award_ineligible", "dismissal", "training")
# Department deductions by the coordination event that causes them.
DEDUCTION_REASONS = {
    "department_absent": "无正当理由缺席联席会议",
    "assignment_not_delivered": "联席会议交办事项未按期落实",
    "deadline_breached": "超出办理时限",
}
# A case in one of these states is over: its first receiver's responsibility ends.
CLOSING_STATES = ("archived", "closed")
MAX_TEXT = 4000


# -- configuration -------------------------------------------------------------------------


@dataclass(frozen=True)
class CountingPeriod:
    """Periods of ``months`` months starting in ``start_month``; the default is the calendar
    year, which is the assessment year of the reference district."""

    months: int = 12
    start_month: int = 1

    def __post_init__(self):
        if self.months not in (1, 2, 3, 4, 6, 12):
            raise ValueError("counting_period.months must divide a year (1, 2, 3, 4, 6 or 12)")
        if not 1 <= self.start_month <= 12:
            raise ValueError("counting_period.start_month must be 1..12")

    def of(self, day: date) -> str:
        """The label of the period holding ``day``, e.g. ``2026`` or ``2026-07..2027-06``."""
        index = (day.year * 12 + day.month - 1) - (self.start_month - 1)
        start = index - index % self.months
        first_year, first_month = divmod(start + self.start_month - 1, 12)
        if self.months == 12 and self.start_month == 1:
            return str(first_year)
        last = start + self.start_month - 1 + self.months - 1
        last_year, last_month = divmod(last, 12)
        return f"{first_year}-{first_month + 1:02d}..{last_year}-{last_month + 1:02d}"


@dataclass(frozen=True)
class CauseRule:
    """What a confirmed finding of one cause gives: the sanctions of each strike in a period
    (the last rung repeats), which need HR's confirmation, and whether the department gets
    an improvement action instead of a personal sanction."""

    ladder: tuple[tuple[str, ...], ...] = ()
    needs_confirmation: frozenset[str] = frozenset()
    improvement_action: bool = False

    @property
    def counts_strikes(self) -> bool:
        return bool(self.ladder)


@dataclass(frozen=True)
class SanctionRules:
    causes: Mapping[str, CauseRule]
    period: CountingPeriod = field(default_factory=CountingPeriod)


def sanction_rules(raw: Mapping) -> SanctionRules:
    """Check and build the sanction rules from the YAML document (a dict)."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("causes"), Mapping):
        raise ValueError("sanction rules need a 'causes' mapping")
    period_raw = raw.get("counting_period") or {}
    period = CountingPeriod(
        months=int(period_raw.get("months", 12)), start_month=int(period_raw.get("start_month", 1))
    )
    causes = {}
    for cause, rule in raw["causes"].items():
        if cause not in CAUSES:
            raise ValueError(f"unknown cause {cause!r}; expected one of {CAUSES}")
        rule = rule or {}
        ladder = tuple(tuple(rung or ()) for rung in rule.get("ladder") or ())
        confirm = frozenset(rule.get("needs_confirmation") or ())
        for kind in {k for rung in ladder for k in rung} | confirm:
            if kind not in SANCTION_KINDS:
                raise ValueError(f"unknown sanction {kind!r} for {cause}")
        causes[cause] = CauseRule(ladder, confirm, bool(rule.get("improvement_action")))
    missing = set(CAUSES) - set(causes)
    if missing:
        raise ValueError(f"sanction rules miss causes {sorted(missing)}")
    return SanctionRules(causes=causes, period=period)


@dataclass(frozen=True)
class AssessmentPoints:
    base_score: float
    points: Mapping[str, float]

    def for_reason(self, reason_code: str) -> float:
        return self.points[reason_code]


def assessment_points(raw: Mapping) -> AssessmentPoints:
    """Check and build the department assessment points from the YAML document."""
    points = dict((raw or {}).get("points") or {})
    missing = set(DEDUCTION_REASONS) - set(points)
    if missing:
        raise ValueError(f"assessment points miss reasons {sorted(missing)}")
    for reason, value in points.items():
        if reason not in DEDUCTION_REASONS or float(value) < 0:
            raise ValueError(f"bad assessment points entry {reason}: {value}")
    return AssessmentPoints(
        base_score=float(raw.get("base_score", 100)),
        points={reason: float(value) for reason, value in points.items()},
    )


# -- the strike ladder ---------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """A finding as the ladder sees it. ``counts`` is False for no-fault and overturned ones."""

    id: int
    cause: str | None
    on: date
    counts: bool = True


def counting_finding(row: Mapping) -> Finding:
    """A stored finding as the ladder sees it: it counts while confirmed and not no-fault."""
    return Finding(
        id=row["id"],
        cause=row["cause"],
        on=row["found_on"],
        counts=row["status"] == "confirmed" and not row["no_fault"],
    )


@dataclass(frozen=True)
class Strike:
    finding_id: int
    cause: str
    period: str
    strike_no: int
    sanctions: tuple[str, ...]


class StrikeLadder:
    """Numbers a staff member's counting findings per cause and period, and gives each the
    sanctions of its rung. Recounting after an appeal is calling :meth:`strikes` again."""

    def __init__(self, rules: SanctionRules):
        self.rules = rules

    def period_of(self, day: date) -> str:
        return self.rules.period.of(day)

    def strikes(self, findings: Iterable[Finding]) -> dict[int, Strike]:
        counted: dict[tuple[str, str], int] = {}
        result = {}
        for finding in sorted(findings, key=lambda f: (f.on, f.id)):
            rule = self.rules.causes.get(finding.cause) if finding.cause else None
            if not finding.counts or rule is None or not rule.counts_strikes:
                continue
            period = self.period_of(finding.on)
            number = counted.get((finding.cause, period), 0) + 1
            counted[(finding.cause, period)] = number
            rung = rule.ladder[min(number, len(rule.ladder)) - 1]
            result[finding.id] = Strike(finding.id, finding.cause, period, number, rung)
        return result


class Rules:
    """The rules a decision is taken by: sanctions and their ladder, assessment points, and the
    district's time zone (the day a finding is counted on, the year a deduction falls in)."""

    def __init__(self, sanctions: SanctionRules, points: AssessmentPoints, timezone: tzinfo):
        self.sanctions = sanctions
        self.points = points
        self.timezone = timezone
        self.ladder = StrikeLadder(sanctions)


@dataclass(frozen=True)
class SanctionOnRecord:
    id: int
    finding_id: int
    kind: str
    strike_no: int


@dataclass(frozen=True)
class SanctionPlan:
    """What to change so the sanctions on record match the ladder."""

    apply: tuple[tuple[int, str, int], ...]  # (finding_id, kind, strike_no)
    revoke: tuple[int, ...]  # sanction ids
    renumber: tuple[tuple[int, int], ...]  # (sanction id, new strike_no)


def plan_sanctions(
    strikes: Mapping[int, Strike], on_record: Iterable[SanctionOnRecord]
) -> SanctionPlan:
    """Diff the live sanctions on record with the ladder: a sanction keeps its identity as long
    as its finding still carries that kind; only its strike number may move."""
    wanted = {(s.finding_id, kind): s.strike_no for s in strikes.values() for kind in s.sanctions}
    revoke, renumber, seen = [], [], set()
    for sanction in sorted(on_record, key=lambda s: s.id):
        key = (sanction.finding_id, sanction.kind)
        if key not in wanted or key in seen:
            revoke.append(sanction.id)
            continue
        seen.add(key)
        if wanted[key] != sanction.strike_no:
            renumber.append((sanction.id, wanted[key]))
    apply = sorted(
        (fid, kind, number) for (fid, kind), number in wanted.items() if (fid, kind) not in seen
    )
    return SanctionPlan(tuple(apply), tuple(revoke), tuple(renumber))


def initial_status(rules: SanctionRules, cause: str, kind: str) -> str:
    """``recommended`` for sanctions HR must confirm (dismissal), else ``applied``."""
    return "recommended" if kind in rules.causes[cause].needs_confirmation else "applied"


# -- requests ------------------------------------------------------------------------------


def _text(payload: Mapping, name: str, label: str, required: bool = True) -> str | None:
    return fields.text_field(payload, name, label, max_length=MAX_TEXT, required=required)


@dataclass(frozen=True)
class FindingRequest:
    staff_id: str | None
    cause: str | None
    finding: str
    no_fault: bool


def check_finding(payload: Mapping) -> FindingRequest:
    """A supervisor's finding: who, which cause and the facts; no fault needs only the facts."""
    no_fault = payload.get("no_fault", False)
    if not isinstance(no_fault, bool):
        raise InvalidField("no_fault 应为 true 或 false", "no_fault")
    finding = _text(payload, "finding", "调查结论（事实）")
    staff_id = _text(payload, "staff_id", "责任人", required=not no_fault)
    cause = payload.get("cause")
    if cause is None and no_fault:
        return FindingRequest(staff_id, None, finding, True)
    if cause not in CAUSES:
        raise InvalidField("原因应为 unfamiliar、process 或 attitude 之一", "cause")
    return FindingRequest(staff_id, cause, finding, no_fault)


def check_reason(payload: Mapping, name: str = "reason", label: str = "理由") -> str:
    return _text(payload, name, label)


def check_appeal_decision(payload: Mapping) -> tuple[bool, str]:
    upheld = payload.get("upheld")
    if not isinstance(upheld, bool):
        raise InvalidField("upheld 应为 true（申诉成立）或 false（驳回）", "upheld")
    return upheld, check_reason(payload, "reason", "决定理由")


# -- department deductions -----------------------------------------------------------------


@dataclass(frozen=True)
class Deduction:
    natural_key: str
    department: str
    year: int
    points: float
    reason_code: str
    reason: str
    case_no: str | None
    meeting_id: str | None
    deadline_id: str | None
    at: datetime


def deduction_for(
    event_type: str, data: Mapping, points: AssessmentPoints, tz, occurred_at=None
) -> Deduction | None:
    """The deduction a coordination event causes, keyed so a fact is deducted once; None when
    the event names no department. An event without a time of its own is dated by
    ``occurred_at``."""
    department = data.get("department")
    if not department or event_type not in DEDUCTION_REASONS:
        return None
    case_nos = data.get("case_nos") or []
    case_no = data.get("case_no") or (case_nos[0] if len(case_nos) == 1 else None)
    meeting_id = data.get("meeting_id")
    deadline_id = data.get("deadline_id")
    reason = DEDUCTION_REASONS[event_type]
    if event_type == "department_absent":
        key = f"absent:{meeting_id}:{department}"
        when = data.get("at")
    elif event_type == "assignment_not_delivered":
        key = f"not_delivered:{meeting_id}:{case_no}:{department}:{data.get('task')}"
        when = data.get("due")
        reason = f"{reason}：{data.get('task')}" if data.get("task") else reason
    else:
        key = f"deadline_breached:{deadline_id}"
        when = data.get("due_at")
        if data.get("kind"):
            reason = f"{reason}（{data['kind']}）"
    at = parse_time(when or occurred_at, tz)
    return Deduction(
        natural_key=key,
        department=department,
        year=at.astimezone(tz).year,
        points=points.for_reason(event_type),
        reason_code=event_type,
        reason=reason,
        case_no=case_no,
        meeting_id=str(meeting_id) if meeting_id is not None else None,
        deadline_id=str(deadline_id) if deadline_id is not None else None,
        at=at,
    )


def unexcused_absences(minutes: Mapping, occurred_at) -> list[dict]:
    """The ``department_absent`` facts in a meeting's minutes: every department absent without a
    valid reason. Deducted from the minutes even if coordination's own ``department_absent``
    event comes later or never; both share one natural key, so the fact is deducted once."""
    return [
        {
            "meeting_id": minutes.get("meeting_id"),
            "case_nos": minutes.get("case_nos"),
            "department": row.get("department"),
            "actor": minutes.get("actor"),
            "at": minutes.get("at") or occurred_at,
        }
        for row in minutes.get("attendance") or []
        if not row.get("present") and not row.get("valid_reason")
    ]


def ends_first_responsibility(event_type: str, data: Mapping) -> bool:
    """A resolved, archived or closed case ends its first receiver's watch over it."""
    return event_type == "case_resolved" or (
        event_type == "case_state_changed" and data.get("to_state") in CLOSING_STATES
    )


def parse_time(value, tz) -> datetime:
    """An ISO 8601 time or date from an event; a date or naive time is local (``tz``)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    else:
        parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


def department_scores(
    departments: Iterable[Mapping], deductions: Iterable[Mapping], base_score: float
) -> list[dict]:
    """Each department's score: the base less its deductions still standing."""
    by_department: dict[str, list[Mapping]] = {}
    for deduction in deductions:
        by_department.setdefault(deduction["department"], []).append(deduction)
    names = {d["code"]: d.get("name") for d in departments}
    result = []
    for code in sorted(set(names) | set(by_department)):
        items = by_department.get(code, [])
        deducted = sum(float(d["points"]) for d in items if d["status"] == "recorded")
        result.append(
            {
                "department": code,
                "name": names.get(code),
                "score": round(base_score - deducted, 2),
                "deducted": round(deducted, 2),
                "deductions": [dict(d) for d in items],
            }
        )
    return result


# -- separated duties ----------------------------------------------------------------------

# Who takes which decision (DESIGN §2): supervisors investigate, find and decide appeals; HR
# (人事) confirms or rejects a dismissal a finding recommends, never the finding's author.
FINDING_ROLES = frozenset({"supervisor"})
SANCTION_DECIDING_ROLES = frozenset({"hr"})
APPEAL_DECIDING_ROLES = frozenset({"supervisor"})
DEDUCTION_WITHDRAWING_ROLES = frozenset({"supervisor"})


def finding_refusal(actor: Mapping) -> str | None:
    """Why ``actor`` may not record a finding (None: they may)."""
    if actor.get("role") not in FINDING_ROLES:
        return "只有督查人员可以认定调查结论"
    return None


def sanction_decision_refusal(actor: Mapping, finding: Mapping) -> str | None:
    """Why ``actor`` may not confirm or reject the sanction ``finding`` recommends."""
    if actor.get("role") not in SANCTION_DECIDING_ROLES:
        return "只有人事部门可以确认或驳回辞退建议"
    if actor.get("id") == finding["recorded_by"]:
        return "认定该调查结论的人员不能确认或驳回由此提出的处理建议（职责分离）"
    if actor.get("id") == finding["staff_id"]:
        return "不能确认或驳回对本人的处理建议"
    return None


def appeal_decision_refusal(actor: Mapping, appeal: Mapping) -> str | None:
    """Why ``actor`` may not decide ``appeal``: a supervisor decides, never its filer nor the
    staff member it is for."""
    if actor.get("role") not in APPEAL_DECIDING_ROLES:
        return "只有督查人员可以决定申诉"
    if actor.get("id") == appeal["filed_by"]:
        return "提出申诉的人员不能决定该申诉（职责分离）"
    if actor.get("id") == appeal["staff_id"]:
        return "不能决定对本人的申诉"
    return None


def deduction_withdrawal_refusal(actor: Mapping) -> str | None:
    if actor.get("role") not in DEDUCTION_WITHDRAWING_ROLES:
        return "只有督查人员可以撤销考核扣分"
    return None
