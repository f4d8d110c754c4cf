"""JSON schemas of Open311 GeoReport v2's answers, written from the spec
(https://wiki.open311.org/GeoReport_v2): the fields each resource documents, their types, the
enumerations it names (``type``: realtime/batch/blackbox; ``datatype``; ``status``:
open/closed), times as ISO 8601 with an offset. ``additionalProperties: false`` on a request:
a field the spec does not have (a name, a phone) would be a leak, not an extension.
"""

NULLABLE_TEXT = {"type": ["string", "null"]}
# the spec: "ISO 8601 … Timezone information (either Z … or an HH:MM offset) must be included"
TIME = {
    "type": "string",
    "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$",
}
NULLABLE_TIME = {"anyOf": [TIME, {"type": "null"}]}

SERVICE = {
    "type": "object",
    "required": ["service_code", "service_name", "metadata", "type"],
    "properties": {
        "service_code": {"type": "string", "minLength": 1},
        "service_name": {"type": "string", "minLength": 1},
        "description": NULLABLE_TEXT,
        "metadata": {"type": "boolean"},
        "type": {"enum": ["realtime", "batch", "blackbox"]},
        "keywords": NULLABLE_TEXT,
        "group": NULLABLE_TEXT,
    },
    "additionalProperties": False,
}
SERVICES = {"type": "array", "items": SERVICE}

VALUE = {
    "type": "object",
    "required": ["key", "name"],
    "properties": {"key": {"type": "string"}, "name": {"type": "string"}},
    "additionalProperties": False,
}
ATTRIBUTE = {
    "type": "object",
    "required": ["variable", "code", "datatype", "required", "order", "description"],
    "properties": {
        "variable": {"type": "boolean"},
        "code": {"type": "string", "minLength": 1},
        "datatype": {
            "enum": ["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
        },
        "required": {"type": "boolean"},
        "datatype_description": NULLABLE_TEXT,
        "order": {"type": "integer", "minimum": 1},
        "description": {"type": "string"},
        "values": {"type": "array", "items": VALUE},
    },
    "additionalProperties": False,
}
SERVICE_DEFINITION = {
    "type": "object",
    "required": ["service_code", "attributes"],
    "properties": {
        "service_code": {"type": "string", "minLength": 1},
        "attributes": {"type": "array", "items": ATTRIBUTE},
    },
    "additionalProperties": False,
}

# POST requests: "service_request_id … service_notice … account_id"
CREATED = {
    "type": "array",
    "minItems": 1,
    "maxItems": 1,
    "items": {
        "type": "object",
        "required": ["service_request_id"],
        "properties": {
            "service_request_id": {"type": "string", "minLength": 1},
            "service_notice": NULLABLE_TEXT,
            "account_id": NULLABLE_TEXT,
            "token": NULLABLE_TEXT,
        },
        "additionalProperties": False,
    },
}

REQUEST = {
    "type": "object",
    "required": ["service_request_id", "status", "service_code", "requested_datetime"],
    "properties": {
        "service_request_id": {"type": "string", "minLength": 1},
        "status": {"enum": ["open", "closed"]},
        "status_notes": NULLABLE_TEXT,
        "service_name": NULLABLE_TEXT,
        "service_code": {"type": "string"},
        "description": {"type": ["string", "null"], "maxLength": 4000},
        "agency_responsible": NULLABLE_TEXT,
        "service_notice": NULLABLE_TEXT,
        "requested_datetime": TIME,
        "updated_datetime": NULLABLE_TIME,
        "expected_datetime": NULLABLE_TIME,
        "address": NULLABLE_TEXT,
        "address_id": NULLABLE_TEXT,
        "zipcode": NULLABLE_TEXT,
        "lat": {"type": ["number", "null"], "minimum": -90, "maximum": 90},
        "long": {"type": ["number", "null"], "minimum": -180, "maximum": 180},
        "media_url": NULLABLE_TEXT,
    },
    "additionalProperties": False,
}
REQUESTS = {"type": "array", "maxItems": 1000, "items": REQUEST}

ERRORS = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["code", "description"],
        "properties": {
            "code": {"type": "integer", "minimum": 400, "maximum": 599},
            "description": {"type": "string", "minLength": 1},
        },
        "additionalProperties": False,
    },
}
