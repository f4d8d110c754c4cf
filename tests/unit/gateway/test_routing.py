"""Before any route runs: JSON 404/405 under /api/v1, and URL inputs checked for every route."""

import json

import pytest
from nameko.web.server import WebServer
from werkzeug.routing import Map, Rule
from werkzeug.test import Client
from werkzeug.wrappers import Response

from services.gateway import routing


class Route:
    """Stands in for a nameko ``@http`` entrypoint: echoes the path values it was given."""

    def __init__(self, method: str, url: str):
        self.method, self.url = method, url

    def handle_request(self, request):
        return Response(json.dumps(request.path_values), mimetype="application/json")


class Server:
    routes = [
        Route("GET", "/api/v1/sites"),
        Route("GET", "/api/v1/cases/<string:case_no>"),
        Route("POST", "/api/v1/joint-meetings/<int:meeting_id>/minutes"),
        Route("GET", "/cases/<string:case_no>"),
    ]

    def make_url_map(self):  # as nameko's WebServer builds it
        url_map = Map()
        for route in self.routes:
            url_map.add(Rule(route.url, methods=[route.method], endpoint=route))
        return url_map


@pytest.fixture
def client():
    return Client(routing.ApiWsgiApp(Server()))


def error_of(response) -> dict:
    assert response.mimetype == "application/json", response.get_data(as_text=True)
    return response.get_json()["error"]


def test_a_route_runs_with_its_path_values(client):
    response = client.get("/api/v1/cases/HALL-20261130-0001")
    assert response.status_code == 200
    assert response.get_json() == {"case_no": "HALL-20261130-0001"}


def test_an_unknown_api_path_is_a_json_404_in_the_contracts_shape(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found" and error_of(response)["field"] is None


def test_an_id_that_is_not_a_number_is_a_json_404(client):
    response = client.post("/api/v1/joint-meetings/abc/minutes", json={})
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"


def test_a_method_the_path_does_not_take_is_a_json_405_with_allow(client):
    response = client.delete("/api/v1/sites")
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD"}


def test_pages_keep_werkzeugs_answers(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404 and response.mimetype == "text/html"


@pytest.mark.parametrize(
    "url, field",
    [
        ("/api/v1/cases/HALL%00", "case_no"),
        ("/api/v1/sites?site=%1B", "site"),
        ("/api/v1/sites?limit=1&q=a%00b", "q"),
        ("/api/v1/sites?%00=1", "\\x00"),
    ],
)
def test_a_control_character_in_the_url_is_a_422_naming_the_parameter(client, url, field):
    response = client.get(url)
    assert response.status_code == 422
    assert error_of(response)["code"] == "invalid_field" and error_of(response)["field"] == field


def test_an_idempotency_key_must_be_clean_and_short(client):
    too_long = client.get("/api/v1/sites", headers={"Idempotency-Key": "k" * 201})
    assert too_long.status_code == 422 and error_of(too_long)["field"] == "Idempotency-Key"
    fine = client.get("/api/v1/sites", headers={"Idempotency-Key": "k" * 200})
    assert fine.status_code == 200


def test_install_makes_nameko_build_the_api_app(monkeypatch):
    monkeypatch.setattr(WebServer, "get_wsgi_app", WebServer.get_wsgi_app)
    routing.install()
    server = Server()
    assert isinstance(WebServer.get_wsgi_app(server), routing.ApiWsgiApp)


def test_a_control_character_in_a_page_url_is_a_chinese_error_page_not_a_500(client):
    response = client.get("/cases/HALL%00?q=a%00b")
    assert response.status_code == 422
    assert response.mimetype == "text/html"
    assert "请求有误" in response.get_data(as_text=True)
