"""What the front door refuses before any service sees it (pure: no werkzeug, no nameko).

Whatever enters through a path, a query or a JSON body ends up in PostgreSQL, in logs, in
exports and in pages, so it is checked where it enters and refused with a 4xx that names the
field (DESIGN §7):

* **Characters.** No control characters other than tab, line feed and carriage return, and no
  lone surrogates: PostgreSQL cannot store a NUL at all (psycopg raises), the others garble
  logs and spreadsheets, and a lone surrogate cannot even be encoded as UTF-8.
* **Numbers.** Finite only (Python's json reads ``Infinity``, ``NaN`` and ``1e400`` as
  floats), and integers within ±(2**53 − 1), the range every JSON peer reads exactly
  (RFC 7493, I-JSON) and far inside PostgreSQL's ``bigint``.
* **Nesting.** A body nests at most :data:`MAX_DEPTH` levels; the deepest in the contract is
  three (a batch of ratings, each with its applicant).
* **Parameters.** A path or query value is at most :data:`MAX_PARAMETER_LENGTH` characters.
  (A whole URL beyond 8 KB never reaches the front door: eventlet's HTTP server answers 414.)
* **Lists.** ``limit`` is a whole number from 1, cut down to the common maximum (one rule,
  :mod:`services.common.paging`, here and in every service);
  a cursor that is an id is a whole number that fits ``bigint``.

Fields are named as dotted paths with list indexes: ``applicant.name``, ``ratings[3].text``.
"""

import math
import re
from collections.abc import Iterable

from services.common import paging
from services.common.errors import InvalidField

# C0 controls except \t \n \r, DEL, C1 controls, and the surrogate code points
FORBIDDEN_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
MAX_DEPTH = 16
SAFE_INTEGER = 2**53 - 1
MAX_PARAMETER_LENGTH = 1000


def printable_name(name: str) -> str:
    """A field name fit to show and log: forbidden characters escaped (``\\x00``)."""
    return FORBIDDEN_CHARACTERS.sub(lambda m: m.group().encode("unicode_escape").decode(), name)


def check_text(value: str, field: str) -> None:
    """Refuse a string holding a control character or a lone surrogate (422 naming ``field``)."""
    found = FORBIDDEN_CHARACTERS.search(value)
    if found:
        code = f"U+{ord(found.group()):04X}"
        raise InvalidField(f"{field} 含有不允许的控制字符（{code}）", field)


def check_parameters(parameters: Iterable[tuple[str, str]]) -> None:
    """Check query or path parameters given as (name, value) pairs: names and values alike,
    and no value longer than :data:`MAX_PARAMETER_LENGTH` (no code, id or search needs it)."""
    for name, value in parameters:
        field = printable_name(name)
        if field != name:
            raise InvalidField(f"参数名 {field} 含有不允许的控制字符", field)
        check_text(value, field)
        if len(value) > MAX_PARAMETER_LENGTH:
            raise InvalidField(f"参数 {field} 超过 {MAX_PARAMETER_LENGTH} 个字符", field)


def _child(path: str, key) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def check_body(body) -> None:
    """Refuse a parsed JSON object (or array) holding a value the front door does not accept,
    naming it.

    A first pass only collects (a batch of 5,000 ratings is ~100,000 values): the strings are
    searched at once, the numbers compared at once; only a body that fails is walked again to
    find the field to name.
    """
    strings, integers, floats = [], [], []
    todo = [(body, 1)]
    while todo:
        value, depth = todo.pop()
        if depth > MAX_DEPTH:
            _refuse_first(body)
        if type(value) is dict:
            strings.extend(value)
            items = value.values()
        else:
            items = value
        for item in items:
            kind = type(item)
            if kind is str:
                strings.append(item)
            elif kind is dict or kind is list:
                todo.append((item, depth + 1))
            elif kind is int:
                integers.append(item)
            elif kind is float:
                floats.append(item)
    if (
        FORBIDDEN_CHARACTERS.search("\n".join(strings))
        or (integers and max(map(abs, integers)) > SAFE_INTEGER)
        or not all(map(math.isfinite, floats))
    ):
        _refuse_first(body)


# What :func:`check_body` refuses, as it can show in a body's UTF-8 JSON text: a control
# character as such (C0 but tab, LF, CR; DEL; C1 as UTF-8), or escaped (\u0000-\u001f,
# \u007f-\u009f, a surrogate \ud800-\udfff, \b, \f); a number of 16 digits or more, one with an
# exponent, NaN, Infinity.
_RAW_CONTROLS = bytes(range(0x00, 0x09)) + b"\x0b\x0c" + bytes(range(0x0E, 0x20)) + b"\x7f"
_RAW_C1 = re.compile(rb"\xc2[\x80-\x9f]")
_ESCAPED_CONTROLS = re.compile(rb"\\(?:u(?:00[01]|007[fF]|008|009|[dD][89a-fA-F])|[bf])")
_UNICODE_ESCAPE = re.compile(rb"\\u[0-9a-fA-F]{4}")
_DIGITS_AS_ZERO = bytes.maketrans(b"0123456789E", b"0000000000e")


def json_text_passes(raw: bytes) -> bool:
    """Whether a body's JSON text (bytes) surely holds no character or number
    :func:`check_body` refuses, told from the text without decoding it: the ratings batch is
    handed on as text and decoded once, by intake (which also bounds its nesting). False means
    "decode it and check it value by value", which names the field — not that the body is
    refused: a string may say "NaN", or hold an escaped tab."""
    if len(raw.translate(None, _RAW_CONTROLS)) != len(raw):
        return False
    if _RAW_C1.search(raw) or _ESCAPED_CONTROLS.search(raw):
        return False
    if b"NaN" in raw or b"Infinity" in raw:
        return False
    if b"\\u" in raw:  # a \uXXXX escape is no number (its hex digits may read as "9e")
        raw = _UNICODE_ESCAPE.sub(b"", raw)
    digits = raw.translate(_DIGITS_AS_ZERO)
    return b"0" * 16 not in digits and b"0e" not in digits


def _refuse_first(body) -> None:
    """Walk the body with each value's path and raise for the first one refused."""
    todo = [(body, "", 1)]
    while todo:
        value, path, depth = todo.pop()
        if isinstance(value, str):
            check_text(value, path or "body")
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int):
            if abs(value) > SAFE_INTEGER:
                raise InvalidField(f"{path} 超出允许的整数范围（±{SAFE_INTEGER}）", path)
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise InvalidField(f"{path} 应为有限的数值", path)
        elif isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                raise InvalidField(f"{path} 嵌套超过 {MAX_DEPTH} 层", path)
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str):
                    shown = printable_name(key)
                    if shown != key:
                        field = _child(path, shown)
                        raise InvalidField(f"字段名 {field} 含有不允许的控制字符", field)
                todo.append((item, _child(path, key), depth + 1))


def page_limit(raw: str | None) -> int | None:
    """``limit`` of a list: None when absent, else the one rule of every list
    (:func:`services.common.paging.limit_from`): a whole number from 1, cut down to
    :data:`~services.common.paging.MAX_LIMIT` (so the front door's page size is the one the
    service answers with, and its ``next_cursor`` decision holds)."""
    if raw in (None, ""):
        return None
    return paging.limit_from(raw)


def id_cursor(raw: str | None) -> int | None:
    """A cursor that is the last id of the previous page: None when absent, else a ``bigint``."""
    return paging.keyset_after(raw)
