"""The OpenAPI document of the public contract (DESIGN §8), served at /api/v1/openapi.json.

The paths of reference data and cases are here; every module in ``api/`` may add its own
as ``OPENAPI_PATHS``, built with the helpers below. :func:`document` adds to every operation
the errors any route can answer (see :func:`common_errors`), so each lists what it really
answers and the API fuzzing test (tests/e2e/test_api_fuzz.py) can hold the front door to it.
"""

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "field"],
            "properties": {
                "code": {"type": "string", "description": "稳定的错误代码，如 invalid_field"},
                "message": {"type": "string", "description": "给办事人员看的中文说明"},
                "field": {
                    "type": "string",
                    "nullable": True,
                    "description": "出错的字段或参数（如 applicant.phone、limit）；无则为 null",
                },
                "id": {"type": "string", "description": "500：错误编号，日志中有完整记录"},
            },
        }
    },
}

ERROR_MEANINGS = {
    400: "请求体不是 JSON 对象（或嵌套过深、数字过长）",
    401: "未登录，或令牌无效、已过期",
    403: "当前角色或场所无权执行此操作",
    404: "事项、记录或接口不存在",
    409: "当前状态不允许此操作",
    413: "请求体超过上限",
    414: "URL 超过 8 KB：HTTP 服务器直接拒绝，没有响应体",
    422: "字段或参数无效（field 指明哪一个）：缺失、格式不符、含控制字符、数值超出范围",
    429: "登录失败次数过多：该账号或地址暂时锁定，message 给出几分钟后可重试",
    500: "系统缺陷：message 与 id 给出错误编号",
    503: "所依赖的服务、消息代理或数据库暂不可用，Retry-After 秒后可重试",
}
RETRY_AFTER = {
    "Retry-After": {
        "description": "多少秒后可以重试",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
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
        "received_at": {
            "type": "string",
            "format": "date-time",
            "description": "至多 RECEIVED_AT_MAX_DAYS_BACK（默认 3）天前；更早须由督办人员填写 backdate_reason",
        },
        "backdate_reason": {"type": "string", "maxLength": 500, "description": "补录原因"},
    },
}


def errors(*statuses: int) -> dict:
    """Error responses of the given statuses, each with the contract's error body."""
    return {str(status): _error_response(status) for status in statuses}


def _error_response(status: int) -> dict:
    if status == 414:  # answered by eventlet's HTTP server before the front door sees it
        return {"description": ERROR_MEANINGS[status]}
    response = {
        "description": ERROR_MEANINGS[status],
        "content": {"application/json": {"schema": ERROR}},
    }
    if status == 503:
        response["headers"] = RETRY_AFTER
    return response


def common_errors(operation: dict) -> list[int]:
    """The statuses any operation of its shape can answer, whatever the route does."""
    # a URL too long for the HTTP server, or a URL input refused (services.gateway.routing);
    # a bug; a dependency down
    statuses = [414, 422, 500, 503]
    if operation.get("security"):
        statuses.append(401)
    if "requestBody" in operation:
        statuses += [400, 413]
    if any(parameter["in"] == "path" for parameter in operation.get("parameters", ())):
        statuses.append(404)  # an id that is not one, or names nothing
    return statuses


def _with_common_errors(operation: dict) -> dict:
    responses = {**errors(*common_errors(operation)), **operation["responses"]}
    return {**operation, "responses": dict(sorted(responses.items()))}


def ok(status: int = 200, description: str = "ok") -> dict:
    return {str(status): {"description": description, "content": {"application/json": {}}}}


BEARER = [{"bearer": []}]
LIMIT = {
    "name": "limit",
    "in": "query",
    "required": False,
    "description": "每页条数；超过该列表的上限时按上限返回",
    "schema": {"type": "integer", "minimum": 1},
}
ID_CURSOR = {
    "name": "cursor",
    "in": "query",
    "required": False,
    "description": "上一页返回的 next_cursor",
    "schema": {"type": "integer", "minimum": 0},
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "同一个键重复提交只登记一次",
    "schema": {"type": "string", "maxLength": 200},
}
LIST_PARAMS = [
    *(
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
        for name in ("site", "status", "type", "department", "overdue", "month", "q", "cursor")
    ),
    LIMIT,
]

BASE_DOCUMENT = {
    "openapi": "3.0.3",
    "info": {"title": "办成 Bancheng API", "version": "1"},
    "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    "paths": {
        "/api/v1/openapi.json": {"get": {"summary": "本文档（OpenAPI 3）", "responses": ok()}},
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
                "responses": {**ok(), **errors(400, 401, 422, 429)},
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
                "parameters": [IDEMPOTENCY_KEY],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": REGISTRATION}},
                },
                "responses": {
                    **ok(201, "registered"),
                    **ok(200, "replayed"),
                    # 409: the Idempotency-Key already opened a case of another site
                    **errors(400, 401, 403, 409, 413, 422),
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
    from services.gateway.api import (
        accountability,
        bad_ratings,
        coordination,
        front_door,
        intake,
        precedents,
        refusals,
        reporting,
    )

    paths = dict(BASE_DOCUMENT["paths"])
    for module in (
        front_door,
        intake,
        coordination,
        bad_ratings,
        accountability,
        reporting,
        precedents,
        refusals,
    ):
        paths.update(getattr(module, "OPENAPI_PATHS", {}))
    paths = {
        path: {method: _with_common_errors(operation) for method, operation in operations.items()}
        for path, operations in paths.items()
    }
    return {**BASE_DOCUMENT, "paths": paths}
