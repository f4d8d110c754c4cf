"""Staff records, investigations, findings, appeals and department scores."""

from nameko.web.handlers import http

from services.common.web import json_response
from services.gateway.base import GatewayBase
from services.gateway.http import api


class AccountabilityRoutes(GatewayBase):
    @http("GET", "/api/v1/staff/<string:staff_id>/record")
    @api("/api/v1/staff/{id}/record")
    def staff_record(self, request, staff_id):
        self._user(request)
        return json_response(self.accountability.staff_record(staff_id))
