"""The OpenAPI document of the public contract (DESIGN §8), served at /api/v1/openapi.json.

The paths of reference data and cases are here; every module in ``routes/`` may add its own
as ``OPENAPI_PATHS``, built with the helpers below.
"""

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": ["string", "null"]},
            },
        }
    },
}

APPLICANT = {
    "type": "object",
    "required": ["kind", "name"],
    "properties": {
        "kind": {"enum": ["person", "enterprise"]},
        "name": {"type": "string", "maxLength": 100},
        "id_number": {"type": "string", "description": "居民身份证号码或统一社会信用代码"},
        "phone": {"type": "string"},
    },
}

REGISTRATION = {
    "type": "object",
    "required": [
        "site",
        "window",
        "matter",
        "department",
        "applicant",
        "description",
        "first_receiver",
    ],
    "properties": {
        "site": {"type": "string"},
        "window": {"type": "string"},
        "matter": {"type": "string"},
        "department": {"type": "string"},
        "channel": {"enum": ["window", "rating", "hotline", "comment_book"], "default": "window"},
        "applicant": APPLICANT,
        "description": {"type": "string", "maxLength": 2000},
        "materials_presented": {"type": "array", "items": {"type": "string"}},
        "materials_missing": {"type": "array", "items": {"type": "string"}},
        "first_receiver": {"type": "string", "description": "首接负责人 staff id"},
        "first_asked_by": {"type": "string", "description": "首问负责人 staff id"},
        "received_at": {"type": "string", "format": "date-time"},
    },
}


def errors(*statuses: int) -> dict:
    return {
        str(status): {"description": "error", "content": {"application/json": {"schema": ERROR}}}
        for status in statuses
    }


def ok(status: int = 200, description: str = "ok") -> dict:
    return {str(status): {"description": description, "content": {"application/json": {}}}}


BEARER = [{"bearer": []}]
LIST_PARAMS = [
    {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
    for name in ("site", "status", "type", "department", "overdue", "month", "q", "limit", "cursor")
]

BASE_DOCUMENT = {
    "openapi": "3.0.3",
    "info": {"title": "办成 Bancheng API", "version": "1"},
    "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    "paths": {
        "/api/v1/auth/login": {
            "post": {
                "summary": "登录",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["username", "password"],
                                "properties": {
                                    "username": {"type": "string"},
                                    "password": {"type": "string"},
                                },
                            }
                        }
                    },
                },
                "responses": {**ok(), **errors(400, 401, 422)},
            }
        },
        **{
            f"/api/v1/{name}": {
                "get": {
                    "summary": summary,
                    "security": BEARER,
                    "responses": {**ok(), **errors(401)},
                }
            }
            for name, summary in (
                ("sites", "受理场所及其窗口"),
                ("departments", "部门"),
                ("matters", "事项目录"),
                ("staff", "工作人员"),
            )
        },
        "/api/v1/cases": {
            "post": {
                "summary": "登记事项（事项登记表）",
                "security": BEARER,
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string"},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": REGISTRATION}},
                },
                "responses": {
                    **ok(201, "registered"),
                    **ok(200, "replayed"),
                    **errors(400, 401, 403, 413, 422),
                },
            },
            "get": {
                "summary": "事项列表",
                "security": BEARER,
                "parameters": LIST_PARAMS,
                "responses": {**ok(), **errors(401, 403)},
            },
        },
        "/api/v1/cases/{case_no}": {
            "get": {
                "summary": "事项详情、期限与全部过程",
                "security": BEARER,
                "parameters": [
                    {
                        "name": "case_no",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {**ok(), **errors(401, 403, 404)},
            }
        },
        "/api/v1/staff/{id}/record": {
            "get": {
                "summary": "工作人员记录（首接事项等）",
                "security": BEARER,
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {**ok(), **errors(401, 403)},
            }
        },
    },
}


def document() -> dict:
    """The whole document: the base paths plus every route group's ``OPENAPI_PATHS``."""
    from services.gateway.routes import (
        accountability,
        cases,
        coordination,
        feedback,
        intake_extras,
        pages,
        reference,
        reporting,
    )

    paths = dict(BASE_DOCUMENT["paths"])
    for module in (
        reference,
        cases,
        feedback,
        intake_extras,
        coordination,
        accountability,
        reporting,
        pages,
    ):
        paths.update(getattr(module, "OPENAPI_PATHS", {}))
    return {**BASE_DOCUMENT, "paths": paths}
