"""Static checks of the deployment files (no Docker engine needed).

docker-compose.yml is validated against the Compose Specification schema, and cross-checked
with the source tree, deploy/run.sh and the Prometheus scrape configuration, so a service
added under services/ cannot be forgotten in any of them.
"""

import json
import os
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
COMPOSE_SCHEMA = REPO_ROOT.parent / "shared/schemas/compose-spec.json"
DOCKERFILE = "deploy/Dockerfile"
RUN_SH = REPO_ROOT / "deploy/run.sh"
PROMETHEUS_FILE = REPO_ROOT / "deploy/prometheus/prometheus.yml"

# Fixed by the design: these must be deployed even before their service.py exists.
REQUIRED_SERVICES = {"gateway", "intake", "coordination", "accountability", "reporting"}


def source_services() -> set[str]:
    """Names of the packages under services/ that hold a nameko service (a service.py)."""
    return {path.parent.name for path in (REPO_ROOT / "services").glob("*/service.py")}


def command_words(service: dict) -> list[str]:
    command = service.get("command", [])
    return command.split() if isinstance(command, str) else [str(word) for word in command]


def built_from_dockerfile(service: dict) -> bool:
    build = service.get("build")
    return (
        isinstance(build, dict)
        and build.get("dockerfile") == DOCKERFILE
        and (REPO_ROOT / build.get("context", ".")).resolve() == REPO_ROOT
    )


def depends_on_targets(service: dict) -> list[str]:
    depends_on = service.get("depends_on", [])
    return list(depends_on) if isinstance(depends_on, (dict, list)) else []


class ComposeLoader(yaml.SafeLoader):
    """YAML as Compose reads it: nameko's loader (set up by the test session) would substitute
    ``${VAR:?message}`` and ``${VAR:-default}`` itself, in its own way."""


ComposeLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "!env_var"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.load(COMPOSE_FILE.read_text(encoding="utf-8"), Loader=ComposeLoader)


@pytest.fixture(scope="module")
def compose_services(compose) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def app_services(compose_services) -> dict:
    """Long-running services built from the project's image (the one-shot seed excluded)."""
    return {
        name: service
        for name, service in compose_services.items()
        if built_from_dockerfile(service)
        and "seed" not in command_words(service)
        and service.get("restart") != "no"  # one-shots (broker-users)
    }


def test_compose_file_matches_the_compose_specification(compose):
    if not COMPOSE_SCHEMA.is_file():
        pytest.fail(f"Compose Specification schema not found; expected it at {COMPOSE_SCHEMA}")
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    assert "draft-07" in schema.get("$schema", ""), (
        f"{COMPOSE_SCHEMA} declares {schema.get('$schema')!r}; this test validates with Draft 7"
    )
    jsonschema.Draft7Validator.check_schema(schema)

    errors = sorted(
        jsonschema.Draft7Validator(schema).iter_errors(compose), key=lambda e: list(e.path)
    )
    messages = [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors]
    assert not messages, "docker-compose.yml is not valid Compose:\n" + "\n".join(messages)
    assert "version" not in compose, "the Compose spec has no `version:` key; remove it"


def test_every_service_package_is_deployed(compose_services):
    expected = REQUIRED_SERVICES | source_services()
    missing = sorted(expected - set(compose_services))
    assert not missing, f"services with no entry in docker-compose.yml: {missing}"


@pytest.mark.parametrize("name", sorted(REQUIRED_SERVICES | source_services()))
def test_service_runs_itself_from_the_project_image(compose_services, name):
    service = compose_services.get(name)
    assert service is not None, f"{name} is missing from docker-compose.yml"
    assert built_from_dockerfile(service), (
        f"{name} must build with context '.' and dockerfile {DOCKERFILE}, got {service.get('build')!r}"
    )
    assert name in command_words(service), (
        f"{name}'s command {service.get('command')!r} does not name the service"
    )


def test_intake_runs_several_instances(compose_services):
    replicas = compose_services["intake"].get("deploy", {}).get("replicas", 1)
    assert int(replicas) >= 2, f"intake must run at least 2 replicas, has {replicas}"


def test_depends_on_targets_exist(compose_services):
    dangling = [
        f"{name} -> {target}"
        for name, service in compose_services.items()
        for target in depends_on_targets(service)
        if target not in compose_services
    ]
    assert not dangling, f"depends_on names services that do not exist: {dangling}"


def test_healthcheck_probes_the_port_the_service_listens_on(app_services):
    for name, service in app_services.items():
        address = str(service.get("environment", {}).get("WEB_SERVER_ADDRESS", ""))
        assert address, f"{name} sets no WEB_SERVER_ADDRESS"
        port = address.rsplit(":", 1)[-1]
        probe = " ".join(service.get("healthcheck", {}).get("test", []))
        assert f"127.0.0.1:{port}/healthz" in probe, (
            f"{name} listens on {address} but its healthcheck is {probe!r}"
        )


def test_run_script_is_executable_and_knows_every_service():
    assert RUN_SH.is_file(), f"{RUN_SH} is missing"
    assert os.access(RUN_SH, os.X_OK), f"{RUN_SH} is not executable (chmod +x)"
    text = RUN_SH.read_text(encoding="utf-8")
    unknown = sorted(
        name
        for name in REQUIRED_SERVICES | source_services()
        if f"services.{name}.service" not in text
    )
    assert not unknown, f"deploy/run.sh does not mention the modules of: {unknown}"


def test_dockerfile_runs_run_sh():
    text = (REPO_ROOT / DOCKERFILE).read_text(encoding="utf-8")
    assert "deploy/run.sh" in text, "the Dockerfile's ENTRYPOINT should be deploy/run.sh"


def test_prometheus_scrapes_every_service(app_services):
    config = yaml.safe_load(PROMETHEUS_FILE.read_text(encoding="utf-8"))
    assert "alerts.yml" in config.get("rule_files", [])

    scraped_hosts: dict[str, set[str]] = {}
    for job in config.get("scrape_configs", []):
        hosts = {
            target.rsplit(":", 1)[0]
            for static in job.get("static_configs", [])
            for target in static.get("targets", [])
        }
        hosts |= {name for dns in job.get("dns_sd_configs", []) for name in dns.get("names", [])}
        scraped_hosts[job["job_name"]] = hosts

    unscraped = sorted(name for name in app_services if name not in scraped_hosts.get(name, set()))
    assert not unscraped, f"no Prometheus job scrapes: {unscraped}"


# -- secrets: none in the file, each taken from the environment (services.common.secrets) -----

# what the services read as secrets, and the database's password
COMPOSE_SECRETS = (
    "TOKEN_SECRET",
    "ID_NUMBER_KEYS",
    "AUDIT_KEY",
    "POSTGRES_PASSWORD",
    "SERVICE_ASSERTION_KEY",
    "EVENT_PUBLIC_KEYS",
    "RABBITMQ_ADMIN_PASSWORD",
)


def environments(compose_services) -> dict[str, dict]:
    return {
        name: service.get("environment") or {}
        for name, service in compose_services.items()
        if isinstance(service.get("environment"), dict)
    }


@pytest.mark.parametrize("secret", COMPOSE_SECRETS)
def test_compose_takes_each_secret_from_the_environment_or_refuses(compose_services, secret):
    required = re.compile(r"\$\{" + secret + r":\?[^}]+\}")
    users = {
        name: str(value)
        for name, environment in environments(compose_services).items()
        for key, value in environment.items()
        if key == secret or re.search(r"\$\{" + secret + r"[:}]", str(value))
    }
    assert users, f"no service of docker-compose.yml is given {secret}"
    for name, value in users.items():
        assert required.search(value), (
            f"{name} must take {secret} as ${{{secret}:?message}} (no default), got {value!r}"
        )


def test_compose_carries_no_development_secret_and_no_demo_mode(compose_services):
    from services.common.secrets import DEVELOPMENT_VALUES

    text = COMPOSE_FILE.read_text(encoding="utf-8")
    shipped = sorted(value for value in DEVELOPMENT_VALUES if value in text)
    assert not shipped, f"docker-compose.yml carries development secrets: {shipped}"
    defaulted = re.findall(r"\$\{(\w*(?:SECRET|KEYS?|PASSWORD)\w*):-([^}]+)\}", text)
    assert not defaulted, f"secrets with a default in docker-compose.yml: {defaulted}"
    demo = [name for name, env in environments(compose_services).items() if "BANCHENG_DEMO" in env]
    assert not demo, f"docker-compose.yml must not run in demo mode: {demo}"


def test_the_shipped_config_turns_demo_mode_off_by_default():
    text = (REPO_ROOT / "deploy/config/bancheng.yaml").read_text(encoding="utf-8")
    assert re.search(r"^\s+DEMO: \$\{BANCHENG_DEMO:false\}$", text, re.MULTILINE)


# --- the broker as a boundary (services.common.broker_users) ------------------------------


def test_compose_has_no_guest_and_publishes_no_broker_port(compose_services):
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    assert "guest" not in text, "docker-compose.yml must not use RabbitMQ's guest user"
    assert not compose_services["rabbitmq"].get("ports"), "the broker is reachable from the host"
    assert compose_services["rabbitmq"]["environment"]["RABBITMQ_DEFAULT_USER"] != "guest"


@pytest.mark.parametrize("name", sorted(REQUIRED_SERVICES))
def test_each_service_talks_to_the_broker_as_its_own_user_with_its_own_event_key(
    compose_services, name
):
    from services.common.broker_users import user_name

    environment = compose_services[name]["environment"]
    secret = f"RABBITMQ_PASSWORD_{name.upper()}"
    assert re.fullmatch(
        rf"amqp://{user_name(name)}:\$\{{{secret}:\?[^}}]+\}}@rabbitmq:5672/bancheng",
        environment["AMQP_URI"],
    ), f"{name}'s AMQP_URI is {environment['AMQP_URI']!r}"
    key = f"EVENT_SIGNING_KEY_{name.upper()}"
    assert re.fullmatch(rf"\$\{{{key}:\?[^}}]+\}}", environment.get(key, "")), (
        f"{name} must take {key} from the environment"
    )
    users = compose_services["broker-users"]
    assert re.fullmatch(rf"\$\{{{secret}:\?[^}}]+\}}", users["environment"][secret])
    assert "broker-users" in depends_on_targets(compose_services[name])


def test_the_broker_users_one_shot_applies_the_shipped_definitions(compose_services):
    import json

    from services.common import broker_users

    users = compose_services["broker-users"]
    assert built_from_dockerfile(users)
    assert users["entrypoint"][-1] == "services.common.broker_users"
    shipped = json.loads((REPO_ROOT / broker_users.DEFINITIONS_FILE).read_text())
    assert shipped == broker_users.definitions()
    assert {entry["user"] for entry in shipped["permissions"]} == {
        broker_users.user_name(service) for service in REQUIRED_SERVICES
    }
    for entry in shipped["permissions"]:
        service = entry["user"].removeprefix(broker_users.USER_PREFIX)
        for other in REQUIRED_SERVICES - {service}:
            assert not re.match(entry["write"], f"{other}.events"), (service, other)
            assert not re.match(entry["read"], f"rpc-{other}"), (service, other)
        assert re.match(entry["write"], f"{service}.events")
        assert re.match(entry["read"], f"rpc-{service}")


# --- the database as a boundary: a login role per service (services.common.config) -------


@pytest.mark.parametrize("name", sorted(REQUIRED_SERVICES - {"gateway"}))
def test_each_service_logs_in_to_the_database_as_its_own_role(compose_services, name):
    from urllib.parse import urlsplit

    environment = compose_services[name]["environment"]
    secret = f"DB_PASSWORD_{name.upper()}"
    assert re.fullmatch(rf"\$\{{{secret}:\?[^}}]+\}}", environment.get(secret, "")), (
        f"{name} must take {secret} from the environment"
    )
    url = urlsplit(environment["DATABASE_URL"])
    assert url.username is None and url.password is None, (
        f"{name} must not be given the owner's credentials: {environment['DATABASE_URL']!r}"
    )
    assert "POSTGRES_PASSWORD" not in json.dumps(environment)
    seed = compose_services["seed"]["environment"]
    assert re.fullmatch(rf"\$\{{{secret}:\?[^}}]+\}}", seed.get(secret, ""))
    assert "${POSTGRES_PASSWORD:?" in seed["DATABASE_URL"]
