"""API fuzzing: schemathesis against the running front door and its OpenAPI document.

Two passes over every operation of ``/api/v1/openapi.json``:

* **coverage** — schemathesis's coverage phase: every boundary and every schema-violating value
  it derives from the document (missing and extra fields, wrong types, out-of-range numbers,
  methods the path does not take), sent with the token of a role the route admits (found by
  asking each role in turn) and, on a case's routes, to a real case in the state the route acts
  on, so the input gets past the role, existence and state checks to the validation behind them;
* **fuzzing** — a few generated requests per operation with the token of every role (the same
  real cases: window staff of another site must be refused them), edge strings (NUL, escape codes, ``Infinity``, huge numbers) mixed into the values.

Every answer is held to the contract: no 5xx at all (a 503 means a service raised on bad
input, a 500 a bug), a status the document lists for the operation, the documented content
type, the error body ``{"error": {"code", "message", "field"}}`` as JSON on every error, and
``Retry-After`` where the document promises it. Bounded: the coverage phase is finite, the
fuzzing phase has a few examples per operation, generation is derandomized (a fixed seed, no
example database), so a run is repeatable; each request has a timeout.

The schema is built at collection time from :func:`services.gateway.api.openapi.document`, the
function that serves it (schemathesis 4.32's fixture-based loader does not run on pytest 9.2);
:func:`test_the_served_document_is_the_one_fuzzed` proves the running front door serves it.
"""

import collections
import copy
import time

import jsonschema
import pytest
import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from services.gateway.api import openapi
from tests.e2e.test_walking_skeleton import registration
from tests.system import API, login

pytestmark = pytest.mark.e2e

ORIGIN = API.removesuffix("/api/v1")
# window staff of the hall and of a street centre, then every district-wide role
ROLES = ("hall.staff", "xjk.staff", "officer", "bureau", "supervisor", "operator")
# who is asked first for the coverage pass: the roles that act on the most routes
ACTOR_ORDER = ("officer", "bureau", "supervisor", "hall.staff", "operator", "xjk.staff")
FUZZ_EXAMPLES = 3
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    unsupported_method,
]
EDGE_STRINGS = [
    "\x00",
    "a\x00b",
    "\x1b[2J",
    "\x7f",
    "Infinity",
    "-Infinity",
    "NaN",
    "1e400",
    "-1",
    "0",
    "99999999999999999999999",
    "\u202e",
    "2026-13-45",
    "9999-12-31T23:59:59+08:00",
    "x" * 3000,
    "'; --",
    "../..",
]
EDGE_INTEGERS = [0, -1, 2**31, 2**53, 2**63, -(2**63) - 1, 10**30]
RAN = collections.Counter()
STATUSES = collections.Counter()


def error_body_schema() -> dict:
    """The document's error body as plain JSON Schema (OpenAPI 3.0 says ``nullable``)."""
    schema = copy.deepcopy(openapi.ERROR)
    field = schema["properties"]["error"]["properties"]["field"]
    field["type"] = ["string", "null"]
    del field["nullable"]
    return schema


ERROR_BODY = error_body_schema()


def fuzz_config(*phases: str) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "seed": 20261130,
            "base-url": ORIGIN,
            "request-timeout": 15,
            "generation": {
                "max-examples": FUZZ_EXAMPLES,
                "deterministic": True,
                "database": "none",
                # the token is ours (a real one per role), not a generated one
                "with-security-parameters": False,
                "dictionaries": {
                    "string": {"dictionary": "edge_strings", "probability": 0.25},
                    "integer": {"dictionary": "edge_integers", "probability": 0.25},
                },
            },
            "dictionaries": {
                "edge_strings": {"values": EDGE_STRINGS},
                "edge_integers": {"values": EDGE_INTEGERS},
            },
            "phases": {
                name: {"enabled": name in phases}
                for name in ("examples", "coverage", "fuzzing", "stateful")
            },
        }
    )


DOCUMENT = openapi.document()
# these end every session of the caller, and the fuzzer's calls share one token per role: they
# have tests of their own (tests/e2e/test_login_sessions.py)
SESSION_ENDING = ["/api/v1/auth/logout", "/api/v1/auth/password"]
COVERAGE = schemathesis.openapi.from_dict(
    DOCUMENT, config=fuzz_config("examples", "coverage")
).exclude(path=SESSION_ENDING)
FUZZING = schemathesis.openapi.from_dict(DOCUMENT, config=fuzz_config("fuzzing")).exclude(
    path=SESSION_ENDING
)


@pytest.fixture(scope="module", autouse=True)
def fuzz_report(request):
    """Writes how many cases ran, and what they were answered, below the module's tests."""
    started = time.monotonic()
    yield
    plugins = request.config.pluginmanager
    terminal, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
    if terminal is None or capture is None or not RAN:
        return
    answered = ", ".join(f"{status}: {n}" for status, n in sorted(STATUSES.items()))
    with capture.global_and_fixture_disabled():  # a teardown's output is captured otherwise
        terminal.write_line(
            f"\nAPI fuzzing: {sum(RAN.values())} cases ({RAN['coverage']} coverage, "
            f"{RAN['fuzzing']} fuzzing with {len(ROLES)} roles) "
            f"in {time.monotonic() - started:.0f} s; answered {answered}"
        )


@pytest.fixture(scope="module")
def tokens(system) -> dict[str, dict]:
    return {role: login(role) for role in ROLES}


@pytest.fixture(scope="module")
def actors(tokens) -> dict[str, dict]:
    """For each operation, the headers of the first role (in ACTOR_ORDER) it does not refuse."""
    chosen = {}
    for operation in (result.ok() for result in COVERAGE.get_all_operations()):
        url = ORIGIN + operation.path.format_map(collections.defaultdict(lambda: "0"))
        for role in ACTOR_ORDER:
            probe = requests.request(
                operation.method.upper(), url, json={}, headers=tokens[role], timeout=15
            )
            if probe.status_code != 403:
                break
        chosen[operation.label] = tokens[role]
    return chosen


@pytest.fixture(scope="module")
def case_in_state(tokens) -> dict[str, str]:
    """A real case number per state a case's routes act on: registered, `cannot`, `hard`, and
    one a bad rating opened."""
    numbers = {}
    for state in ("registered", "cannot", "hard"):
        answer = requests.post(
            f"{API}/cases", json=registration(), headers=tokens["hall.staff"], timeout=15
        )
        assert answer.status_code == 201, answer.text
        numbers[state] = answer.json()["case_no"]
        if state != "registered":
            classified = requests.post(
                f"{API}/cases/{numbers[state]}/classify",
                json={"type": state, "reason": "接口模糊测试"},
                headers=tokens["officer"],
                timeout=15,
            )
            assert classified.status_code == 200, classified.text
    # a case a bad rating opened, for the 差评 loop's routes (any other case is 409 there)
    rating = {"channel": "rating", "site": "HALL", "window": "W02", "matter": "M001", "level": 2}
    answer = requests.post(f"{API}/feedback", json=rating, headers=tokens["officer"], timeout=15)
    assert answer.status_code == 201, answer.text
    numbers["bad_rating"] = answer.json()["case_no"]
    return numbers


def state_for(path: str) -> str:
    """Which case a route under /cases/{case_no}/ needs to get past its state check."""
    action = path.partition("{case_no}/")[2].split("/")[0]
    if action in ("explain", "resolve", "reply", "close", "archive", "reopen"):
        return "cannot"
    if action == "bad-rating":
        return "bad_rating"
    return "hard" if action in ("measures", "deadlines") else "registered"


@pytest.fixture(scope="module", params=ROLES)
def role_headers(request, tokens) -> dict:
    return tokens[request.param]


def call_and_check(case, headers: dict, case_in_state: dict, kind: str) -> None:
    if "case_no" in (case.path_parameters or {}):
        case.path_parameters["case_no"] = case_in_state[state_for(case.operation.path)]
    response = case.call(headers=headers)
    RAN[kind] += 1
    STATUSES[response.status_code] += 1
    case.validate_response(response, checks=CHECKS)
    # every error the front door answers (eventlet's 414 for a URL over 8 KB has no body)
    if response.status_code >= 400 and response.status_code != 414:
        content_type = response.headers.get("content-type", [""])[0]  # lower-case keys, lists
        assert content_type.startswith("application/json"), response.text
        jsonschema.validate(response.json(), ERROR_BODY)


def test_the_served_document_is_the_one_fuzzed(system):
    served = requests.get(f"{API}/openapi.json", timeout=10)
    assert served.status_code == 200
    assert served.json() == DOCUMENT


@COVERAGE.parametrize()
def test_bad_input_to_every_operation_is_answered_within_the_contract(case, actors, case_in_state):
    call_and_check(case, actors[case.operation.label], case_in_state, "coverage")


@FUZZING.parametrize()
def test_every_role_is_answered_within_the_contract(case, role_headers, case_in_state):
    call_and_check(case, role_headers, case_in_state, "fuzzing")


# What fuzzing found before the fixes, each asked once through the running front door.
FOUND = [
    # (role, method, path, body, status, field): 503 or 500 before, or Werkzeug's HTML
    (None, "POST", "/auth/login", '{"username": "a\\u0000b", "password": "demo"}', 422, "username"),
    (None, "POST", "/auth/login", "[" * 50_000 + "]" * 50_000, 400, None),
    (None, "POST", "/auth/login", '{"username": "u", "password": "p", "n": Infinity}', 422, "n"),
    ("officer", "GET", "/joint-meetings?cursor=Infinity", None, 422, "cursor"),
    ("supervisor", "GET", "/audit?cursor=99999999999999999999", None, 422, "cursor"),
    ("officer", "GET", "/practices?cursor=abc", None, 422, "cursor"),
    ("officer", "GET", "/cases?limit=0", None, 422, "limit"),
    ("officer", "GET", "/cases?q=%00", None, 422, "q"),
    ("officer", "GET", "/cases/%00", None, 422, "case_no"),
    ("officer", "GET", "/no-such-route", None, 404, None),
    ("officer", "GET", "/joint-meetings/not-a-number", None, 404, None),
    ("officer", "DELETE", "/cases", None, 405, None),
]


@pytest.mark.parametrize(
    "role, method, path, body, status, field", FOUND, ids=[f"{m} {p[:40]}" for _, m, p, *_ in FOUND]
)
def test_what_fuzzing_found_is_a_4xx_in_the_contracts_shape(
    tokens, role, method, path, body, status, field
):
    headers = {**(tokens[role] if role else {}), "Content-Type": "application/json"}
    answer = requests.request(
        method, f"{API}{path}", data=body.encode() if body else None, headers=headers, timeout=15
    )
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.json()["error"]["field"] == field
    if status == 405:
        assert set(answer.headers["Allow"].split(", ")) >= {"GET", "POST"}
