"""Precedents (先例): the archived cases most like a new one, and how each ended (pure: no I/O).

A case becomes a precedent once it is resolved (closed and archived follow): its description
(intake's ``case_registered``, the applicant's own name, ID number and phone already replaced by
intake), its matter, its type (``case_classified``), its outcome and summary (``case_resolved``)
and the standard practice promoted from it (``practice_promoted``). The read model
``reporting.precedents`` keeps one row per case, built by :func:`apply` from those events in any
order, like every other read model here (the replay rebuilds it from the log); the compared
texts of the settled ones are kept apart, partitioned by matter (``reporting.precedent_texts``,
see migration 0005), while :func:`compared` holds.

Similarity is PostgreSQL's ``pg_trgm`` ``word_similarity(text, description)`` — how well the
typed text matches some stretch of an earlier description — on the first
:data:`SEARCH_CHARS` characters. In a UTF-8 database pg_trgm makes trigrams of Chinese
characters too, but a Chinese "word" is a whole run of characters without spaces, so scores are
low: on this server a paraphrase of a description (same problem, other words) scores 0.18–0.8
and an unrelated one 0 (no three characters in a row in common); see
``tests/integration/test_precedents_read_model.py``. Hence the thresholds below, stepped down
only until enough precedents are found (a lower threshold costs more rows to compare).

Ranking: the same matter first, then other matters (down to the last of
:data:`OTHER_MATTER_THRESHOLDS` only: a clearly similar text), each by word similarity, then by
the whole texts' similarity (a precise description before a long one that happens to hold the
phrase), then by case number. Each threshold step ranks the first :data:`SAMPLE` rows that reach
it, so within the lowest step reached the order is the best of a sample: the price of answering
in the form's typing rhythm over a million cases (see ``bench/precedents.py``).

What a viewer sees (:func:`present`): precedents are knowledge, shared by the district, and
carry no personal data (descriptions and summaries pass :func:`redact`, which hides ID numbers,
credit codes and phone numbers wherever they were typed). A role that sees every site gets the
case number and site of each; window staff get them for their own site's cases only: another
site's precedent is shown by its knowledge fields alone (matter, type, description, outcome,
summary, practice, similarity), with ``case_no`` and ``site`` null — they could not open it.
"""

import re

from services.common.vocabulary import OUTCOME_LABELS, TYPE_LABELS, label
from services.reporting.domain import CLOSED_STATES, parse_time

# the events that change a precedent row
PRECEDENT_EVENTS = frozenset(
    {
        "case_registered",
        "case_classified",
        "case_resolved",
        "case_state_changed",
        "practice_promoted",
    }
)
PRECEDENT_FIELDS = (
    "case_no",
    "site",
    "matter",
    "description",
    "search_text",
    "type",
    "outcome",
    "summary",
    "practice_id",
    "practice",
    "state",
    "state_at",
    "resolved_at",
    "settled",
)
# compared text: the start of a description says what it is about, and the cost of comparing a
# row grows with its length (descriptions may hold 2,000 characters)
SEARCH_CHARS = 200
MIN_QUERY_CHARS = 2
# tried in turn, highest first, until ``limit`` precedents are found: each step ranks the first
# SAMPLE rows that reach its threshold (so a phrase thousands of cases share costs SAMPLE
# comparisons), and what a step found stays found. The same matter goes down to what a
# paraphrase scores; another matter needs a clearly similar text.
SAME_MATTER_THRESHOLDS = (0.6, 0.35, 0.15)
OTHER_MATTER_THRESHOLDS = (0.5,)
SAMPLE = 50
DEFAULT_LIMIT = 5
MAX_LIMIT = 20

HIDDEN = "［已隐去］"
# 18-character unified social credit codes and ID numbers (and any longer run of digits),
# 15-digit ID numbers, mobile and fixed-line phone numbers
_PERSONAL = re.compile(
    r"(?<![0-9A-Za-z])(?:"
    r"[0-9A-Z]{2}\d{6}[0-9A-Z]{10}"
    r"|\d{17}[\dXx]|\d{15,}"
    r"|1[3-9]\d{9}"
    r"|0\d{2,3}-?\d{7,8}"
    r")(?![0-9A-Za-z])"
)
_SPACES = re.compile(r"\s+")


def redact(text: str | None) -> str | None:
    """``text`` with every ID number, credit code and phone number replaced by ［已隐去］."""
    if text is None:
        return None
    return _PERSONAL.sub(HIDDEN, text)


def search_text(text: str | None) -> str:
    """What similarity compares: redacted, spaces collapsed, the first :data:`SEARCH_CHARS`."""
    return _SPACES.sub(" ", redact(text or "")).strip()[:SEARCH_CHARS]


def query_text(text: str | None) -> str | None:
    """The typed text as it is compared; None when it is too short to mean anything."""
    compared = search_text(text)
    return compared if len(compared) >= MIN_QUERY_CHARS else None


def blank(case_no: str) -> dict:
    row = dict.fromkeys(PRECEDENT_FIELDS)
    row.update(case_no=case_no, settled=False)
    return row


def target(event: dict) -> str | None:
    """The case whose precedent row ``event`` changes (None: it changes none)."""
    if event["type"] not in PRECEDENT_EVENTS:
        return None
    return event["data"].get("case_no") or None


def _fill(row: dict, **values) -> None:
    for name, value in values.items():
        if row.get(name) is None and value is not None:
            row[name] = value


def apply(row: dict, event: dict) -> dict:
    """The precedent row after ``event`` (a new dict). Events may come in any order: a later
    state wins over an earlier one by its time, as in :mod:`services.reporting.domain`."""
    row = dict(row)
    kind, data = event["type"], event["data"]
    if kind == "case_registered":
        row.update(site=data["site"], matter=data["matter"])
        if data.get("description") is not None:
            row["description"] = redact(data["description"])
            row["search_text"] = search_text(data["description"])
    elif kind == "case_classified":
        row["type"] = data["type"]
        _fill(row, site=data.get("site"), matter=data.get("matter"))
    elif kind == "case_resolved":
        row.update(
            outcome=data.get("outcome"),
            summary=redact(data.get("summary")),
            resolved_at=parse_time(data.get("at")),
        )
        _fill(row, type=data.get("type"), site=data.get("site"), matter=data.get("matter"))
        _move_to(row, "resolved", data.get("at"))
    elif kind == "case_state_changed":
        _move_to(row, data["to_state"], data.get("at"))
        _fill(row, type=data.get("type"), site=data.get("site"))
    elif kind == "practice_promoted":
        row.update(practice_id=str(data["practice_id"]), practice=data.get("title"))
        _fill(row, matter=data.get("matter"))
    row["settled"] = row["state"] in CLOSED_STATES
    return row


def _move_to(row: dict, state: str, at) -> None:
    at = parse_time(at)
    if row["state_at"] is None or at is None or at >= row["state_at"]:
        row["state"], row["state_at"] = state, at


def compared(row: dict) -> bool:
    """Whether the row's text is among those a registration is compared with: a settled case
    with a matter and a description."""
    return bool(row["settled"] and row["matter"] and row["search_text"])


def check_limit(limit) -> int:
    """A page of precedents: 1 to :data:`MAX_LIMIT` (a bad value: the default)."""
    try:
        return max(1, min(int(limit), MAX_LIMIT))
    except (TypeError, ValueError):
        return DEFAULT_LIMIT


def ranked(same_matter: list[dict], other_matters: list[dict], limit: int) -> list[dict]:
    """Same-matter precedents first, then other matters, each by similarity (then case
    number), without repeats, at most ``limit``."""

    def order(row):
        return (-float(row["similarity"]), -float(row.get("whole") or 0), row["case_no"])

    seen, result = set(), []
    for group in (sorted(same_matter, key=order), sorted(other_matters, key=order)):
        for row in group:
            if row["case_no"] not in seen:
                seen.add(row["case_no"])
                result.append(row)
    return result[:limit]


def present(row: dict, matter: str | None, viewer_site: str | None) -> dict:
    """One precedent as the API shows it to a viewer of ``viewer_site`` (None: every site)."""
    own = viewer_site is None or row["site"] == viewer_site
    return {
        "case_no": row["case_no"] if own else None,
        "site": row["site"] if own else None,
        "similarity": round(float(row["similarity"]), 3),
        "same_matter": matter is not None and row["matter"] == matter,
        "matter": row["matter"],
        "type": row["type"],
        "type_name": label(TYPE_LABELS, row["type"]) if row["type"] else None,
        "outcome": row["outcome"],
        "outcome_name": label(OUTCOME_LABELS, row["outcome"]) if row["outcome"] else None,
        "summary": row["summary"],
        "practice": row["practice"],
        "description": row["description"],
    }
