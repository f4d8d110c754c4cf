"""The front door's request handling in one place: bodies, tokens and error mapping.

Every API route is wrapped by :func:`api`, which turns domain errors (raised here or in a
service and carried back over RPC) into ``{"error": {"code", "message", "field"}}`` with the
error's status. The pages use the same :func:`as_user_error`. A service, broker or database
that is down or late is a 503 with ``Retry-After``; anything unexpected is a 500 whose error
id is logged with the traceback (here, or in the service that raised it) and names no internals.
"""

import functools
import json
import logging
import time
import uuid

from nameko.exceptions import RemoteError
from prometheus_client import Histogram

from services.common import errors
from services.common.web import json_response
from services.gateway import validation

log = logging.getLogger(__name__)

TOKEN_COOKIE = "bancheng_token"

HTTP_SECONDS = Histogram(
    "bancheng_http_request_seconds",
    "Front-door request latency by route and status",
    ["method", "route", "status"],
)


RETRY_AFTER_SECONDS = 5


def error_response(error: errors.BanchengError):
    return json_response(
        {"error": error.as_dict()}, status=error.status, headers=retry_after(error)
    )


def retry_after(error: errors.BanchengError) -> dict:
    """``Retry-After`` for a 503: the dependency is expected back, the request may be repeated."""
    return {"Retry-After": str(RETRY_AFTER_SECONDS)} if error.status == 503 else {}


def as_user_error(error: Exception, request, route: str) -> errors.BanchengError:
    """Any exception a route raised, as the error its caller is shown."""
    if isinstance(error, errors.BanchengError):
        return error
    error_id = uuid.uuid4().hex[:12]
    if isinstance(error, RemoteError):
        # a service raised something it did not turn into a domain error
        log.error(
            "error id %s: a service failed behind %s %s: %s", error_id, request.method, route, error
        )
    else:
        log.error(
            "error id %s in %s %s",
            error_id,
            request.method,
            route,
            exc_info=(type(error), error, error.__traceback__),
        )
    return errors.ServiceFault(f"系统内部错误，错误编号 {error_id}", code=error_id)


def read_json(request, max_bytes: int) -> dict:
    """The request body as a JSON object: a 400 when it is not one, a 413 when too large, a
    422 naming the field whose value the front door refuses (:mod:`services.gateway.validation`)."""
    length = request.content_length
    if length is not None and length > max_bytes:
        raise errors.PayloadTooLarge(f"请求体超过 {max_bytes} 字节上限")
    raw = request.get_data(cache=True)
    if len(raw) > max_bytes:
        raise errors.PayloadTooLarge(f"请求体超过 {max_bytes} 字节上限")
    try:
        body = json.loads(raw.decode("utf-8")) if raw else None
    except RecursionError as exc:  # json nests by recursion: thousands of "[" exhaust the stack
        raise errors.BadRequest(f"请求体嵌套超过 {validation.MAX_DEPTH} 层") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise errors.BadRequest(f"请求体不是有效的 JSON：{exc}") from exc
    except ValueError as exc:  # an integer longer than Python converts (4,300 digits)
        raise errors.BadRequest("请求体中的数字过长") from exc
    if not isinstance(body, dict):
        raise errors.BadRequest("请求体应为 JSON 对象")
    validation.check_body(body)
    return body


def bearer_token(request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[len("Bearer ") :].strip()
    return request.cookies.get(TOKEN_COOKIE)


def handled(route: str, respond):
    """Wrap a gateway method: time it, and hand any error — as the user is to see it
    (:func:`as_user_error`) — to ``respond(gateway, request, error)`` for the response."""

    def decorator(method):
        @functools.wraps(method)
        def handle(self, request, *args, **kwargs):
            started = time.perf_counter()
            try:
                response = method(self, request, *args, **kwargs)
            except Exception as error:  # every error becomes what the contract shows
                response = respond(self, request, as_user_error(error, request, route))
            HTTP_SECONDS.labels(request.method, route, response.status_code).observe(
                time.perf_counter() - started
            )
            return response

        return handle

    return decorator


def api(route: str):
    """An API route: every error in the contract's JSON shape."""
    return handled(route, lambda gateway, request, error: error_response(error))
