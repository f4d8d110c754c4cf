"""Open311 GeoReport v2 on the wire (pure): the POST form read into a dict, the answers written
as the spec's JSON or XML, errors as ``[{"code", "description"}]`` / ``<errors><error>``.

The spec's documents, with the XML element of each list and of its items:

=====================  ====================  ==========================================
document               JSON                  XML
=====================  ====================  ==========================================
services               list                  ``<services><service>…``
service definition     object                ``<service_definition>…<attributes><attribute>…
                                             <values><value><key/><name/>``
service requests       list                  ``<service_requests><request>…``
errors                 list                  ``<errors><error><code/><description/>``
=====================  ====================  ==========================================

Times are ISO 8601 with an offset, in Asia/Shanghai; ``None`` is JSON ``null`` and an empty
XML element; booleans are ``true``/``false`` in both.
"""

import json
import re
from datetime import datetime
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

from services.common import errors
from services.gateway.case_view import nearest_deadline

FORMATS = ("json", "xml")
CONTENT_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
SCALAR_FIELDS = (
    "api_key",
    "jurisdiction_id",
    "service_code",
    "lat",
    "long",
    "address_string",
    "address_id",
    "email",
    "device_id",
    "account_id",
    "first_name",
    "last_name",
    "phone",
    "description",
    "media_url",
)
MAX_ATTRIBUTE_VALUES = 200
_ATTRIBUTE = re.compile(r"attribute\[([^\[\]]{1,100})\](\[\])?")
# characters XML 1.0 cannot carry at all (an echoed input must not break the document)
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
ZONE = ZoneInfo("Asia/Shanghai")
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
# element names of each document's items
ITEMS = {"services": "service", "service_requests": "request", "errors": "error"}
NESTED = {"attributes": "attribute", "values": "value"}
# a domain error's status as the spec's error codes (400, 403, 404); others keep theirs
STATUS = {401: 403, 409: 400, 422: 400}


# -- reading the POST form --------------------------------------------------------------------


def read_form(pairs) -> dict:
    """The spec's form (``(name, value)`` pairs) as intake takes it: each scalar field once
    (its first value), ``attribute[code]`` and ``attribute[code][]`` gathered per code into
    ``attributes`` as lists; other names are ignored (clients send extensions)."""
    form: dict = {}
    attributes: dict[str, list[str]] = {}
    count = 0
    for name, value in pairs:
        if name in SCALAR_FIELDS:
            form.setdefault(name, value)
            continue
        match = _ATTRIBUTE.fullmatch(name)
        if match:
            count += 1
            if count > MAX_ATTRIBUTE_VALUES:
                raise errors.InvalidField(
                    f"attribute 取值最多 {MAX_ATTRIBUTE_VALUES} 个", "attribute"
                )
            attributes.setdefault(match.group(1), []).append(value)
    if attributes:
        form["attributes"] = attributes
    return form


def format_of(path: str) -> str:
    """The answer's format from the resource's extension (JSON unless ``.xml``)."""
    return "xml" if path.endswith(".xml") else "json"


# -- values ---------------------------------------------------------------------------------


def local_time(value) -> str | None:
    """An ISO 8601 time (or datetime) in Asia/Shanghai, with its offset."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.astimezone(ZONE).isoformat()


TIME_FIELDS = ("requested_datetime", "updated_datetime", "expected_datetime")


def with_local_times(request: dict) -> dict:
    return {
        name: local_time(value) if name in TIME_FIELDS else value for name, value in request.items()
    }


def expected_datetime(deadlines: list[dict]) -> str | None:
    """The case's current deadline: the open one to watch, else the last one it had."""
    current = nearest_deadline(deadlines)
    if current is None and deadlines:
        current = max(deadlines, key=lambda deadline: str(deadline.get("due_at")))
    return local_time(current["due_at"]) if current else None


# -- writing the documents ----------------------------------------------------------------------


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return _NOT_XML.sub("\ufffd", str(value))


def _element(parent, name: str, value) -> None:
    child = ElementTree.SubElement(parent, name)
    if isinstance(value, dict):
        for key, item in value.items():
            _element(child, key, item)
    elif isinstance(value, list):
        for item in value:
            _element(child, NESTED.get(name, "item"), item)
    else:
        child.text = _text(value)


def to_xml(root: str, document) -> bytes:
    """``document`` (a list of items, or one object) under ``<root>``, UTF-8 with declaration."""
    element = ElementTree.Element(root)
    if isinstance(document, list):
        for item in document:
            _element(element, ITEMS[root], item)
    else:
        for key, value in document.items():
            _element(element, key, value)
    # the declaration the spec shows: encoding="UTF-8" (ElementTree would write 'utf-8')
    return XML_DECLARATION + ElementTree.tostring(element, encoding="utf-8")


def to_json(document) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def render(root: str, document, fmt: str) -> tuple[bytes, str]:
    """The document's body and content type in ``fmt``."""
    body = to_xml(root, document) if fmt == "xml" else to_json(document)
    return body, CONTENT_TYPES[fmt]


def error_status(error: errors.BanchengError) -> int:
    return STATUS.get(error.status, error.status)


def error_document(error: errors.BanchengError) -> list[dict]:
    """A domain error as the spec's errors: its code the HTTP status, its description the
    message naming the field."""
    described = f"{error.message}（{error.field}）" if error.field else error.message
    return [{"code": error_status(error), "description": described}]
