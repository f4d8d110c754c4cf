"""Intake's domain: what a valid registration is, how cases are numbered, who may see or act
on a case, and what the case lists keep of coordination's news (pure).

The use cases look the reference data up and pass it in; nothing here touches the database or
the broker, so every rule can be tested on plain dictionaries.
"""

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from services.common.auth import sees_all_sites
from services.common.errors import Conflict, Forbidden, InvalidField
from services.intake import validation

DISTRICT_CODE = "XW"
CHANNELS = ("window", "rating", "hotline", "comment_book", "open311")
# the channels a case may be opened on by the registration form; an Open311 case is opened only
# through Open311, by an integrating system's key (services.intake.integrations)
FORM_CHANNELS = ("window", "rating", "hotline", "comment_book")
CASE_TYPES = ("cannot", "hard", "refused", "pending")
# coordination states after which a breached deadline no longer makes a case overdue
ANSWERED_STATES = frozenset({"replied", "resolved", "archived", "closed"})
MAX_RETURN_VISIT_NOTES = 1000
APPLICANT_KINDS = ("person", "enterprise")
MAX_NAME = 100
MAX_DESCRIPTION = 2000
MAX_MATERIALS = 50
MAX_MATERIAL_NAME = 100
MAX_BACKDATE_REASON = 500
# who may register a case received longer ago than the window allows, saying why
BACKDATING_ROLES = frozenset({"officer"})
# who registers a case from the form (the gateway's REGISTRARS, checked again here)
REGISTERING_ROLES = frozenset({"window_staff", "officer"})


@dataclass(frozen=True)
class Reference:
    """The reference data a registration names, as found by the store (None: not found)."""

    site: dict | None
    window: dict | None
    matter: dict | None
    matter_sites: frozenset[str]
    department: dict | None
    first_receiver: dict | None
    first_asked_by: dict | None


@dataclass(frozen=True)
class Registration:
    """A registration that passed every check, ready to be stored."""

    site: str
    window: str
    matter: str
    department: str
    channel: str
    applicant_kind: str
    applicant_name: str
    id_number: str | None
    phone: str | None
    description: str
    materials_presented: list = field(default_factory=list)
    materials_missing: list = field(default_factory=list)
    first_receiver: str = ""
    first_asked_by: str | None = None
    received_at: datetime | None = None
    backdate_reason: str | None = None


def _code(payload: dict, name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidField(f"缺少{FIELD_LABELS[name]}", name)
    return value.strip()


FIELD_LABELS = {
    "site": "受理场所",
    "window": "窗口",
    "matter": "办理事项",
    "department": "责任部门",
    "channel": "反映渠道",
    "first_receiver": "首接负责人",
    "first_asked_by": "首问负责人",
    "received_at": "接收时间",
}


def _optional_text(value):
    """A blank optional value counts as absent; anything else is passed on as given."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return value.strip() if isinstance(value, str) else value


def _materials(payload: dict, name: str) -> list[str]:
    value = payload.get(name, [])
    if not isinstance(value, list):
        raise InvalidField("材料清单应为列表", name)
    if len(value) > MAX_MATERIALS:
        raise InvalidField(f"材料清单最多 {MAX_MATERIALS} 项", name)
    return [
        validation.text(item, f"{name}[{index}]", max_length=MAX_MATERIAL_NAME, label="材料名称")
        for index, item in enumerate(value)
    ]


def parse_received_at(value, now: datetime) -> datetime:
    """``received_at`` defaults to now; a given time needs an offset and may not be in the future."""
    if value is None:
        return now
    if not isinstance(value, str):
        raise InvalidField("接收时间应为 ISO 8601 字符串", "received_at")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidField("接收时间格式不正确，应为 ISO 8601（含时区）", "received_at") from exc
    if parsed.tzinfo is None:
        raise InvalidField("接收时间须带时区，例如 2026-11-30T09:30:00+08:00", "received_at")
    if parsed > now:
        raise InvalidField("接收时间不能晚于当前时间", "received_at")
    return parsed


def check_backdating(
    registration: Registration, payload: dict, actor: dict, now: datetime, max_back: timedelta
) -> Registration:
    """A registration whose ``received_at`` lies more than ``max_back`` in the past is only
    taken from an officer who records why (``backdate_reason``): a back-dated case starts
    its deadlines in the past, so one from anybody else could breach at once."""
    reason = _optional_text(payload.get("backdate_reason"))
    if reason is not None:
        reason = validation.text(
            reason, "backdate_reason", max_length=MAX_BACKDATE_REASON, label="补录原因"
        )
    if registration.received_at >= now - max_back:
        return replace(registration, backdate_reason=reason)
    days = max_back.days or max_back.total_seconds() / 86400
    if actor.get("role") not in BACKDATING_ROLES:
        raise InvalidField(
            f"接收时间不能早于 {days:g} 天前；更早的事项须由督办人员补录并说明原因", "received_at"
        )
    if reason is None:
        raise InvalidField(
            f"接收时间早于 {days:g} 天前，须填写补录原因（backdate_reason）", "backdate_reason"
        )
    return replace(registration, backdate_reason=reason)


def check_replay(actor: dict, case: dict) -> None:
    """An idempotency key already used for a case the actor may not see is a conflict, not a
    replay: the answer would show another site's case (the key is chosen by the client)."""
    if not sees_all_sites(actor) and case["site"] != actor.get("site"):
        raise Conflict(
            "该 Idempotency-Key 已被另一场所的登记使用，请换一个键重新提交", "idempotency_key"
        )


def check_registration(
    payload: dict, reference: Reference, actor: dict, now: datetime
) -> Registration:
    """Validate a registration form against the reference data and the actor's reach.

    Raises :class:`InvalidField` naming the first field at fault, or :class:`Forbidden` when
    window staff register for another site.
    """
    site, window, matter = (
        _code(payload, "site"),
        _code(payload, "window"),
        _code(payload, "matter"),
    )
    department, receiver = _code(payload, "department"), _code(payload, "first_receiver")
    channel = payload.get("channel", "window")
    if channel not in CHANNELS:
        raise InvalidField(f"反映渠道应为 {' / '.join(CHANNELS)} 之一", "channel")

    if reference.site is None:
        raise InvalidField(f"受理场所 {site} 不存在", "site")
    if not sees_all_sites(actor) and actor.get("site") != site:
        raise Forbidden("窗口工作人员只能为本场所登记事项", "site")
    if reference.window is None:
        raise InvalidField(f"窗口 {window} 不属于{reference.site['name']}", "window")
    if reference.matter is None:
        raise InvalidField(f"办理事项 {matter} 不存在", "matter")
    if site not in reference.matter_sites:
        raise InvalidField(f"{reference.site['name']}不办理“{reference.matter['name']}”", "matter")
    if reference.department is None:
        raise InvalidField(f"责任部门 {department} 不存在", "department")
    if reference.first_receiver is None:
        raise InvalidField(f"首接负责人 {receiver} 不存在", "first_receiver")
    if reference.first_receiver.get("site_code") not in (site, None):
        raise InvalidField("首接负责人不在该场所工作", "first_receiver")
    asked_by = _optional_text(payload.get("first_asked_by"))
    if asked_by is not None and reference.first_asked_by is None:
        raise InvalidField(f"首问负责人 {asked_by} 不存在", "first_asked_by")

    applicant = payload.get("applicant")
    if not isinstance(applicant, dict):
        raise InvalidField("缺少申请人信息", "applicant")
    kind = applicant.get("kind")
    if kind not in APPLICANT_KINDS:
        raise InvalidField("申请人类型应为 person（个人）或 enterprise（企业）", "applicant.kind")
    name = validation.text(
        applicant.get("name"), "applicant.name", max_length=MAX_NAME, label="申请人姓名"
    )
    raw_id = _optional_text(applicant.get("id_number"))
    id_number = validation.applicant_identifier(kind, raw_id) if raw_id is not None else None
    if kind == "person" and id_number is None and channel == "window":
        raise InvalidField("窗口登记须填写申请人身份证号码", "applicant.id_number")
    raw_phone = _optional_text(applicant.get("phone"))
    phone = validation.mobile_phone(raw_phone) if raw_phone is not None else None

    return Registration(
        site=site,
        window=window,
        matter=matter,
        department=department,
        channel=channel,
        applicant_kind=kind,
        applicant_name=name,
        id_number=id_number,
        phone=phone,
        description=validation.text(
            payload.get("description"), "description", max_length=MAX_DESCRIPTION
        ),
        materials_presented=_materials(payload, "materials_presented"),
        materials_missing=_materials(payload, "materials_missing"),
        first_receiver=receiver,
        first_asked_by=asked_by or None,
        received_at=parse_received_at(payload.get("received_at"), now),
    )


def form_applicant(payload: dict, now: datetime) -> tuple:
    """``(id_number, applicant_kind, received_at)`` as :func:`check_registration` will take
    them from the form, read before the reference data is (so the applicant's earlier cases
    come in the same round trip): ``(None, None, None)`` for a form it will refuse on them.
    Only a guess to read ahead with: the registration checked afterwards decides."""
    applicant = payload.get("applicant")
    if not isinstance(applicant, dict) or applicant.get("kind") not in APPLICANT_KINDS:
        return None, None, None
    kind = applicant["kind"]
    try:
        raw_id = _optional_text(applicant.get("id_number"))
        id_number = validation.applicant_identifier(kind, raw_id) if raw_id is not None else None
        received_at = parse_received_at(payload.get("received_at"), now)
    except Exception:  # any refusal: check_registration gives it, in its own order
        return None, None, None
    return id_number, kind, received_at


def received_where(registration) -> dict:
    """Where and how a case came in and about what: the fields the stored case and its
    ``case_registered`` event both carry as the registration gives them."""
    return {
        "site": registration.site,
        "window": registration.window,
        "matter": registration.matter,
        "department": registration.department,
        "channel": registration.channel,
        "applicant_kind": registration.applicant_kind,
    }


def registered_case(record: "CaseRecord", reference: Reference, registered_at: datetime) -> dict:
    """A case just registered from the form as the store reads it back (its columns, with the
    names of what it refers to and the state of a new case), built from what was written:
    ``registered_at`` is the time of the transaction that stored it, and times are given in
    its time zone as the database gives them."""
    new_case, registration = record.new_case, record.new_case.registration
    return {
        "case_no": record.case_no,
        **received_where(registration),
        "applicant_name": registration.applicant_name,
        "id_number_masked": record.protected.get("masked"),
        "phone": registration.phone,
        "description": registration.description,
        "materials_presented": list(registration.materials_presented),
        "materials_missing": list(registration.materials_missing),
        "first_receiver": registration.first_receiver,
        "first_asked_by": registration.first_asked_by,
        "received_at": registration.received_at.astimezone(registered_at.tzinfo),
        "registered_at": registered_at,
        "registered_by": record.registered_by,
        "status": "registered",
        "type": None,
        "complex": False,
        "overdue": False,
        "requires_return_visit": new_case.requires_return_visit,
        "feedback_id": new_case.feedback_id,
        "rated_staff": new_case.rated_staff,
        "repeat_of": list(record.repeat_of),
        "site_name": reference.site["name"],
        "matter_name": reference.matter["name"],
        "department_name": reference.department["name"],
        "window_name": reference.window["name"],
        "first_receiver_name": reference.first_receiver["name"],
    }


def check_form_channel(payload: dict) -> None:
    """The form registers on every channel but Open311's, which only an integration's key
    opens (so no window registration can pass as one to skip the ID number)."""
    channel = payload.get("channel", "window") if isinstance(payload, dict) else None
    if channel not in FORM_CHANNELS:
        raise InvalidField(f"反映渠道应为 {' / '.join(FORM_CHANNELS)} 之一", "channel")


def case_number(district: str, day: date, sequence: int, site: str) -> str:
    """``XW-20261129-00042-XJK``: district, day and the site's daily counter sort by time
    within a site; the site code ends it, so a person reading it knows where the case began
    and two sites' counters never meet (:func:`check_numbering_node`)."""
    return f"{district}-{day:%Y%m%d}-{sequence:05d}-{site}"


def site_of(case_no: str) -> str:
    """The site a case number names (its last part, :func:`case_number`)."""
    return str(case_no).rsplit("-", 1)[-1]


class CaseNotCopiedYet(Exception):
    """Coordination's news of a site node's case arrived before the node's copy of the case."""

    def __init__(self, case_no: str):
        super().__init__(f"{case_no}: the site node's copy has not arrived yet; retried later")


def local_day(moment: datetime, tz: str = "Asia/Shanghai") -> date:
    return moment.astimezone(ZoneInfo(tz)).date()


# -- site nodes: who numbers a site's cases (docs/network.md) ---------------------------------


def site_nodes(setting) -> dict[str, str]:
    """``SITE_NODES`` (``XJK=http://…:8001,MY=…``): the sites that run a node of their own,
    each with its front door."""
    nodes = {}
    for item in filter(None, (part.strip() for part in str(setting or "").split(","))):
        code, _, front_door = item.partition("=")
        nodes[code.strip().upper()] = front_door.strip()
    return nodes


def check_numbering_node(site: str, site_node: str | None, nodes: dict[str, str]) -> None:
    """A case is numbered by exactly one node: a site node (``site_node``) opens cases of its
    own site only, and the district opens none at a site that runs its own node — both keep
    a counter per (day, site), so one owner per counter keeps the numbers unique."""
    if site_node and site != site_node:
        raise InvalidField(
            f"本站点节点只登记 {site_node} 的事项，{site} 的事项请在其所在场所登记", "site"
        )
    if not site_node and site in nodes:
        where = f"：{nodes[site]}" if nodes[site] else ""
        raise InvalidField(
            f"{site} 运行自己的站点节点，其事项只能在该站点的前台登记{where}", "site"
        )


# -- a new case: what it is opened from, and how it is stored --------------------------------


@dataclass(frozen=True)
class NewCase:
    """A checked registration about to become a case, with what its channel adds: the key of
    the request that registered it, or the piece of feedback that opened it."""

    registration: Registration
    idempotency_key: str | None = None
    requires_return_visit: bool = False
    feedback_id: str | None = None
    rated_staff: str | None = None
    # a bad rating's level (1–2): its 差评 loop compares the re-rating with it
    rating_level: int | None = None


@dataclass(frozen=True)
class CaseRecord:
    """A new case as it is stored and announced: its number, what it was opened from, who
    registered it, its applicant's ID number protected (``cipher``/``masked``/``hash``, empty
    without one) and the earlier cases it repeats."""

    case_no: str
    new_case: NewCase
    registered_by: str
    protected: dict
    repeat_of: list[str]


def repeat_visits(
    earlier: list[tuple[str, datetime]], received_at: datetime, window: timedelta
) -> list[str]:
    """The case numbers among ``earlier`` (same applicant, same matter: (case_no, received_at))
    received within ``window`` before ``received_at``: the cases a repeat visit points to."""
    since = received_at - window
    return [case_no for case_no, at in earlier if at >= since]


# -- who may see or act on a case --------------------------------------------------------------


def check_reach(actor: dict, case: dict, acting: bool = False) -> None:
    """Window staff see and act on their own site's cases only (Forbidden otherwise)."""
    if not sees_all_sites(actor) and case["site"] != actor["site"]:
        doing = "处理" if acting else "查看"
        raise Forbidden(f"窗口工作人员只能{doing}本场所的事项")


def listed_site(actor: dict, requested: str | None) -> str | None:
    """The site a case list is limited to: the actor's own for window staff, who may not ask
    for another (None: every site). A site-bound role without a site (HR) lists none: ``""``
    matches no case, where None would have listed the district's."""
    if sees_all_sites(actor):
        return requested
    own = actor.get("site") or ""
    if requested not in (None, own):
        raise Forbidden("窗口工作人员只能查看本场所的事项", "site")
    return own


def check_registrar(actor: dict) -> None:
    """Only the roles that receive people at a window register a case from the form (the
    other channels open cases from feedback, whoever records it)."""
    if actor.get("role") not in REGISTERING_ROLES:
        raise Forbidden("只有窗口工作人员和办不成事反映窗口可以登记事项")


def case_type_filter(value) -> str | None:
    if not value:
        return None
    if value not in CASE_TYPES:
        raise InvalidField(f"事项类型应为 {' / '.join(CASE_TYPES)} 之一", "type")
    return value


def flag(value, name: str) -> bool | None:
    """A query-string boolean (``true``/``false``/``1``/``0``); absent gives None."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise InvalidField(f"{name} 应为 true 或 false", name)


def case_view(case: dict, links: list[dict], helpers: list[dict], visits: list[dict]) -> dict:
    """The case as the API shows it: ``repeat_of`` stays the earlier case numbers (as in the
    event and the pages) and ``repeat_visits`` links each of them."""
    return {
        **case,
        "repeat_visitor": bool(case["repeat_of"]),
        "repeat_visits": [{**link, "url": f"/api/v1/cases/{link['case_no']}"} for link in links],
        "helpers": helpers,
        "return_visits": visits,
    }


# -- helpers and return visits -----------------------------------------------------------------


def helper_id(staff_id) -> str:
    if not isinstance(staff_id, str) or not staff_id.strip():
        raise InvalidField("缺少协助人员（staff_id）", "staff_id")
    return staff_id.strip()


def check_helper(case: dict, staff_id: str, member: dict | None) -> None:
    """A helper is a known staff member other than the first receiver, who stays anyway."""
    if member is None:
        raise InvalidField(f"工作人员 {staff_id} 不存在", "staff_id")
    if staff_id == case["first_receiver"]:
        raise Conflict("首接负责人始终在此事项上，无需添加为协助人员", "staff_id")


def return_visit(body: dict) -> tuple[bool, str | None]:
    """The 回访's answer: (satisfied, notes)."""
    satisfied = body.get("satisfied")
    if not isinstance(satisfied, bool):
        raise InvalidField("satisfied 应为 true 或 false（申请人是否满意）", "satisfied")
    notes = validation.text(
        body.get("notes"),
        "notes",
        max_length=MAX_RETURN_VISIT_NOTES,
        required=False,
        label="回访记录",
    )
    return satisfied, notes


def check_return_visit_needed(case: dict) -> None:
    if not case["requires_return_visit"]:
        raise Conflict("此事项不需要回访（仅实名差评需要回访）", "case_no")


# -- what coordination tells the case lists ----------------------------------------------------


def event_time(event: dict, name: str = "at") -> datetime:
    """When a consumed event's change happened: its own field, else when it was announced."""
    return datetime.fromisoformat(event["data"].get(name) or event["occurred_at"])


def answers_deadline(event: dict) -> bool:
    """A reply, a resolution or a state past them ends overdue: it answered the deadline,
    late or not."""
    if event["type"] in ("case_replied", "case_resolved"):
        return True
    return event["type"] == "case_state_changed" and event["data"]["to_state"] in ANSWERED_STATES
