"""An in-memory intake store: ``services.intake.store``'s functions without the cursor, on plain
dicts, keeping the promises its SQL keeps (unique keys, ``ON CONFLICT DO NOTHING``, newest
first, the newer state winning), and a small district to register cases in."""

import copy
import itertools
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from services.common import password_checks
from services.common.passwords import hash_password
from services.intake import personal_data
from services.intake.channels import Catalogue
from services.intake.handlers import Registrar
from services.intake.logins import Credentials

SHANGHAI = ZoneInfo("Asia/Shanghai")
ID_NUMBER_KEY = "unit-test-id-number-key"
PASSWORD_HASH = hash_password("demo")  # once: scrypt is slow on purpose
# the service's password checks (off the hub) and the default throttle
CREDENTIALS = Credentials(password_checks.check_password, password_checks.make_password_hash)

SITES = {"HALL": "玄武区政务服务中心", "XJK": "新街口街道便民服务中心"}
WINDOWS = {
    ("HALL", "W01"): "综合受理窗口",
    ("HALL", "W02"): "企业开办窗口",
    ("HALL", "ESC"): "办不成事反映窗口",
    ("XJK", "W01"): "综合受理窗口",
    ("XJK", "ESC"): "办不成事反映窗口",
}
MATTERS = {
    "M001": {"name": "企业开办", "department": "SCJ"},
    "M002": {"name": "个体工商户设立登记", "department": "SCJ"},
}
MATTER_SITES = frozenset({("M001", "HALL"), ("M002", "HALL"), ("M002", "XJK")})
DEPARTMENTS = {"SCJ": "区市场监管局", "SPJ": "区行政审批局"}
STAFF = {
    "S0001": {"name": "王雅婷", "site": "HALL", "role": "window_staff", "username": "hall.staff"},
    "S0002": {"name": "陈志刚", "site": "XJK", "role": "window_staff", "username": "xjk.staff"},
    "S0004": {"name": "张建国", "site": "HALL", "role": "officer", "username": "officer"},
    "S0008": {"name": "刘芳", "site": "HALL", "role": "window_staff", "username": None},
    "S0010": {"name": "赵磊", "site": "HALL", "role": "window_staff", "username": None},
}


class FakeCaseNumbers:
    """The side pool's counter: committed on its own, so a failed registration leaves a gap."""

    def __init__(self):
        self.last: dict = {}

    def __call__(self, day, site: str, count: int) -> int:
        key = (day, site)  # one counter per (day, site)
        self.last[key] = self.last.get(key, 0) + count
        return self.last[key] - count + 1


def registrar(numbers: FakeCaseNumbers, repeat_days: int = 90, **site_mode) -> Registrar:
    """``site_mode``: ``site_node``, ``site_nodes``, ``seal``/``unseal`` (docs/network.md)."""
    cipher = personal_data.IdNumberCipher(ID_NUMBER_KEY)
    return Registrar(
        reserve_case_numbers=numbers,
        protect=lambda id_number, kind: personal_data.protect(cipher, id_number, kind),
        repeat_window=timedelta(days=repeat_days),
        **site_mode,
    )


class FakeIntakeStore:
    def __init__(self, outbox=lambda: []):
        # what the unit of work committed (the real store reads the outbox table)
        self._outbox = outbox
        self._ids = itertools.count(1)
        self.cases: dict[str, dict] = {}
        self.helpers_of: dict[str, list[dict]] = {}
        self.visits: dict[str, list[dict]] = {}
        self.ratings: list[dict] = []
        self.complaints: dict[str, dict] = {}
        self.suggestions: dict[str, dict] = {}
        self.responses: dict[str, dict] = {}
        self.locked_keys: list[str] = []
        self.login_failures: list[tuple[str, str | None, object]] = []  # account, address, at
        self.practices: dict[int, dict] = {}  # coordination's, by id
        self.practices_copied = False

    # -- identity and reference data -----------------------------------------------------

    def staff_by_username(self, username: str) -> dict | None:
        for staff_id, member in STAFF.items():
            if member["username"] == username:
                return {
                    "id": staff_id,
                    "name": member["name"],
                    "role": member["role"],
                    "site": member["site"],
                    "department": None,
                    "password_hash": PASSWORD_HASH,
                }
        return None

    def login_failures_since(self, account, address, since) -> tuple[list, list]:
        recent = [row for row in self.login_failures if row[2] > since]
        return (
            [at for who, _, at in recent if who == account],
            [at for _, where, at in recent if address and where == address],
        )

    def record_login_failure(self, account, address, at, forget_before) -> None:
        self.login_failures.append((account, address, at))

    def clear_login_failures(self, account) -> None:
        self.login_failures = [row for row in self.login_failures if row[0] != account]

    def sites(self) -> list[dict]:
        return [
            {
                "code": code,
                "name": name,
                "windows": [
                    {"code": window, "name": label}
                    for (site, window), label in sorted(WINDOWS.items())
                    if site == code
                ],
            }
            for code, name in SITES.items()
        ]

    def departments(self) -> list[dict]:
        return [{"code": code, "name": name} for code, name in sorted(DEPARTMENTS.items())]

    def matters(self, site=None) -> list[dict]:
        return [
            {"code": code, "name": matter["name"], "department": matter["department"]}
            for code, matter in sorted(MATTERS.items())
            if site is None or (code, site) in MATTER_SITES
        ]

    def staff(self, site=None) -> list[dict]:
        return [
            {"id": staff_id, "name": member["name"], "role": member["role"], "site": member["site"]}
            for staff_id, member in sorted(STAFF.items())
            if site in (None, member["site"])
        ]

    def catalogue(self) -> Catalogue:
        staff = {
            staff_id: {"name": m["name"], "site": m["site"], "role": m["role"]}
            for staff_id, m in STAFF.items()
        }
        return Catalogue(SITES, WINDOWS, MATTERS, MATTER_SITES, DEPARTMENTS, staff)

    def reference_for(self, payload: dict):
        stripped = {
            key: value.strip() if isinstance(value, str) else value
            for key, value in payload.items()
        }
        return self.catalogue().reference(stripped)

    # -- registration --------------------------------------------------------------------

    def lock_idempotency_key(self, key: str) -> None:
        self.locked_keys.append(key)

    def case_no_for_idempotency_key(self, key: str) -> str | None:
        for case in self.cases.values():
            if case["idempotency_key"] == key:
                return case["case_no"]
        return None

    def earlier_cases(self, hashes: list[str], since) -> dict:
        found: dict = {}
        for case in sorted(self.cases.values(), key=lambda c: (c["received_at"], c["case_no"])):
            if case["id_number_hash"] in hashes and case["received_at"] >= since:
                key = (case["id_number_hash"], case["matter"])
                found.setdefault(key, []).append((case["case_no"], case["received_at"]))
        return found

    def registration_reads(self, payload, idempotency_key, applicant_hash, since, limit) -> dict:
        if idempotency_key:
            self.lock_idempotency_key(idempotency_key)
        matter = payload.get("matter")
        matter = matter.strip() if isinstance(matter, str) else None
        return {
            "existing": idempotency_key and self.case_no_for_idempotency_key(idempotency_key),
            "reference": self.reference_for(payload),
            "earlier": self.earlier_cases([applicant_hash], since) if applicant_hash else {},
            "practices": self.practices_for(matter, limit) if matter else [],
            "now": datetime.now(SHANGHAI),
        }

    def insert_cases(self, records, deferred=False) -> None:
        for record in records:
            assert record.case_no not in self.cases, "case_no is the primary key"
            new_case, reg = record.new_case, record.new_case.registration
            key = new_case.idempotency_key
            assert key is None or self.case_no_for_idempotency_key(key) is None, "unique key"
            self.cases[record.case_no] = {
                "case_no": record.case_no,
                "site": reg.site,
                "window": reg.window,
                "matter": reg.matter,
                "department": reg.department,
                "channel": reg.channel,
                "applicant_kind": reg.applicant_kind,
                "applicant_name": reg.applicant_name,
                "id_number_cipher": record.protected.get("cipher"),
                "id_number_masked": record.protected.get("masked"),
                "id_number_hash": record.protected.get("hash"),
                "phone": reg.phone,
                "description": reg.description,
                "first_receiver": reg.first_receiver,
                "first_asked_by": reg.first_asked_by,
                "received_at": reg.received_at,
                "registered_by": record.registered_by,
                "repeat_of": list(record.repeat_of),
                "idempotency_key": key,
                "requires_return_visit": new_case.requires_return_visit,
                "feedback_id": new_case.feedback_id,
                "rated_staff": new_case.rated_staff,
                "status": "registered",
                "status_at": None,
                "type": None,
                "classified_at": None,
                "complex": False,
                "deadline_breached": False,
                "answered": False,
            }

    # -- a site node's cases, copied to the district ----------------------------------------

    RENAMED = {"site": "site_code", "window": "window_code", "matter": "matter_code"}

    def case_copies(self, case_nos: list[str]) -> list[dict]:
        copies = []
        for case_no in sorted(case_nos):
            row = copy.deepcopy(self.cases[case_no])
            row = {self.RENAMED.get(key, key): value for key, value in row.items()}
            row["idempotency_key"] = None  # stays at the site, as the real store keeps it
            copies.append({**row, "timeline": [{"kind": "registered", "case_no": case_no}]})
        return copies

    def case_exists(self, case_no: str) -> bool:
        return case_no in self.cases

    def insert_case_copy(self, case_copy: dict) -> bool:
        if case_copy["case_no"] in self.cases:
            return False
        back = {value: key for key, value in self.RENAMED.items()}
        row = {back.get(key, key): value for key, value in case_copy.items() if key != "timeline"}
        self.cases[case_copy["case_no"]] = copy.deepcopy(row)
        return True

    def registration_event(self, case_no: str) -> dict | None:
        for decision in self._outbox():
            if decision.event_type == "case_registered" and decision.case_no == case_no:
                return {"type": decision.event_type, "data": decision.data}
            if decision.event_type == "cases_registered" and any(
                case["case_no"] == case_no for case in decision.data["cases"]
            ):
                return {"type": decision.event_type, "data": decision.data}
        return None

    # -- reading cases -------------------------------------------------------------------

    def case(self, case_no: str) -> dict | None:
        row = self.cases.get(case_no)
        if row is None:
            return None
        hidden = ("id_number_cipher", "id_number_hash", "idempotency_key", "status_at")
        view = {k: v for k, v in copy.deepcopy(row).items() if k not in hidden}
        view["overdue"] = row["deadline_breached"] and not row["answered"]
        view["site_name"] = SITES[row["site"]]
        view["first_receiver_name"] = STAFF[row["first_receiver"]]["name"]
        return view

    def list_cases(self, *, limit=50, cursor=None, **filters) -> list[dict]:
        columns = {"case_type": "type", "department": "department", "status": "status"}
        rows = []
        for case_no in sorted(self.cases, reverse=True):
            case = self.case(case_no)
            if cursor is not None and case_no >= cursor:
                continue
            if filters.get("site") not in (None, case["site"]):
                continue
            if filters.get("overdue") not in (None, case["overdue"]):
                continue
            if filters.get("first_receiver") not in (None, case["first_receiver"]):
                continue
            if any(filters.get(name) not in (None, case[key]) for name, key in columns.items()):
                continue
            q = filters.get("q")
            if q and q not in case["description"] and q not in case["applicant_name"]:
                if q != case_no:
                    continue
            month = filters.get("month")
            if month and case["received_at"].strftime("%Y-%m") != month:
                continue
            rows.append(case)
        return rows[:limit]

    def case_links(self, case_nos: list[str]) -> list[dict]:
        return [
            {"case_no": no, "received_at": self.cases[no]["received_at"]}
            for no in sorted(case_nos, key=lambda no: (self.cases[no]["received_at"], no))
        ]

    def case_timeline(self, case_no: str) -> list[dict]:
        return []

    # -- first receiver, helpers, return visits ------------------------------------------

    def case_for_update(self, case_no: str) -> dict | None:
        row = self.cases.get(case_no)
        if row is None:
            return None
        keys = ("case_no", "site", "first_receiver", "first_asked_by", "requires_return_visit")
        return {key: row[key] for key in keys}

    def staff_member(self, staff_id: str) -> dict | None:
        member = STAFF.get(staff_id)
        return None if member is None else {"id": staff_id, **member}

    def add_helper(self, case_no: str, staff_id: str, added_by: str) -> dict | None:
        helpers = self.helpers_of.setdefault(case_no, [])
        if any(helper["staff_id"] == staff_id for helper in helpers):
            return None
        row = {"staff_id": staff_id, "added_by": added_by, "added_at": next(self._ids)}
        helpers.append(row)
        return dict(row)

    def helpers(self, case_no: str) -> list[dict]:
        return [dict(helper) for helper in self.helpers_of.get(case_no, [])]

    def insert_return_visit(self, case_no, satisfied, notes, actor) -> dict:
        visit = {
            "id": next(self._ids),
            "satisfied": satisfied,
            "notes": notes or "",
            "recorded_by": actor,
        }
        self.visits.setdefault(case_no, []).append(visit)
        return dict(visit)

    def return_visits(self, case_no: str) -> list[dict]:
        return [dict(visit) for visit in self.visits.get(case_no, [])]

    # -- the other channels --------------------------------------------------------------

    def insert_ratings(self, batch_id, ratings) -> None:
        for feedback, case_no, rating_id in ratings:
            self.ratings.append(
                {
                    "id": rating_id or f"db-{next(self._ids)}",
                    "batch_id": batch_id,
                    "site": feedback.site,
                    "level": feedback.level,
                    "staff": feedback.staff,
                    "real_name": feedback.real_name,
                    "case_no": case_no,
                }
            )

    def insert_complaint(self, complaint_id, feedback, case_no, actor) -> None:
        self.complaints[complaint_id] = {
            "channel": feedback.channel,
            "text": feedback.text,
            "case_no": case_no,
            "recorded_by": actor,
        }

    def insert_suggestion(self, suggestion_id, feedback, actor) -> None:
        self.suggestions[suggestion_id] = {
            "channel": feedback.channel,
            "text": feedback.text,
            "recorded_by": actor,
        }

    def feedback_response(self, key: str) -> dict | None:
        return copy.deepcopy(self.responses.get(key))

    def save_feedback_response(self, key: str, response: dict) -> None:
        assert key not in self.responses, "idempotency_key is the primary key"
        self.responses[key] = copy.deepcopy(response)

    # -- what coordination tells us ------------------------------------------------------

    def set_status(self, case_no, status, at, case_type) -> None:
        case = self.cases.get(case_no)
        if case and (case["status_at"] is None or case["status_at"] <= at):
            case.update(status=status, status_at=at, type=case_type or case["type"])

    def set_classification(self, case_no, case_type, complex_, at) -> None:
        case = self.cases.get(case_no)
        if case and (case["classified_at"] is None or case["classified_at"] <= at):
            case.update(type=case_type, complex=complex_, classified_at=at)

    def mark_deadline_breached(self, case_no) -> None:
        if case_no in self.cases:
            self.cases[case_no]["deadline_breached"] = True

    def mark_answered(self, case_no) -> None:
        if case_no in self.cases:
            self.cases[case_no]["answered"] = True

    # -- standard practices: intake's copy of coordination's ------------------------------

    def add_practice(self, practice: dict) -> bool:
        if practice["id"] in self.practices:
            return False  # ON CONFLICT DO NOTHING
        self.practices[practice["id"]] = dict(practice)
        return True

    def practices_for(self, matter: str, limit: int) -> list[dict]:
        found = [p for p in self.practices.values() if p["matter"] == matter]
        return copy.deepcopy(sorted(found, key=lambda p: p["id"], reverse=True)[:limit])

    def practices_synced(self) -> bool:
        return self.practices_copied

    def mark_practices_synced(self) -> None:
        self.practices_copied = True
