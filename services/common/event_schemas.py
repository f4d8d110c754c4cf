"""What each event type's ``data`` must hold before a consumer may handle it (pure: no I/O).

The registry below is docs/events.md reduced to what consumers rely on: for each
(source service, event type) the fields a handler reads without a default, and their kinds.
Producers may send more (consumers ignore what they do not know); a field that is missing,
or of the wrong kind, makes the event poison — handling it would fail on every delivery — so
:func:`problem` names it and the consumer dead-letters the message at once.

Rules, in order:

* the message is an envelope (:data:`services.common.events.REQUIRED_FIELDS`), its ``type``
  is the handler's and its ``source_service`` the exchange's it came from;
* ``version`` is a whole number the consumer knows (1, or a type's newer version in
  :data:`DATA_VERSIONS`); a newer one waits in the dead-letter queue until the consumer is
  upgraded and it is re-published;
* ``data`` has every field of the type's entry with the right kind. A type with no entry
  (a probe, a test event) is checked as an envelope only.

Problem messages name fields and kinds, never values: dead letters may be listed by an
operator, and a value could be personal data.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from services.common.events import ENVELOPE_VERSION, REQUIRED_FIELDS


@dataclass(frozen=True)
class Kind:
    """A kind of field value: ``accepts(value)`` says whether a value is one."""

    name: str
    accepts: Callable[[object], bool]


def _text(value) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _identifier(value) -> bool:
    # database ids travel as numbers, natural keys as text
    return (isinstance(value, int) and not isinstance(value, bool)) or _text(value)


def _time(value) -> bool:
    if not isinstance(value, str):
        return False
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return False
    return moment.tzinfo is not None


def _texts(value) -> bool:
    return isinstance(value, list) and all(_text(item) for item in value)


def _objects(value) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)


def one_of(*values: str) -> Kind:
    """A text that is one of ``values``."""
    return Kind("one of " + "/".join(values), lambda value: value in values)


def nullable(kind: Kind) -> Kind:
    """The field must be present, and is ``kind`` or null."""
    return Kind(f"{kind.name} or null", lambda value: value is None or kind.accepts(value))


TEXT = Kind("a non-empty text", _text)
IDENTIFIER = Kind("an id (number or text)", _identifier)
TIME = Kind("an ISO 8601 time with offset", _time)
BOOLEAN = Kind("true or false", lambda value: isinstance(value, bool))
TEXTS = Kind("a list of texts", _texts)
OBJECTS = Kind("a list of objects", _objects)
CASE_TYPE = one_of("cannot", "hard", "refused", "pending")

CASE = {"case_no": TEXT}
RATING_LEVEL = Kind("a rating level 1–5", lambda value: type(value) is int and 1 <= value <= 5)
BAD_RATING_STEP = {**CASE, "site": TEXT, "at": TIME}  # a step of the 差评 loop
DEADLINE = {**CASE, "deadline_id": IDENTIFIER}
MEETING = {"meeting_id": IDENTIFIER, "case_nos": TEXTS}
SANCTION = {"sanction_id": IDENTIFIER, "staff_id": TEXT, "kind": TEXT}
APPEAL = {"appeal_id": IDENTIFIER, "finding_id": IDENTIFIER}
DEDUCTION = {"deduction_id": IDENTIFIER, "department": TEXT}

# (source service, event type) -> {field: kind}; see docs/events.md for every field sent
EVENT_DATA: dict[tuple[str, str], dict[str, Kind]] = {
    ("intake", "case_registered"): {
        **CASE,
        "site": TEXT,
        "window": nullable(TEXT),
        "matter": TEXT,
        "department": TEXT,
        "channel": TEXT,
        "received_at": TIME,
        "first_receiver": nullable(TEXT),
    },
    # the cases one transaction opened (a ratings batch's): each item a case_registered's data
    ("intake", "cases_registered"): {"cases": OBJECTS},
    ("intake", "case_helper_added"): {**CASE, "staff_id": TEXT},
    ("intake", "return_visit_recorded"): {**CASE, "at": TIME, "satisfied": BOOLEAN},
    ("intake", "ratings_received"): {"counts": OBJECTS},
    ("intake", "suggestion_recorded"): {"site": TEXT, "channel": TEXT, "at": TIME},
    # a site node's case for the district's intake (docs/network.md): the copy is sealed
    ("intake", "site_case_recorded"): {**CASE, "site": TEXT, "copy": TEXT},
    ("coordination", "case_classified"): {**CASE, "type": CASE_TYPE},
    ("coordination", "case_state_changed"): {**CASE, "to_state": TEXT},
    ("coordination", "explanation_given"): CASE,
    ("coordination", "refusal_reviewed"): {**CASE, "refusal_id": IDENTIFIER, "result": TEXT},
    ("coordination", "measure_added"): {**CASE, "measure_id": IDENTIFIER},
    ("coordination", "measure_response_recorded"): {**CASE, "measure_id": IDENTIFIER},
    ("coordination", "deadline_set"): {**DEADLINE, "kind": TEXT, "due_at": TIME},
    ("coordination", "deadline_paused"): DEADLINE,
    ("coordination", "deadline_resumed"): DEADLINE,
    ("coordination", "deadline_warning"): {**DEADLINE, "kind": TEXT},
    ("coordination", "deadline_breached"): {**DEADLINE, "kind": TEXT},
    ("coordination", "joint_meeting_convened"): MEETING,
    ("coordination", "joint_meeting_minuted"): MEETING,
    ("coordination", "department_absent"): {"meeting_id": IDENTIFIER, "department": TEXT},
    ("coordination", "assignment_not_delivered"): {
        **CASE,
        "meeting_id": IDENTIFIER,
        "department": TEXT,
    },
    ("coordination", "case_replied"): {**CASE, "replied_at": TIME},
    ("coordination", "case_resolved"): CASE,
    ("coordination", "practice_promoted"): {
        "practice_id": IDENTIFIER,
        "matter": TEXT,
        "title": TEXT,
        "windows": TEXTS,
    },
    ("coordination", "bad_rating_verified"): {**BAD_RATING_STEP, "genuine": BOOLEAN},
    ("coordination", "bad_rating_appealed"): BAD_RATING_STEP,
    ("coordination", "bad_rating_appeal_decided"): {**BAD_RATING_STEP, "upheld": BOOLEAN},
    ("coordination", "bad_rating_rectified"): {
        **BAD_RATING_STEP,
        "on_time": nullable(BOOLEAN),
    },
    ("coordination", "bad_rating_answered"): BAD_RATING_STEP,
    ("coordination", "bad_rating_re_rated"): {
        **BAD_RATING_STEP,
        "level": RATING_LEVEL,
        "improved": nullable(BOOLEAN),
    },
    ("accountability", "investigation_opened"): {**CASE, "investigation_id": IDENTIFIER},
    ("accountability", "finding_recorded"): {**CASE, "investigation_id": IDENTIFIER},
    ("accountability", "sanction_applied"): SANCTION,
    ("accountability", "sanction_revoked"): SANCTION,
    ("accountability", "sanction_confirmed"): SANCTION,
    ("accountability", "sanction_rejected"): SANCTION,
    ("accountability", "improvement_action_assigned"): {
        "action_id": IDENTIFIER,
        "finding_id": IDENTIFIER,
    },
    ("accountability", "appeal_filed"): APPEAL,
    ("accountability", "appeal_decided"): APPEAL,
    ("accountability", "deduction_recorded"): DEDUCTION,
    ("accountability", "deduction_withdrawn"): DEDUCTION,
}


# the newest ``data`` version of a type whose shape changed (the others: ENVELOPE_VERSION);
# consumers read every version up to it. ratings_received 2: counts per (day, site, level)
DATA_VERSIONS: dict[tuple[str, str], int] = {("intake", "ratings_received"): 2}


def problem(message, source_service: str, event_type: str) -> str | None:
    """Why ``message`` cannot be handled as ``source_service``'s ``event_type``; None if it can."""
    if not isinstance(message, dict):
        return "not an event envelope (not a JSON object)"
    missing = [field for field in REQUIRED_FIELDS if field not in message]
    if missing:
        return "not an event envelope (missing " + ", ".join(missing) + ")"
    if message["type"] != event_type:
        return f"type is not {event_type}"
    if message["source_service"] != source_service:
        return f"source_service is not {source_service}"
    if not _text(message["id"]):
        return "id is not a non-empty text"
    if not _time(message["occurred_at"]):
        return "occurred_at is not an ISO 8601 time with offset"
    version = message["version"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        return "version is not a positive whole number"
    known = DATA_VERSIONS.get((source_service, event_type), ENVELOPE_VERSION)
    if version > known:
        return f"version {version} is newer than this consumer knows ({known})"
    data = message["data"]
    if not isinstance(data, dict):
        return "data is not a JSON object"
    reason = _data_problem(data, EVENT_DATA.get((source_service, event_type), {}), "data")
    if reason is None and (source_service, event_type) in BATCHES:
        item_type, field = BATCHES[(source_service, event_type)]
        if not data[field]:
            return f"data.{field} is empty"
        for index, item in enumerate(data[field]):
            reason = _data_problem(
                item, EVENT_DATA[(source_service, item_type)], f"{field}[{index}]"
            )
            if reason is not None:
                break
    return reason


# a batch type: its list field holds the data of one event of another type each
BATCHES = {("intake", "cases_registered"): ("case_registered", "cases")}


def _data_problem(data: dict, fields: dict[str, Kind], where: str) -> str | None:
    for field, kind in fields.items():
        if field not in data:
            return f"{where}.{field} is missing"
        if not kind.accepts(data[field]):
            return f"{where}.{field} is not {kind.name}"
    return None
