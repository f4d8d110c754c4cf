"""Open311 GeoReport v2 in intake: the integrating systems and their API keys, what a service
request files, and what reading requests shows (pure).

Who may file. Every integrating system (a 12345 platform, a city app) has an API key of its
own, issued by the operator (``python -m services.cli open311-keys add``). Only the key's
SHA-256 is stored: a key is 32 random bytes, so a fast hash is as good as a slow one and lets
every request be checked with one indexed look-up. A key names the sites (``jurisdiction_id``)
its system may file for; intake checks the key itself on every request, because the broker is
not a trusted zone and the front door must not be able to file for a site on its own say-so.

What a request files. An Open311 request is a case on channel ``open311`` at the site's
escalation window, made by the same :func:`services.intake.domain.check_registration` as every
other channel. The applicant is a person named by ``first_name``/``last_name`` (or
:data:`ANONYMOUS`), with ``phone`` when given; an Open311 request never carries an ID number
(the spec has no such field), which registration requires only of the window form.

First receiver (首接负责制, DESIGN §1). No staff member meets the person: the first to receive
the case in Bancheng is the site's configured Open311 receiver (``sites.open311_receiver``, in
the seed), who then keeps it like any first receiver. A site with none configured refuses
Open311 requests rather than guess a person who would not know the case is theirs.

What reading shows. GET requests is public in the spec; it shows only the spec's fields and
only of requests that came in through Open311 — never a name, phone, e-mail, ID number, nor a
case registered at a window.
"""

import hashlib
import math
import re
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.common.errors import Forbidden, InvalidField, NotFound
from services.common.vocabulary import STATE_LABELS, TYPE_LABELS, label
from services.intake import validation

CHANNEL = "open311"
ESCALATION_WINDOW = "ESC"
ANONYMOUS = "匿名反映人"
DEMO_KEY = "demo-open311-key"
DEMO_SYSTEM = "12345 演示平台"
KEY_PREFIX = "o311_"
MAX_API_KEY = 200
MAX_SYSTEM_NAME = 100
MAX_DESCRIPTION = 2000  # the case description's limit (the spec allows up to 4,000)
MAX_ADDRESS = 500
MAX_FIELD = 200
MAX_URL = 1000
MAX_REQUEST_IDS = 1000
MAX_ROWS = 1000
MAX_WINDOW = timedelta(days=90)
CLOSED_STATES = frozenset({"resolved", "closed", "archived"})
# the attributes every matter offers (a service definition): the form's material lists
ATTRIBUTES = (
    (
        "materials_presented",
        "已提交的材料",
        "申请人在窗口已经提交的材料（可多选）",
    ),
    (
        "materials_missing",
        "缺少或未被认可的材料",
        "申请人未能提供、或窗口认为不符合要求的材料（可多选）",
    ),
)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_URL = re.compile(r"https?://[^\s]+", re.IGNORECASE)
_SPACED_OFFSET = re.compile(r"(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})$")


# -- API keys ------------------------------------------------------------------------------


def new_api_key() -> str:
    """A fresh API key (shown once to the operator; only its hash is kept)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def key_hint(api_key: str) -> str:
    """What ``open311-keys list`` shows of a key, to tell keys apart: its first characters."""
    return api_key[: len(KEY_PREFIX) + 4]


def system_name(value) -> str:
    return validation.text(value, "system_name", max_length=MAX_SYSTEM_NAME, label="接入系统名称")


@dataclass(frozen=True)
class Integration:
    """An integrating system as its key found it."""

    id: int
    system_name: str
    jurisdictions: frozenset


def check_api_key(api_key) -> str:
    """The key's hash; a missing or malformed key is refused (403, as the spec says)."""
    if not isinstance(api_key, str) or not api_key.strip():
        raise Forbidden("缺少 api_key", "api_key")
    api_key = api_key.strip()
    if len(api_key) > MAX_API_KEY or not api_key.isascii() or not api_key.isprintable():
        raise Forbidden("api_key 无效", "api_key")
    return key_hash(api_key)


def integration_of(found: dict | None) -> Integration:
    """The system a key belongs to (403 for an unknown or revoked key)."""
    if found is None or found.get("revoked_at") is not None:
        raise Forbidden("api_key 无效或已停用", "api_key")
    return Integration(found["id"], found["system_name"], frozenset(found["jurisdictions"] or ()))


def check_jurisdiction(integration: Integration, site: str) -> None:
    """A system files only for the sites its key names (403 otherwise)."""
    if site not in integration.jurisdictions:
        raise Forbidden(f"该接入系统无权为 {site} 提交事项", "jurisdiction_id")


# -- services: one per matter ----------------------------------------------------------------


def matter_materials(matter: dict) -> list[str]:
    return list(matter.get("key_materials") or []) + list(matter.get("other_materials") or [])


def service(matter: dict) -> dict:
    """A matter as an Open311 service (GET services)."""
    return {
        "service_code": matter["code"],
        "service_name": matter["name"],
        "description": f"{matter['name']}未能办成时反映（责任部门：{matter['department_name']}）",
        "metadata": bool(matter_materials(matter)),
        "type": "realtime",
        "keywords": ",".join([matter["name"], matter["department_name"], "办不成事"]),
        "group": matter["department_name"],
    }


def service_definition(matter: dict) -> dict:
    """A matter's attributes (GET services/{service_code}): the materials it takes."""
    materials = matter_materials(matter)
    attributes = []
    if materials:
        key = set(matter.get("key_materials") or [])
        values = [
            {"key": name, "name": f"{name}（关键材料）" if name in key else name}
            for name in materials
        ]
        for order, (code, title, description) in enumerate(ATTRIBUTES, start=1):
            attributes.append(
                {
                    "variable": True,
                    "code": code,
                    "datatype": "multivaluelist",
                    "required": False,
                    "datatype_description": f"{title}：从列表中选择，可多选",
                    "order": order,
                    "description": description,
                    "values": values,
                }
            )
    return {"service_code": matter["code"], "attributes": attributes}


def jurisdiction(value, sites: dict, required: bool) -> str | None:
    """``jurisdiction_id`` (a site code): None when absent and not required."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidField("缺少 jurisdiction_id（受理场所代码）", "jurisdiction_id")
        return None
    if not isinstance(value, str):
        raise InvalidField("jurisdiction_id 应为文本", "jurisdiction_id")
    value = value.strip()
    if value not in sites:
        raise NotFound(f"jurisdiction_id {value[:50]} 不存在", "jurisdiction_id")
    return value


def matter_at(matters: dict, service_code, site: str | None) -> dict:
    """The matter a ``service_code`` names, handled at ``site`` when one is given."""
    if not isinstance(service_code, str) or not service_code.strip():
        raise InvalidField("缺少 service_code", "service_code")
    matter = matters.get(service_code.strip())
    if matter is None:
        raise NotFound(f"service_code {service_code[:50]} 不存在", "service_code")
    if site is not None and site not in matter["sites"]:
        raise NotFound(
            f"{site} 不办理“{matter['name']}”（service_code {matter['code']}）", "service_code"
        )
    return matter


# -- filing a request ------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceRequest:
    """A checked POST requests form."""

    site: str
    matter: str
    description: str
    applicant_name: str
    phone: str | None
    email: str | None
    address: str | None
    lat: float | None
    long: float | None
    device_id: str | None
    account_id: str | None
    media_url: str | None
    attributes: dict = field(default_factory=dict)


def _optional(form: dict, name: str, max_length: int = MAX_FIELD) -> str | None:
    value = form.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return validation.text(value, name, max_length=max_length, label=name) or None


def _coordinate(form: dict, name: str, bound: float) -> float | None:
    value = form.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidField(f"{name} 应为数字（WGS84 经纬度）", name) from None
    if not math.isfinite(number) or not -bound <= number <= bound:
        raise InvalidField(f"{name} 应在 -{bound:g} 到 {bound:g} 之间", name)
    return number


def applicant_name(first: str | None, last: str | None) -> str:
    """姓 then 名 without a space for Chinese names; "first last" otherwise; anonymous if none."""
    parts = [part for part in (first, last) if part]
    if not parts:
        return ANONYMOUS
    if all(not part.isascii() for part in parts):
        return "".join(part for part in (last, first) if part)
    return " ".join(parts)


def check_attributes(raw, matter: dict) -> dict:
    """``attribute[code][]`` values: known codes, values from the matter's lists."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidField("attribute 应为 attribute[code]=value 形式", "attribute")
    allowed = set(matter_materials(matter))
    codes = {code for code, _title, _description in ATTRIBUTES} if allowed else set()
    checked = {}
    for code, values in raw.items():
        name = f"attribute[{code}]"
        if code not in codes:
            raise InvalidField(f"{matter['code']} 没有属性 {str(code)[:50]}", name)
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, list) or len(values) > len(allowed):
            raise InvalidField(f"{name} 的取值过多或格式不正确", name)
        for value in values:
            if value not in allowed:
                raise InvalidField(f"{name} 的取值 {str(value)[:50]} 不在列表中", name)
        checked[code] = list(dict.fromkeys(values))
    return checked


def check_request(form: dict, site: str, matter: dict) -> ServiceRequest:
    """Check a POST requests form (the site and the matter already found)."""
    if not isinstance(form, dict):
        raise InvalidField("请求应为表单", None)
    description = validation.text(
        form.get("description"), "description", max_length=MAX_DESCRIPTION, label="description"
    )
    address = _optional(form, "address_string", MAX_ADDRESS)
    lat, long = _coordinate(form, "lat", 90), _coordinate(form, "long", 180)
    if (lat is None) != (long is None):
        raise InvalidField("lat 与 long 须同时提供", "lat" if lat is None else "long")
    if address is None and lat is None:
        raise InvalidField("须提供 address_string，或 lat 与 long", "address_string")
    phone = _optional(form, "phone")
    if phone is not None:
        phone = validation.mobile_phone(phone, "phone")
    email = _optional(form, "email", 254)
    if email is not None and not _EMAIL.fullmatch(email):
        raise InvalidField("email 格式不正确", "email")
    media_url = _optional(form, "media_url", MAX_URL)
    if media_url is not None and not _URL.fullmatch(media_url):
        raise InvalidField("media_url 应为 http(s) 地址", "media_url")
    first = _optional(form, "first_name", 50)
    last = _optional(form, "last_name", 50)
    return ServiceRequest(
        site=site,
        matter=matter["code"],
        description=description,
        applicant_name=applicant_name(first, last),
        phone=phone,
        email=email,
        address=address,
        lat=lat,
        long=long,
        device_id=_optional(form, "device_id"),
        account_id=_optional(form, "account_id"),
        media_url=media_url,
        attributes=check_attributes(form.get("attributes"), matter),
    )


def registration_payload(request: ServiceRequest, matter: dict, receiver: str) -> dict:
    """The registration form an Open311 request fills in: a person without an ID number, at
    the site's escalation window, first received by the site's Open311 receiver."""
    return {
        "site": request.site,
        "window": ESCALATION_WINDOW,
        "matter": request.matter,
        "department": matter["department"],
        "channel": CHANNEL,
        "applicant": {
            "kind": "person",
            "name": request.applicant_name,
            "id_number": None,
            "phone": request.phone,
        },
        "description": request.description,
        "materials_presented": request.attributes.get("materials_presented", []),
        "materials_missing": request.attributes.get("materials_missing", []),
        "first_receiver": receiver,
    }


def service_notice(case_no: str, site_name: str, matter_name: str) -> str:
    return (
        f"已登记为事项 {case_no}（{site_name}，{matter_name}），由该场所首接负责人跟进办理；"
        "可按 service_request_id 查询进度"
    )


# -- reading requests --------------------------------------------------------------------------


def request_status(state: str | None) -> str:
    return "closed" if state in CLOSED_STATES else "open"


def status_notes(state: str | None, case_type: str | None) -> str:
    text = label(STATE_LABELS, state or "registered")
    return f"{text}（{label(TYPE_LABELS, case_type)}）" if case_type else text


def request_view(row: dict) -> dict:
    """A stored request as GET requests shows it: the spec's fields, nothing personal
    (``expected_datetime`` is the front door's, from coordination)."""
    return {
        "service_request_id": row["case_no"],
        "status": request_status(row["status"]),
        "status_notes": status_notes(row["status"], row["case_type"]),
        "service_name": row["matter_name"],
        "service_code": row["service_code"],
        "description": row["description"],
        "agency_responsible": row["department_name"],
        "service_notice": None,
        "requested_datetime": row["requested_at"],
        "updated_datetime": row["updated_at"],
        "expected_datetime": None,
        "address": row["address"],
        "address_id": None,
        "zipcode": None,
        "lat": row["lat"],
        "long": row["long"],
        "media_url": row["media_url"],
    }


def request_ids(value) -> list[str] | None:
    """``service_request_id``: a comma-separated list (None: not asked for)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise InvalidField("service_request_id 应为逗号分隔的编号", "service_request_id")
    ids = [part.strip() for part in value.split(",") if part.strip()]
    if len(ids) > MAX_REQUEST_IDS or any(len(part) > 100 for part in ids):
        raise InvalidField(
            f"service_request_id 最多 {MAX_REQUEST_IDS} 个编号", "service_request_id"
        )
    return list(dict.fromkeys(ids))


def codes(value, name: str) -> list[str] | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise InvalidField(f"{name} 应为逗号分隔的文本", name)
    found = [part.strip() for part in value.split(",") if part.strip()]
    if len(found) > 100 or any(len(part) > 100 for part in found):
        raise InvalidField(f"{name} 过长", name)
    return found


def statuses(value) -> set[str] | None:
    """``status=open,closed`` (None: both)."""
    found = codes(value, "status")
    if found is None:
        return None
    unknown = set(found) - {"open", "closed"}
    if unknown:
        raise InvalidField("status 应为 open、closed 或 open,closed", "status")
    return set(found)


def _moment(value, name: str, zone: ZoneInfo, end: bool) -> datetime | None:
    """An ISO 8601 date-time with offset, or a bare date (the start or end of that day)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise InvalidField(f"{name} 应为 ISO 8601 时间", name)
    # an unescaped '+' of the offset arrives as a space
    text = _SPACED_OFFSET.sub(r"\1+\2", value.strip()).replace("Z", "+00:00")
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime.combine(day, time.max if end else time.min, zone)
        else:
            moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidField(
            f"{name} 应为 ISO 8601 时间，例如 2026-12-01T00:00:00+08:00", name
        ) from None
    if moment.tzinfo is None:
        raise InvalidField(f"{name} 须带时区，例如 2026-12-01T00:00:00+08:00", name)
    return moment


def request_window(
    start, end, now: datetime, tz: str = "Asia/Shanghai"
) -> tuple[datetime, datetime]:
    """``start_date``/``end_date`` as the spec has them: at most 90 days apart; without them
    the 90 days up to ``end_date`` (or now), or from ``start_date``."""
    zone = ZoneInfo(tz)
    start_at = _moment(start, "start_date", zone, end=False)
    end_at = _moment(end, "end_date", zone, end=True)
    if start_at is None and end_at is None:
        end_at = now
    if start_at is None:
        start_at = end_at - MAX_WINDOW
    if end_at is None:
        end_at = start_at + MAX_WINDOW
    if end_at < start_at:
        raise InvalidField("end_date 不能早于 start_date", "end_date")
    if end_at - start_at > MAX_WINDOW + timedelta(days=1):
        raise InvalidField("start_date 与 end_date 相隔不能超过 90 天", "end_date")
    return start_at, end_at


def checked_filters(filters: dict, now: datetime) -> dict:
    """GET requests' filters: a list of ids wins over the others, as the spec says."""
    if not isinstance(filters, dict):
        raise InvalidField("查询参数格式不正确", None)
    ids = request_ids(filters.get("service_request_id"))
    if ids is not None:
        return {"ids": ids, "limit": MAX_ROWS}
    start_at, end_at = request_window(filters.get("start_date"), filters.get("end_date"), now)
    wanted = statuses(filters.get("status"))
    return {
        "service_codes": codes(filters.get("service_code"), "service_code"),
        "start_at": start_at,
        "end_at": end_at,
        "closed": None if wanted is None or len(wanted) == 2 else "closed" in wanted,
        "closed_states": sorted(CLOSED_STATES),
        "limit": MAX_ROWS,
    }
