"""The front door's request handling in one place: bodies, tokens and error mapping.

Every API route is wrapped by :func:`api`, which turns domain errors (raised here or in a
service and carried back over RPC) into ``{"error": {"code", "message", "field"}}`` with the
error's status, and anything unexpected into a 500 that names no internals.
"""

import functools
import json
import logging
import time

from nameko.exceptions import RemoteError, deserialize_to_instance
from prometheus_client import Histogram

from services.common import errors
from services.common.web import json_response

log = logging.getLogger(__name__)

TOKEN_COOKIE = "bancheng_token"

# Domain errors raised in a service come back over RPC as the same class, not a RemoteError.
for _error_class in errors.ERRORS_BY_NAME.values():
    deserialize_to_instance(_error_class)

HTTP_SECONDS = Histogram(
    "bancheng_http_request_seconds",
    "Front-door request latency by route and status",
    ["method", "route", "status"],
)


def error_response(error: errors.BanchengError):
    return json_response({"error": error.as_dict()}, status=error.status)


def read_json(request, max_bytes: int) -> dict:
    """The request body as a JSON object, or a 400/413 naming what is wrong."""
    length = request.content_length
    if length is not None and length > max_bytes:
        raise errors.PayloadTooLarge(f"请求体超过 {max_bytes} 字节上限")
    raw = request.get_data(cache=True)
    if len(raw) > max_bytes:
        raise errors.PayloadTooLarge(f"请求体超过 {max_bytes} 字节上限")
    try:
        body = json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise errors.BadRequest(f"请求体不是有效的 JSON：{exc}") from exc
    if not isinstance(body, dict):
        raise errors.BadRequest("请求体应为 JSON 对象")
    return body


def bearer_token(request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[len("Bearer ") :].strip()
    return request.cookies.get(TOKEN_COOKIE)


def api(route: str):
    """Wrap a gateway method: time it, and map every error to the contract's shape."""

    def decorator(method):
        @functools.wraps(method)
        def handle(self, request, *args, **kwargs):
            started = time.perf_counter()
            try:
                response = method(self, request, *args, **kwargs)
            except errors.BanchengError as error:
                response = error_response(error)
            except RemoteError as error:
                log.error("a service failed behind %s %s: %s", request.method, route, error)
                response = error_response(errors.ServiceUnavailable("服务暂时不可用，请稍后重试"))
            HTTP_SECONDS.labels(request.method, route, response.status_code).observe(
                time.perf_counter() - started
            )
            return response

        return handle

    return decorator
