"""The front door's one error mapping: a dependency down is a 503 to retry, a bug a 500 with an id."""

import json
import logging

from nameko.exceptions import RemoteError
from werkzeug.test import EnvironBuilder

from services.common import errors
from services.gateway.http import api, as_user_error, error_response

REQUEST = EnvironBuilder(method="POST", path="/api/v1/cases").get_request()


def test_a_domain_error_is_shown_as_it_is():
    error = errors.InvalidField("手机号码格式不正确", "applicant.phone")
    assert as_user_error(error, REQUEST, "/api/v1/cases") is error


def test_an_unavailable_dependency_is_a_503_with_retry_after():
    response = error_response(errors.ServiceUnavailable("coordination 服务暂时不可用"))
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert json.loads(response.get_data())["error"]["code"] == "service_unavailable"


def test_other_errors_carry_no_retry_after():
    assert "Retry-After" not in error_response(errors.Conflict("状态不允许")).headers


def test_a_bug_in_the_gateway_is_a_500_whose_id_is_logged_with_the_traceback(caplog):
    @api("/api/v1/cases")
    def route(self, request):
        raise KeyError("applicant")

    with caplog.at_level(logging.ERROR, logger="services.gateway.http"):
        response = route(None, REQUEST)
    body = json.loads(response.get_data())["error"]
    assert response.status_code == 500 and body["code"] == "internal_error"
    assert "applicant" not in body["message"], "no internals in what the user sees"
    logged = [r for r in caplog.records if body["id"] in r.getMessage()]
    assert logged and logged[0].exc_info[0] is KeyError


def test_an_unmapped_remote_error_is_a_500_not_a_503(caplog):
    with caplog.at_level(logging.ERROR, logger="services.gateway.http"):
        error = as_user_error(RemoteError("TypeError", "boom"), REQUEST, "/api/v1/cases")
    assert isinstance(error, errors.ServiceFault) and error.status == 500
    assert any(
        error.code in r.getMessage() and "TypeError" in r.getMessage() for r in caplog.records
    )
