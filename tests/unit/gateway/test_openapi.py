"""The OpenAPI document lists every API route and every status each one can answer."""

import re

import pytest
import schemathesis
from schemathesis.core.result import Ok

from services.gateway.api import openapi
from services.gateway.service import GatewayService

DOCUMENT = openapi.document()
OPERATIONS = [
    (method, path, operation)
    for path, operations in DOCUMENT["paths"].items()
    for method, operation in operations.items()
]


def _shape(path: str) -> str:
    """A path with its parameters blanked: the routes and the document name them differently."""
    return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", path)


def api_routes() -> set[tuple[str, str]]:
    routes = set()
    for name in dir(GatewayService):
        for entrypoint in getattr(getattr(GatewayService, name), "nameko_entrypoints", ()):
            if getattr(entrypoint, "url", "").startswith("/api/v1/"):
                for method in entrypoint.method.split(","):
                    routes.add((method.lower(), _shape(entrypoint.url)))
    return routes


def test_every_api_route_is_in_the_document_and_nothing_else():
    documented = {(method, _shape(path)) for method, path, _ in OPERATIONS}
    assert api_routes() == documented


def test_schemathesis_reads_every_operation():
    schema = schemathesis.openapi.from_dict(DOCUMENT)
    results = list(schema.get_all_operations())
    assert results and all(isinstance(result, Ok) for result in results)
    assert len(results) == len(OPERATIONS)


@pytest.mark.parametrize(
    "method, path, operation", OPERATIONS, ids=[f"{m.upper()} {p}" for m, p, _ in OPERATIONS]
)
def test_each_operation_lists_the_errors_any_route_of_its_shape_answers(method, path, operation):
    responses = operation["responses"]
    expected = {"414", "422", "500", "503"}
    if operation.get("security"):
        expected.add("401")
    if "requestBody" in operation:
        expected |= {"400", "413"}
    if "{" in path:
        expected.add("404")
    assert expected <= set(responses)
    assert responses["503"]["headers"]["Retry-After"]["required"] is True
    for status, response in responses.items():
        if int(status) >= 400 and status != "414":  # eventlet's, before the front door: no body
            assert response["content"]["application/json"]["schema"] is openapi.ERROR


def test_only_login_and_the_document_itself_need_no_token():
    open_operations = {path for _, path, operation in OPERATIONS if not operation.get("security")}
    assert open_operations == {"/api/v1/auth/login", "/api/v1/openapi.json"}
