"""The staff pages' forms as the API's bodies, and a refused form shown again (pure).

Inputs are named after the API's fields (``applicant.name``, ``missing_key_materials[0].name``),
so a service's error names the input it belongs to. Nothing is validated here beyond what a
form cannot express: what was typed goes on for the service to accept or refuse by its field.
"""

import hmac
import re
import secrets
from datetime import datetime
from zoneinfo import ZoneInfo

from services.common import errors

DEFAULT_TZ = "Asia/Shanghai"
ROW_FIELD = re.compile(r"^(?P<list>[a-z_]+)\[(?P<index>\d+)\]\.(?P<key>[a-z_]+)$")
# the lists of rows a form may have, and the inputs that make a row not blank
ROW_LISTS = {
    "missing_key_materials": ("name", "how_to_obtain"),
    "assignments": ("task", "due", "department"),
}
# inputs that may carry several values (checkbox groups)
MULTI_FIELDS = ("departments", "worked_measures", "case_nos")


# -- CSRF: every page form carries the token of its browser's CSRF cookie (double submit) --------

CSRF_COOKIE = "bancheng_csrf"
CSRF_FIELD = "csrf_token"


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_matches(form, cookies) -> bool:
    """The form's CSRF field is its browser's CSRF cookie: another site can make the browser
    post a form, but can neither read nor set this site's cookie, so cannot know the value."""
    sent, expected = form.get(CSRF_FIELD) or "", cookies.get(CSRF_COOKIE) or ""
    return bool(expected) and hmac.compare_digest(sent.encode(), expected.encode())


# -- inputs ------------------------------------------------------------------------------------


def text_value(form, name: str) -> str:
    return (form.get(name) or "").strip()


def lines(text: str | None) -> list[str]:
    """A textarea's non-blank lines, trimmed."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def checkbox(form, name: str) -> bool:
    return form.get(name) in ("on", "true", "1")


def yes_no(value):
    """A yes/no select as JSON's true/false; anything else goes on for the service to refuse."""
    return {"yes": True, "no": False}.get(value, value or None)


def chosen(form, name: str) -> list[str]:
    """The values of a group of checkboxes, or of a multi-select."""
    return [value.strip() for value in form.getlist(name) if value.strip()]


def codes_in(text: str | None) -> list[str]:
    """``W01, W02`` or ``W01 W02`` → ``["W01", "W02"]``."""
    return [code for code in re.split(r"[\s,，、;；]+", text or "") if code]


def local_moment(value: str, tz: str = DEFAULT_TZ) -> str:
    """An ``<input type=datetime-local>`` value (no offset: the hall's local time) as ISO 8601.

    What is not a time is passed on as typed, for the service to name the field.
    """
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(tz))
    return moment.isoformat()


def form_rows(form, name: str, keys: tuple[str, ...]) -> list[dict]:
    """Rows of inputs named ``name[i].key``, in order, without the ones left wholly blank.

    The rows are renumbered, so the service's ``name[k]`` in an error is the k-th row shown
    again (:func:`form_values` renumbers the same way).
    """
    rows: dict[int, dict] = {}
    for field in form:
        match = ROW_FIELD.match(field)
        if match and match["list"] == name:
            rows.setdefault(int(match["index"]), {})[match["key"]] = text_value(form, field)
    return [row for _, row in sorted(rows.items()) if any(row.get(key) for key in keys)]


# -- a refused form ------------------------------------------------------------------------


def error_field(field: str | None) -> str | None:
    """The form input an error belongs to: ``materials_missing[2]`` → ``materials_missing``."""
    if not field:
        return None
    return field.split("[", 1)[0]


def form_values(form) -> dict:
    """What was typed, to fill the form again; rows renumbered as :func:`form_rows` does."""
    values = {}
    for field in form:
        match = ROW_FIELD.match(field)
        if match and match["list"] in ROW_LISTS:
            continue
        values[field] = form.getlist(field) if field in MULTI_FIELDS else form.get(field, "")
    for name, keys in ROW_LISTS.items():
        for index, row in enumerate(form_rows(form, name, keys)):
            for key, value in row.items():
                values[f"{name}[{index}].{key}"] = value
    return values


def form_state(form, error: errors.BanchengError) -> dict:
    """A refused form again: what was typed, and the message by the input the service named.

    A row's error (``assignments[1].due``) keeps its full name, so it shows by that row.
    """
    field = error.field or ""
    key = field if ROW_FIELD.match(field) else (error_field(field) or "_form")
    return {"values": form_values(form), "errors": {key: error.message}}


# -- registration ----------------------------------------------------------------------------


def registration_payload(form, tz: str = DEFAULT_TZ) -> dict:
    """The API's registration body from the form."""
    payload = {
        name: text_value(form, name)
        for name in ("site", "window", "matter", "department", "first_receiver", "description")
    }
    payload["channel"] = text_value(form, "channel") or "window"
    payload["applicant"] = {
        "kind": text_value(form, "applicant.kind"),
        "name": text_value(form, "applicant.name"),
        "id_number": text_value(form, "applicant.id_number") or None,
        "phone": text_value(form, "applicant.phone") or None,
    }
    payload["materials_presented"] = lines(form.get("materials_presented"))
    payload["materials_missing"] = lines(form.get("materials_missing"))
    if text_value(form, "first_asked_by"):
        payload["first_asked_by"] = text_value(form, "first_asked_by")
    received = text_value(form, "received_at")
    if received:
        payload["received_at"] = local_moment(received, tz)
    return payload


def return_visit_payload(form) -> dict:
    return {"satisfied": yes_no(form.get("satisfied")), "notes": text_value(form, "notes")}


# -- a case's flow -----------------------------------------------------------------------------


def classify_payload(form) -> dict:
    return {
        "type": form.get("type") or None,
        "reason": text_value(form, "reason"),
        "complex": checkbox(form, "complex"),
    }


def explain_payload(form) -> dict:
    """不能办: the basis, the explanation and each missing key material with where to get it."""
    return {
        "legal_basis": text_value(form, "legal_basis"),
        "explanation": text_value(form, "explanation"),
        "missing_key_materials": form_rows(
            form, "missing_key_materials", ROW_LISTS["missing_key_materials"]
        ),
    }


def measure_payload(form) -> dict:
    """不好办: a measure sent to one or more departments (容缺受理 lists materials and a date)."""
    payload = {
        "measure": form.get("measure") or None,
        "departments": chosen(form, "departments"),
        "details": text_value(form, "details"),
    }
    if text_value(form, "due"):
        payload["due"] = text_value(form, "due")
    if payload["measure"] == "deferred_materials" or lines(form.get("materials")):
        payload["materials"] = lines(form.get("materials"))
    return payload


def measure_response_payload(form) -> dict:
    return {
        "department": text_value(form, "department"),
        "response": text_value(form, "response"),
        "delivered": yes_no(form.get("delivered")),
    }


def measure_response_args(case_no: str, form) -> tuple:
    """The RPC's arguments: the case, the measure the department answered, the answer."""
    measure_id = text_value(form, "measure_id")
    if not measure_id.isdigit():
        raise errors.InvalidField("请选择要记录答复的措施", "measure_id")
    if form.get("delivered") not in ("yes", "no"):
        raise errors.InvalidField("请选择部门是否已落实", "delivered")
    return case_no, int(measure_id), measure_response_payload(form)


def resolve_payload(form) -> dict:
    worked = [int(value) for value in chosen(form, "worked_measures") if value.isdigit()]
    return {
        "outcome": form.get("outcome") or None,
        "summary": text_value(form, "summary"),
        "worked_measures": worked,
    }


def reply_payload(form) -> dict:
    return {"summary": text_value(form, "summary")}


def reason_payload(form) -> dict:
    reason = text_value(form, "reason")
    return {"reason": reason} if reason else {}


def practice_payload(form) -> dict:
    payload = {
        "matter": text_value(form, "matter"),
        "windows": codes_in(form.get("windows")),
        "title": text_value(form, "title"),
        "description": text_value(form, "description"),
    }
    if text_value(form, "case_no"):
        payload["case_no"] = text_value(form, "case_no")
    return payload


# -- joint meetings ----------------------------------------------------------------------------


def meeting_payload(form, tz: str = DEFAULT_TZ) -> dict:
    """暂时办不了: convene one joint meeting for the chosen cases and invited departments."""
    scheduled = text_value(form, "scheduled_at")
    return {
        "case_nos": chosen(form, "case_nos"),
        "departments": chosen(form, "departments"),
        "scheduled_at": local_moment(scheduled, tz) if scheduled else None,
        "complex": checkbox(form, "complex"),
    }


def minutes_payload(form) -> dict:
    """Attendance of each invited department, the decision and the tasks handed out."""
    indices = sorted(
        {
            int(match["index"])
            for field in form
            if (match := ROW_FIELD.match(field)) and match["list"] == "attendance"
        }
    )
    attendance = []
    for i in indices:
        entry = {
            "department": text_value(form, f"attendance[{i}].department"),
            "present": yes_no(form.get(f"attendance[{i}].present")),
        }
        for key in ("valid_reason", "position"):
            if text_value(form, f"attendance[{i}].{key}"):
                entry[key] = text_value(form, f"attendance[{i}].{key}")
        attendance.append(entry)
    return {
        "attendance": attendance,
        "decision": text_value(form, "decision"),
        "assignments": form_rows(form, "assignments", ROW_LISTS["assignments"]),
    }


# -- accountability ----------------------------------------------------------------------------


def finding_payload(form) -> dict:
    """A supervisor's finding; ``no_fault`` needs no staff member nor cause."""
    payload = {"finding": text_value(form, "finding"), "no_fault": checkbox(form, "no_fault")}
    for name in ("staff_id", "cause"):
        if form.get(name):
            payload[name] = form[name]
    return payload


def appeal_decision_payload(form) -> dict:
    if form.get("upheld") not in ("yes", "no"):
        raise errors.InvalidField("请选择申诉是否成立", "upheld")
    return {"upheld": yes_no(form.get("upheld")), "reason": text_value(form, "reason")}
