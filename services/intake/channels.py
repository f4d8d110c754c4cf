"""The other channels into the case register: 好差评 ratings, the hotline, the comment book (pure).

A rating of level 1–2 (不满意, 非常不满意), a hotline complaint and a comment-book entry that
reports a failure each open a case; the case goes through :func:`domain.check_registration`
like any window registration. Good ratings are kept for reporting, other comment-book entries
as suggestions. Reference data comes in as a :class:`Catalogue` loaded once per request or
per batch, so checking one row of a thousands-row batch costs no database round trip.
"""

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from services.common.auth import sees_all_sites
from services.common.errors import BadRequest, BanchengError, Forbidden, InvalidField
from services.common.vocabulary import CHANNEL_LABELS, RATING_LEVEL_LABELS
from services.intake import domain, validation
from services.intake.domain import MAX_NAME, Reference, Registration

FEEDBACK_CHANNELS = ("rating", "hotline", "comment_book")
BAD_LEVELS = frozenset({1, 2})
# ~5,000 typical rows fit the gateway's 1 MiB body limit; this bounds one transaction
MAX_BATCH_RATINGS = 10_000
# Hotline calls and comment-book entries rarely name a window: the escalation window takes them.
ESCALATION_WINDOW = "ESC"
# leaves room in the case description (2000) for the channel's prefix
MAX_FEEDBACK_TEXT = 1900
ANONYMOUS = "匿名反映人"


@dataclass(frozen=True)
class Catalogue:
    """The district's reference data as plain lookups (loaded by the store)."""

    sites: dict  # code -> name
    windows: dict  # (site, window) -> name
    matters: dict  # code -> {"name", "department"}
    matter_sites: frozenset  # {(matter, site)}
    departments: dict  # code -> name
    staff: dict  # id -> {"name", "site", "role"}
    default_receivers: dict = field(init=False)
    sites_of_matter: dict = field(init=False)

    def __post_init__(self):
        sites_of_matter = {}
        for matter, site in self.matter_sites:
            sites_of_matter.setdefault(matter, set()).add(site)
        object.__setattr__(
            self, "sites_of_matter", {m: frozenset(s) for m, s in sites_of_matter.items()}
        )
        # 谁办理谁负责 when the rating names nobody: the site's window staff member with the
        # lowest id answers for it — stable, and the same on every intake instance.
        receivers = {}
        for staff_id in sorted(self.staff):
            member = self.staff[staff_id]
            if member["role"] == "window_staff" and member["site"]:
                receivers.setdefault(member["site"], staff_id)
        object.__setattr__(self, "default_receivers", receivers)

    def reference(self, payload: dict) -> Reference:
        """The :class:`Reference` that ``check_registration`` needs, without a query."""

        def row(table: dict, key, code):
            value = table.get(key)
            if value is None:
                return None
            return {"code": code, "name": value if isinstance(value, str) else value["name"]}

        def member(staff_id):
            found = self.staff.get(staff_id)
            if found is None:
                return None
            return {"id": staff_id, "name": found["name"], "site_code": found["site"]}

        site, matter = payload.get("site"), payload.get("matter")
        return Reference(
            site=row(self.sites, site, site),
            window=row(self.windows, (site, payload.get("window")), payload.get("window")),
            matter=row(self.matters, matter, matter),
            matter_sites=self.sites_of_matter.get(matter, frozenset()),
            department=row(self.departments, payload.get("department"), payload.get("department")),
            first_receiver=member(payload.get("first_receiver")),
            first_asked_by=member(payload.get("first_asked_by")),
        )


@dataclass(frozen=True)
class Feedback:
    """One checked piece of feedback from any channel."""

    channel: str
    site: str
    window: str | None
    matter: str | None
    staff: str | None
    level: int | None
    text: str
    applicant: dict | None  # normalized: kind, name, id_number, phone
    reports_failure: bool
    at: datetime

    @property
    def bad(self) -> bool:
        return self.level in BAD_LEVELS

    @property
    def opens_case(self) -> bool:
        if self.channel == "rating":
            return self.bad
        if self.channel == "hotline":
            return True
        return self.reports_failure or self.bad

    @property
    def real_name(self) -> bool:
        """A person who can be called back: a name plus an ID number or a phone."""
        applicant = self.applicant or {}
        return bool(
            applicant.get("name") and (applicant.get("id_number") or applicant.get("phone"))
        )

    @property
    def requires_return_visit(self) -> bool:
        return self.channel == "rating" and self.bad and self.real_name


def _code(payload: dict, name: str, label: str, required: bool = True):
    value = payload.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidField(f"缺少{label}", name)
        return None
    if not isinstance(value, str):
        raise InvalidField(f"{label}应为文本", name)
    return value.strip()


def _level(payload: dict, channel: str) -> int | None:
    value = payload.get("level")
    if value is None and channel != "rating":
        return None
    # bool is an int in Python; true is no rating
    if not isinstance(value, int) or isinstance(value, bool) or value not in RATING_LEVEL_LABELS:
        raise InvalidField(
            "评价等级应为 1–5 的整数（5 非常满意，4 满意，3 基本满意，2 不满意，1 非常不满意）",
            "level",
        )
    return value


def _moment(value, name: str, now: datetime) -> datetime:
    if value is None:
        return now
    if not isinstance(value, str):
        raise InvalidField("时间应为 ISO 8601 字符串", name)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidField("时间格式不正确，应为 ISO 8601（含时区）", name) from exc
    if parsed.tzinfo is None:
        raise InvalidField("时间须带时区，例如 2026-11-30T09:30:00+08:00", name)
    if parsed > now:
        raise InvalidField("时间不能晚于当前时间", name)
    return parsed


def _applicant(value) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidField("申请人信息应为对象", "applicant")
    kind = value.get("kind") or "person"
    if kind not in ("person", "enterprise"):
        raise InvalidField("申请人类型应为 person（个人）或 enterprise（企业）", "applicant.kind")
    name = validation.text(
        value.get("name"),
        "applicant.name",
        max_length=MAX_NAME,
        required=False,
        label="申请人姓名",
    )
    id_number = value.get("id_number")
    if isinstance(id_number, str) and not id_number.strip():
        id_number = None
    if id_number is not None:
        id_number = validation.applicant_identifier(kind, id_number, "applicant.id_number")
    phone = value.get("phone")
    if isinstance(phone, str) and not phone.strip():
        phone = None
    if phone is not None:
        phone = validation.mobile_phone(phone, "applicant.phone")
    return {"kind": kind, "name": name or None, "id_number": id_number, "phone": phone}


def check_feedback(
    payload, catalogue: Catalogue, actor: dict, now: datetime, default_channel: str | None = None
) -> Feedback:
    """Check one piece of feedback (a batch row gives ``default_channel="rating"``).

    Raises :class:`InvalidField` naming the field at fault, or :class:`Forbidden` when window
    staff submit feedback about another site.
    """
    if not isinstance(payload, dict):
        raise InvalidField("每条反馈应为 JSON 对象", None)
    channel = payload.get("channel", default_channel)
    if channel not in FEEDBACK_CHANNELS:
        raise InvalidField(f"反馈渠道应为 {' / '.join(FEEDBACK_CHANNELS)} 之一", "channel")
    site = _code(payload, "site", "受理场所")
    if site not in catalogue.sites:
        raise InvalidField(f"受理场所 {site} 不存在", "site")
    if not sees_all_sites(actor) and actor.get("site") != site:
        raise Forbidden("窗口工作人员只能提交本场所的反馈", "site")
    level = _level(payload, channel)
    reports_failure = payload.get("reports_failure", False)
    if not isinstance(reports_failure, bool):
        raise InvalidField("reports_failure 应为 true 或 false", "reports_failure")

    window = _code(payload, "window", "窗口", required=channel == "rating")
    if window is None:
        window = ESCALATION_WINDOW
    if (site, window) not in catalogue.windows:
        raise InvalidField(f"窗口 {window} 不属于{catalogue.sites[site]}", "window")
    opens_case_anyway = channel != "comment_book" or reports_failure or level in BAD_LEVELS
    matter = _code(payload, "matter", "办理事项", required=opens_case_anyway)
    if matter is not None:
        if matter not in catalogue.matters:
            raise InvalidField(f"办理事项 {matter} 不存在", "matter")
        if (matter, site) not in catalogue.matter_sites:
            raise InvalidField(
                f"{catalogue.sites[site]}不办理“{catalogue.matters[matter]['name']}”",
                "matter",
            )
    staff = _code(payload, "staff", "被评价工作人员", required=False)
    if staff is not None:
        member = catalogue.staff.get(staff)
        if member is None:
            raise InvalidField(f"工作人员 {staff} 不存在", "staff")
        if member["site"] != site:
            raise InvalidField("被评价工作人员不在该场所工作", "staff")
    text = validation.text(
        payload.get("text"),
        "text",
        max_length=MAX_FEEDBACK_TEXT,
        required=channel != "rating",
        label="反馈内容",
    )
    return Feedback(
        channel=channel,
        site=site,
        window=window,
        matter=matter,
        staff=staff,
        level=level,
        text=text,
        applicant=_applicant(payload.get("applicant")),
        reports_failure=reports_failure,
        at=_moment(payload.get("at"), "at", now),
    )


def first_receiver_for(feedback: Feedback, catalogue: Catalogue) -> str:
    """谁办理谁负责: the rated staff member, else the site's default window staff member."""
    receiver = feedback.staff or catalogue.default_receivers.get(feedback.site)
    if receiver is None:
        raise InvalidField("该场所没有窗口工作人员，无法确定首接负责人", "staff")
    return receiver


def case_description(feedback: Feedback) -> str:
    if feedback.channel == "rating":
        head = f"好差评“{RATING_LEVEL_LABELS[feedback.level]}”（{feedback.level}级）"
        return f"{head}：{feedback.text}" if feedback.text else f"{head}，评价人未留言"
    return f"{CHANNEL_LABELS[feedback.channel]}反映：{feedback.text}"


def registration_payload(feedback: Feedback, catalogue: Catalogue) -> dict:
    """The registration form a case-opening piece of feedback fills in."""
    applicant = feedback.applicant or {}
    return {
        "site": feedback.site,
        "window": feedback.window,
        "matter": feedback.matter,
        "department": catalogue.matters[feedback.matter]["department"],
        "channel": feedback.channel,
        "applicant": {
            "kind": applicant.get("kind", "person"),
            "name": applicant.get("name") or ANONYMOUS,
            "id_number": applicant.get("id_number"),
            "phone": applicant.get("phone"),
        },
        "description": case_description(feedback),
        "first_receiver": first_receiver_for(feedback, catalogue),
        "received_at": feedback.at.isoformat(),
    }


def registration_of(feedback: Feedback, catalogue: Catalogue, actor: dict, now) -> Registration:
    """The registration a case-opening piece of feedback makes, checked by the same rules as a
    window registration (against the catalogue: no query)."""
    form = registration_payload(feedback, catalogue)
    return domain.check_registration(form, catalogue.reference(form), actor, now)


def new_case(feedback: Feedback, registration: Registration, feedback_id: str) -> domain.NewCase:
    """The case a piece of feedback opens: it names the feedback and the staff member rated."""
    return domain.NewCase(
        registration,
        requires_return_visit=feedback.requires_return_visit,
        feedback_id=feedback_id,
        rated_staff=feedback.staff,
        rating_level=feedback.level if feedback.channel == "rating" else None,
    )


# as the front door bounds every body it decodes itself
MAX_BATCH_DEPTH = 16


def batch_payload(payload) -> dict:
    """A batch as intake receives it: the front door hands its JSON text on undecoded (it is
    decoded once, here, nesting at most :data:`MAX_BATCH_DEPTH` levels); a dict (tools, tests)
    is taken as it is."""
    if not isinstance(payload, str):
        return payload
    try:
        body = json.loads(payload)
    except RecursionError as exc:  # json nests by recursion: thousands of "[" exhaust the stack
        raise BadRequest(f"请求体嵌套超过 {MAX_BATCH_DEPTH} 层") from exc
    except json.JSONDecodeError as exc:
        raise BadRequest(f"请求体不是有效的 JSON：{exc}") from exc
    except ValueError as exc:  # an integer longer than Python converts (4,300 digits)
        raise BadRequest("请求体中的数字过长") from exc
    if not isinstance(body, dict):
        raise BadRequest("请求体应为 JSON 对象")
    _check_nesting(body)
    return body


def _check_nesting(body: dict) -> None:
    """Refuse a body nesting deeper than :data:`MAX_BATCH_DEPTH`, naming the field (only the
    containers are walked: a batch's rows are flat but for the applicant)."""
    todo = [(body, "", 1)]
    while todo:
        value, path, depth = todo.pop()
        if depth > MAX_BATCH_DEPTH:
            raise InvalidField(f"{path} 嵌套超过 {MAX_BATCH_DEPTH} 层", path)
        items = value.items() if type(value) is dict else enumerate(value)
        for key, item in items:
            if type(item) is dict or type(item) is list:
                child = f"{path}[{key}]" if type(key) is int else (f"{path}.{key}" if path else key)
                todo.append((item, child, depth + 1))


def batch_rows(payload: dict) -> list:
    """A batch's rows: a non-empty list of at most :data:`MAX_BATCH_RATINGS`."""
    rows = payload.get("ratings")
    if not isinstance(rows, list) or not rows:
        raise InvalidField("ratings 应为非空列表", "ratings")
    if len(rows) > MAX_BATCH_RATINGS:
        raise InvalidField(f"一批最多 {MAX_BATCH_RATINGS} 条评价", "ratings")
    return rows


def check_batch(rows: list, catalogue: Catalogue, actor: dict, now) -> tuple[list, list]:
    """Check every row of a rating batch against the catalogue (no query per row); bad ratings
    are also checked as the registration they open.

    Returns (accepted: [(index, feedback, registration or None)], rejected: [{index, field,
    message}]).
    """
    accepted, rejected = [], []
    for index, row in enumerate(rows):
        try:
            if isinstance(row, dict) and row.get("channel", "rating") != "rating":
                raise InvalidField("批量接口只接收好差评（channel: rating）", "channel")
            feedback = check_feedback(row, catalogue, actor, now, "rating")
            registration = None
            if feedback.opens_case:
                registration = registration_of(feedback, catalogue, actor, now)
        except BanchengError as error:
            rejected.append({"index": index, "field": error.field, "message": error.message})
            continue
        accepted.append((index, feedback, registration))
    return accepted, rejected


def rating_counts(ratings, tz: str = "Asia/Shanghai") -> list[dict]:
    """Aggregate ratings per day, site and level (``ratings_received`` version 2: what the
    monthly figures count; version 1 also split by window, matter and staff, which made the
    event nearly as large as its batch). A batch's ratings share few times: each time's local
    day is worked out once."""
    zone = ZoneInfo(tz)
    days: dict = {}
    counter: Counter = Counter()
    for rating in ratings:
        day = days.get(rating.at)
        if day is None:
            day = days[rating.at] = rating.at.astimezone(zone).date().isoformat()
        counter[(day, rating.site, rating.level)] += 1
    return [
        {"day": day, "site": site, "level": level, "n": n}
        for (day, site, level), n in sorted(counter.items())
    ]
