"""A small Open311 GeoReport v2 client, written from the spec (https://wiki.open311.org/GeoReport_v2)
and nothing of Bancheng's: what a 12345 platform or a city app would write to file and follow
requests. It speaks both formats; an XML answer is read into the same shapes as the JSON one
(the spec's lists as lists, ``true``/``false`` as booleans, numbers as numbers, an empty
element as None), so a caller can compare the two.
"""

from dataclasses import dataclass
from xml.etree import ElementTree

import requests

# the spec's list elements: the container and its items
LISTS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
}
BOOLEANS = {"metadata", "variable", "required"}
INTEGERS = {"order", "code"}  # ``code`` of an error; an attribute's code is text (below)
NUMBERS = {"lat", "long"}


@dataclass
class Answer:
    status: int
    content_type: str
    body: bytes
    data: object  # the parsed document: a list or a dict


def _value(name: str, element, parent: str | None):
    if name in LISTS:
        return [_item(child, name) for child in element.findall(LISTS[name])]
    if len(element):
        return {child.tag: _value(child.tag, child, name) for child in element}
    text = element.text
    if text is None or text == "":
        return None
    if name in BOOLEANS:
        return text == "true"
    if name in INTEGERS and parent == "error":
        return int(text)
    if name == "order":
        return int(text)
    if name in NUMBERS:
        return float(text)
    return text


def _item(element, container: str):
    return {child.tag: _value(child.tag, child, element.tag) for child in element}


def parse_xml(body: bytes):
    """The spec's XML document as Python values (root: a list, or the definition's dict)."""
    root = ElementTree.fromstring(body)
    if root.tag in LISTS:
        return _value(root.tag, root, None)
    return {child.tag: _value(child.tag, child, root.tag) for child in root}


class Open311Client:
    def __init__(self, endpoint: str, api_key: str | None = None, jurisdiction: str | None = None):
        self.endpoint = endpoint.rstrip("/")
        self.api_key = api_key
        self.jurisdiction = jurisdiction

    def _answer(self, response) -> Answer:
        content_type = response.headers.get("Content-Type", "")
        if "xml" in content_type:
            data = parse_xml(response.content)
        elif "json" in content_type:
            data = response.json()
        else:
            data = None
        return Answer(response.status_code, content_type, response.content, data)

    def _get(self, resource: str, fmt: str, params: dict) -> Answer:
        if self.jurisdiction:
            params = {"jurisdiction_id": self.jurisdiction, **params}
        params = {name: value for name, value in params.items() if value is not None}
        response = requests.get(f"{self.endpoint}/{resource}.{fmt}", params=params, timeout=10)
        return self._answer(response)

    # -- the spec's methods ---------------------------------------------------------------

    def services(self, fmt: str = "json") -> Answer:
        """GET Service List."""
        return self._get("services", fmt, {})

    def service_definition(self, service_code: str, fmt: str = "json") -> Answer:
        """GET Service Definition (when a service's ``metadata`` is true)."""
        return self._get(f"services/{service_code}", fmt, {})

    def submit(self, service_code: str, fmt: str = "json", attributes=None, **fields) -> Answer:
        """POST Service Request: form-encoded; a multivaluelist attribute as
        ``attribute[code][]`` once per value, a single value as ``attribute[code]``."""
        form = [("api_key", self.api_key), ("service_code", service_code)]
        if self.jurisdiction:
            form.append(("jurisdiction_id", self.jurisdiction))
        form += [(name, value) for name, value in fields.items() if value is not None]
        for code, value in (attributes or {}).items():
            if isinstance(value, list):
                form += [(f"attribute[{code}][]", item) for item in value]
            else:
                form.append((f"attribute[{code}]", value))
        form = [(name, value) for name, value in form if value is not None]
        response = requests.post(f"{self.endpoint}/requests.{fmt}", data=form, timeout=10)
        return self._answer(response)

    def requests(self, fmt: str = "json", **filters) -> Answer:
        """GET Service Requests: ``service_request_id`` (comma list), ``service_code``,
        ``start_date``, ``end_date``, ``status``."""
        return self._get("requests", fmt, filters)

    def request(self, service_request_id: str, fmt: str = "json") -> Answer:
        """GET Service Request (a list of one)."""
        return self._get(f"requests/{service_request_id}", fmt, {})
