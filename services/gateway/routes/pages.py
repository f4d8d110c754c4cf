"""Server-rendered staff pages in Chinese (templates in services/gateway/templates/)."""

from nameko.web.handlers import http
from werkzeug.wrappers import Response

from services.gateway.base import GatewayBase


class PageRoutes(GatewayBase):
    @http("GET", "/")
    def home(self, request):
        return Response(
            "<!doctype html><html lang='zh-CN'><meta charset='utf-8'><title>办成</title>"
            "<h1>办成 · 办不成事反映窗口</h1><p>接口文档：<a href='/api/v1/openapi.json'>/api/v1/openapi.json</a></p>",
            mimetype="text/html",
        )
