"""The contract's JSON for what is refused before a route runs, under ``/api/v1`` (and the
Open311 spec's errors under ``/open311/v2``).

nameko's web server answers a path that matches no route, or a method the path does not take,
with Werkzeug's HTML pages. An API client gets the contract's error instead: a JSON 404, or a
JSON 405 with ``Allow``. Here, too, before any route runs, the front door checks what a route
would take from the URL and headers — path parameters, query parameters, ``Idempotency-Key`` —
with :mod:`services.gateway.validation`, so every route is covered, present and future.
Pages (outside ``/api/v1``) keep Werkzeug's 404 and 405, but bad URL inputs there are refused
too, as a Chinese error page naming the parameter.

nameko shares one :class:`~nameko.web.server.WebServer` between all ``@http`` entrypoints of a
container, so it cannot be subclassed per service; :func:`install` replaces the WSGI app it
builds (nameko's documented extension point, ``get_wsgi_app``) for the gateway's process.
"""

import time

from nameko.web.server import WebServer, WsgiApp
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import MethodNotAllowed as RouteMethodNotAllowed
from werkzeug.exceptions import NotFound as RouteNotFound
from werkzeug.wrappers import Request

from services.common import errors
from services.gateway import validation
from services.gateway.api import open311
from services.gateway.http import HTTP_SECONDS, error_response
from services.gateway.pages.common import render

API_ROOT = "/api/v1"
OPEN311_ROOT = "/open311/v2"
IDEMPOTENCY_KEY = "Idempotency-Key"
MAX_IDEMPOTENCY_KEY = 200


class MethodNotAllowed(errors.BanchengError):
    code = "method_not_allowed"
    status = 405


def check_url_inputs(request, path_values: dict) -> None:
    """What a route would read from the URL and headers, refused with a 422 naming it."""
    validation.check_parameters((name, str(value)) for name, value in path_values.items())
    validation.check_parameters(request.args.items(multi=True))
    key = request.headers.get(IDEMPOTENCY_KEY)
    if key is not None:
        validation.check_text(key, IDEMPOTENCY_KEY)
        if len(key) > MAX_IDEMPOTENCY_KEY:
            raise errors.InvalidField(
                f"{IDEMPOTENCY_KEY} 不能超过 {MAX_IDEMPOTENCY_KEY} 个字符", IDEMPOTENCY_KEY
            )


class ApiWsgiApp(WsgiApp):
    """nameko's WSGI app, answering routing errors and bad URL inputs under ``/api/v1`` in JSON."""

    def __call__(self, environ, start_response):
        request = Request(environ, shallow=True)  # shallow: the body stays for the route
        if request.path.startswith(OPEN311_ROOT + "/"):
            # Open311's resources answer these in the spec's errors instead of the contract's
            def refuse(error):
                return open311.error_answer(request.path, error)
        elif request.path == API_ROOT or request.path.startswith(API_ROOT + "/"):
            refuse = error_response
        else:
            return self._page(request, environ, start_response)
        started = time.perf_counter()
        route = "(no route)"
        try:
            provider, values = self.url_map.bind_to_environ(environ).match()
            route = provider.url
            check_url_inputs(request, values)
        except RouteNotFound:
            response = refuse(
                errors.NotFound(
                    f"找不到 {request.method} {request.path}：没有这个接口，或路径中的编号无效"
                )
            )
        except RouteMethodNotAllowed as refused:
            allowed = sorted(refused.valid_methods or ())
            response = refuse(MethodNotAllowed(f"{request.path} 只接受 {', '.join(allowed)} 请求"))
            response.headers["Allow"] = ", ".join(allowed)
        except HTTPException as other:  # a redirect to the canonical URL, say
            return other(environ, start_response)
        except errors.BanchengError as refused:
            response = refuse(refused)
        else:
            request.path_values = values
            return provider.handle_request(request)(environ, start_response)
        HTTP_SECONDS.labels(request.method, route, response.status_code).observe(
            time.perf_counter() - started
        )
        return response(environ, start_response)

    def _page(self, request, environ, start_response):
        try:
            _provider, values = self.url_map.bind_to_environ(environ).match()
            check_url_inputs(request, values)
        except errors.BanchengError as refused:
            page = render(
                "error.html", None, status=refused.status, title="请求有误", error=refused
            )
            return page(environ, start_response)
        except HTTPException:
            pass  # no such page, or not by this method: Werkzeug's answer, as before
        return super().__call__(environ, start_response)


def _api_wsgi_app(server: WebServer) -> WsgiApp:
    return ApiWsgiApp(server)


def install() -> None:
    """Make every nameko web server of this process build :class:`ApiWsgiApp`."""
    WebServer.get_wsgi_app = _api_wsgi_app
