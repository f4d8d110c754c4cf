"""Field validators for the case registration form (DESIGN §7, §8 ``POST /api/v1/cases``).

Each validator returns the normalized value or raises :class:`InvalidField` naming the field,
with a Chinese message a service-hall clerk can act on.

The check digits and birth dates come from python-stdnum (``stdnum.cn.ric``,
``stdnum.cn.uscc``). Two of stdnum's stricter rules are deliberately not applied, because
they reject real documents:

* ``ric.validate`` also requires the six-digit address code to have existed in stdnum's table
  *in the birth year*. The code is assigned where the card was first issued, often years after
  birth — e.g. 南京市玄武区 (320102) dates from 1983, so everyone from there born earlier would
  be refused. Here only the province part of the address code is checked.
* ``uscc.validate`` requires the first two characters to be digits, but GB 32100 also assigns
  letters to them (e.g. ``N`` 农业, ``Y`` 其他 for 农村集体经济组织 and similar).
"""

import datetime
import re
import unicodedata

from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError

from services.common.errors import InvalidField
from services.intake.personal_data import normalize_id_number

ID_NUMBER_FIELD = "applicant.id_number"
PHONE_FIELD = "applicant.phone"
KIND_FIELD = "applicant.kind"

APPLICANT_KINDS = ("person", "enterprise")

_CHINA_TZ = datetime.timezone(datetime.timedelta(hours=8))
_EARLIEST_BIRTH_DATE = datetime.date(1850, 1, 1)

# GB/T 2260 province-level codes: the first two digits of a 居民身份证 address code.
_PROVINCE_CODES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 "
    "50 51 52 53 54 61 62 63 64 65 71 81 82".split()
)

_RIC_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
# GB 32100 character set: digits and capitals without I, O, Z, S, V.
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_SHAPE = re.compile(rf"[{_USCC_ALPHABET}]{{2}}[0-9]{{6}}[{_USCC_ALPHABET}]{{10}}")

_MOBILE = re.compile(r"1[3-9][0-9]{9}")
# 010 and 02x are the three-digit area codes; all others are 0 plus three digits.
_LANDLINE = re.compile(r"(010|02[0-9]|0[3-9][0-9]{2})([2-9][0-9]{6,7})")
_PHONE_SEPARATORS = frozenset(" -()")


def _id_text(value: object, field: str, label: str) -> str:
    if value is None:
        raise InvalidField(f"{label}不能为空", field=field)
    if not isinstance(value, str):
        raise InvalidField(f"{label}应为文本", field=field)
    number = normalize_id_number(value)
    if not number:
        raise InvalidField(f"{label}不能为空", field=field)
    if len(number) != 18:
        raise InvalidField(f"{label}应为18位，当前为{len(number)}位", field=field)
    return number


def resident_id(value: str, field: str = ID_NUMBER_FIELD) -> str:
    """Validate a 18-digit 居民身份证 number (GB 11643) and return it normalized.

    Full-width characters, spaces and hyphens are tolerated; a lower-case ``x`` check digit
    becomes ``X``. Checks, in order: not empty, 18 characters, 17 digits plus a digit or ``X``,
    a real province code, a real birth date not in the future, and the check digit.
    """
    number = _id_text(value, field, "身份证号码")
    if not _RIC_SHAPE.fullmatch(number):
        raise InvalidField("身份证号码只能由数字组成，最后一位可以是X", field=field)
    if number[:2] not in _PROVINCE_CODES:
        raise InvalidField("身份证号码前两位地区码不存在", field=field)
    try:
        birth_date = ric.get_birth_date(number)
    except ValidationError as exc:
        raise InvalidField("身份证号码中的出生日期无效", field=field) from exc
    today = datetime.datetime.now(_CHINA_TZ).date()
    if not _EARLIEST_BIRTH_DATE <= birth_date <= today:
        raise InvalidField("身份证号码中的出生日期无效", field=field)
    if number[-1] != ric.calc_check_digit(number):
        raise InvalidField("身份证号码校验位不正确，请核对号码", field=field)
    return number


def credit_code(value: str, field: str = ID_NUMBER_FIELD) -> str:
    """Validate an 18-character 统一社会信用代码 (GB 32100) and return it normalized.

    Spaces, hyphens and full-width characters are tolerated and letters upper-cased. Checks:
    not empty, 18 characters, the GB 32100 character set (no I, O, Z, S, V) with digits in
    the administrative-division part, and the check character.
    """
    code = _id_text(value, field, "统一社会信用代码")
    if not _USCC_SHAPE.fullmatch(code):
        raise InvalidField(
            "统一社会信用代码格式不正确：只能由数字和大写字母组成（不含I、O、Z、S、V），第3至8位为数字",
            field=field,
        )
    if code[-1] != uscc.calc_check_digit(code):
        raise InvalidField("统一社会信用代码校验位不正确，请核对代码", field=field)
    return code


def applicant_identifier(kind: str, value: str, field: str = ID_NUMBER_FIELD) -> str:
    """Validate an applicant's identifier by kind and return it normalized.

    ``"person"`` → :func:`resident_id`, ``"enterprise"`` → :func:`credit_code`; any other kind
    raises :class:`InvalidField` on ``applicant.kind``.
    """
    if kind == "person":
        return resident_id(value, field)
    if kind == "enterprise":
        return credit_code(value, field)
    raise InvalidField("申请人类型无效，应为个人（person）或企业（enterprise）", field=KIND_FIELD)


def mobile_phone(value: str, field: str = PHONE_FIELD) -> str:
    """Validate a mainland phone number and return it normalized.

    Mobiles: 11 digits starting ``13``–``19``, optionally prefixed ``+86``, ``86`` or ``0086``;
    returned as the bare 11 digits (``13812345678``). Landlines: area code (``010``, ``02x``
    or ``0`` plus three digits) then a 7–8 digit local number starting 2–9, with or without
    a hyphen (also ``+86 25 84201234``); returned as ``025-84201234``. Spaces, hyphens and
    parentheses (also full-width) are ignored.
    """
    if value is None:
        raise InvalidField("联系电话不能为空", field=field)
    if not isinstance(value, str):
        raise InvalidField("联系电话应为文本", field=field)
    text_value = unicodedata.normalize("NFKC", value).strip()
    if not text_value:
        raise InvalidField("联系电话不能为空", field=field)
    digits = "".join(ch for ch in text_value if ch not in _PHONE_SEPARATORS and not ch.isspace())
    international = digits.startswith("+")
    if international:
        digits = digits[1:]
    if not (digits.isascii() and digits.isdigit()):
        raise InvalidField("联系电话只能包含数字、空格和连字符", field=field)
    explicit_country = international or digits.startswith("0086")
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            if _MOBILE.fullmatch(digits[len(prefix) :]):
                return digits[len(prefix) :]
    if explicit_country:
        # +86 25 84201234: the area code's leading 0 is dropped after a country code.
        # "+86 (0)25 …" is also common, so a kept 0 is accepted too.
        national = digits.removeprefix("00")
        if not national.startswith("86"):
            raise InvalidField("联系电话的国家代码应为+86（仅支持中国大陆号码）", field=field)
        national = national.removeprefix("86").removeprefix("0")
        landline = _LANDLINE.fullmatch("0" + national)
        if landline:
            return f"{landline.group(1)}-{landline.group(2)}"
        raise InvalidField(
            "联系电话格式不正确：+86后应为11位手机号码或不带0的区号加电话号码", field=field
        )
    if _MOBILE.fullmatch(digits):
        return digits
    landline = _LANDLINE.fullmatch(digits)
    if landline:
        return f"{landline.group(1)}-{landline.group(2)}"
    raise InvalidField(
        "联系电话格式不正确：请填写11位手机号码或带区号的固定电话（如025-84201234）",
        field=field,
    )


def _is_forbidden_char(ch: str) -> bool:
    if ch in "\n\t":
        return False
    # Cc: control characters (NUL breaks PostgreSQL text); Cs: lone surrogates cannot be
    # stored as UTF-8.
    return unicodedata.category(ch) in ("Cc", "Cs")


def text(
    value: str | None,
    field: str,
    *,
    max_length: int,
    required: bool = True,
    label: str = "此项",
) -> str:
    """Validate a free-text field and return it stripped.

    ``None`` or blank is refused when ``required`` and returned as ``""`` otherwise. Length is
    counted in characters (a Chinese character counts as one). Line breaks are normalized to
    ``\\n``; other control characters than newline and tab are refused. ``label`` is the
    field's Chinese name used in messages (e.g. ``"事项描述"``).
    """
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidField(f"{label}应为文本", field=field)
    value = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not value:
        if required:
            raise InvalidField(f"{label}不能为空", field=field)
        return ""
    if len(value) > max_length:
        raise InvalidField(f"{label}不能超过{max_length}个字符（当前{len(value)}个）", field=field)
    if any(_is_forbidden_char(ch) for ch in value):
        raise InvalidField(f"{label}含有不允许的控制字符", field=field)
    return value
