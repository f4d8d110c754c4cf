"""Static checks of the district deployment (deploy/district/): the Compose file against the
Compose Specification, its three clustered RabbitMQ nodes, the definitions they load at start,
and every service pointed at all three nodes as its own broker user."""

import base64
import configparser
import hashlib
import importlib.util
import json
import re

import jsonschema
import pytest
import yaml

from services.common import broker_users, event_queues
from tests.unit.test_deploy_files import (
    COMPOSE_SCHEMA,
    COMPOSE_SECRETS,
    REPO_ROOT,
    REQUIRED_SERVICES,
    ComposeLoader,
    command_words,
    depends_on_targets,
)

DISTRICT = REPO_ROOT / "deploy/district"
COMPOSE_FILE = DISTRICT / "compose.yml"
RABBITMQ_CONF = DISTRICT / "rabbitmq/rabbitmq.conf"
NODES = ["rabbitmq-1", "rabbitmq-2", "rabbitmq-3"]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.load(COMPOSE_FILE.read_text(encoding="utf-8"), Loader=ComposeLoader)


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def renderer():
    spec = importlib.util.spec_from_file_location(
        "district_definitions", DISTRICT / "definitions.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rabbitmq_conf() -> dict[str, str]:
    parser = configparser.ConfigParser(delimiters=("=",), comment_prefixes=("#",))
    parser.optionxform = str
    parser.read_string("[conf]\n" + RABBITMQ_CONF.read_text(encoding="utf-8"))
    return dict(parser["conf"])


def test_the_district_compose_file_matches_the_compose_specification(compose):
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    errors = sorted(
        jsonschema.Draft7Validator(schema).iter_errors(compose), key=lambda e: list(e.path)
    )
    messages = [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors]
    assert not messages, "deploy/district/compose.yml is not valid Compose:\n" + "\n".join(messages)
    assert "version" not in compose


def test_three_nodes_cluster_by_the_classic_peer_list(services):
    conf = rabbitmq_conf()
    assert conf["cluster_formation.peer_discovery_backend"] == "classic_config"
    peers = sorted(v for k, v in conf.items() if k.startswith("cluster_formation.classic_config."))
    assert peers == [f"rabbit@{node}" for node in NODES]
    for node in NODES:
        service = services[node]
        assert service["hostname"] == node, "the hostname is the node name's host part"
        assert service["image"].startswith("rabbitmq:3.13"), "the image of the one-node deployment"
        mounts = service["volumes"]
        assert "./rabbitmq/rabbitmq.conf:/etc/rabbitmq/conf.d/20-district.conf:ro" in mounts
        assert any(m.endswith(":/var/lib/rabbitmq") and node in m for m in mounts), node
        assert not service.get("ports"), f"{node} is reachable from the host"
        assert re.fullmatch(
            r"\$\{RABBITMQ_ERLANG_COOKIE:\?[^}]+\}",
            service["environment"]["RABBITMQ_ERLANG_COOKIE"],
        ), "the shared cookie comes from the environment, with no default"
    assert (DISTRICT / "rabbitmq/rabbitmq.conf").is_file()


def test_every_node_loads_the_definitions_the_one_shot_writes(services):
    loaded = rabbitmq_conf()["load_definitions"]
    one_shot = services["broker-definitions"]
    assert built_from_dockerfile_here(one_shot)
    assert one_shot["entrypoint"] == ["python", "deploy/district/definitions.py"]
    [written] = one_shot["command"]
    [volume] = [m for m in one_shot["volumes"] if m.endswith(":/definitions")]
    assert written == "/definitions/definitions.json"
    for node in NODES:
        mount = f"{volume.split(':')[0]}:/etc/rabbitmq/definitions:ro"
        assert mount in services[node]["volumes"], node
        assert loaded == "/etc/rabbitmq/definitions/definitions.json"
        assert services[node]["depends_on"]["broker-definitions"] == {
            "condition": "service_completed_successfully"
        }
    for secret in ["RABBITMQ_ADMIN_PASSWORD"] + [
        f"RABBITMQ_PASSWORD_{s.upper()}" for s in broker_users.SERVICES
    ]:
        assert re.fullmatch(rf"\$\{{{secret}:\?[^}}]+\}}", one_shot["environment"][secret])


def built_from_dockerfile_here(service: dict) -> bool:
    """Built from the project's Dockerfile, the context two folders up (the repository)."""
    build = service.get("build") or {}
    return (
        build.get("dockerfile") == "deploy/Dockerfile"
        and (DISTRICT / build.get("context", ".")).resolve() == REPO_ROOT
    )


@pytest.mark.parametrize("name", sorted(REQUIRED_SERVICES))
def test_each_service_reaches_all_three_nodes_as_its_own_user(services, name):
    service = services[name]
    assert built_from_dockerfile_here(service) and name in command_words(service)
    secret = f"RABBITMQ_PASSWORD_{name.upper()}"
    uris = event_queues.amqp_uris(service["environment"]["AMQP_URI"])
    assert len(uris) == len(NODES)
    for uri, node in zip(uris, NODES, strict=True):
        assert re.fullmatch(
            rf"amqp://{broker_users.user_name(name)}:\$\{{{secret}:\?[^}}]+\}}@{node}:5672/bancheng",
            uri,
        ), uri
    assert set(NODES) <= set(depends_on_targets(service))
    assert "seed" in depends_on_targets(service)


def test_the_seed_migrates_as_the_administrator_on_the_cluster(services):
    seed = services["seed"]
    assert command_words(seed) == ["seed"]
    uris = event_queues.amqp_uris(seed["environment"]["AMQP_URI"])
    assert [u.split("@")[1] for u in uris] == [f"{node}:5672/bancheng" for node in NODES]
    assert all(u.startswith("amqp://bancheng-admin:${RABBITMQ_ADMIN_PASSWORD:?") for u in uris)


def test_no_guest_no_demo_and_every_secret_from_the_environment(services):
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    assert "guest" not in text and "BANCHENG_DEMO" not in text
    assert not re.findall(r"\$\{(\w*(?:SECRET|KEYS?|PASSWORD|COOKIE)\w*):-([^}]+)\}", text)
    for secret in COMPOSE_SECRETS:
        assert re.search(r"\$\{" + secret + r":\?[^}]+\}", text), secret
    assert {target for s in services.values() for target in depends_on_targets(s)} <= set(services)


def test_the_definitions_hold_users_with_rabbitmq_hashes_permissions_and_policies(renderer):
    passwords = {service: f"pw-{service}-0123456789" for service in broker_users.SERVICES}
    rendered = renderer.definitions("admin-0123456789", passwords)
    assert rendered["vhosts"] == [{"name": "bancheng"}]
    users = {user["name"]: user for user in rendered["users"]}
    assert set(users) == {"bancheng-admin"} | {
        broker_users.user_name(s) for s in broker_users.SERVICES
    }
    assert users["bancheng-admin"]["tags"] == "administrator"
    expected = {"bancheng-admin": "admin-0123456789"} | {
        broker_users.user_name(s): passwords[s] for s in broker_users.SERVICES
    }
    for name, user in users.items():
        assert user["hashing_algorithm"] == "rabbit_password_hashing_sha256"
        raw = base64.b64decode(user["password_hash"])
        salt, digest = raw[:4], raw[4:]
        assert digest == hashlib.sha256(salt + expected[name].encode()).digest(), name
    rule = broker_users.definitions()["permissions"]
    assert [p for p in rendered["permissions"] if p["user"] != "bancheng-admin"] == rule
    [policy] = rendered["policies"]
    assert policy["vhost"] == "bancheng" and policy["definition"] == {
        "queue-leader-locator": "balanced"
    }
    for queue in ("rpc-intake", "evt-intake-case_registered--reporting.on_x.quorum", "dlq-intake"):
        assert re.match(policy["pattern"], queue)
    assert not re.match(policy["pattern"], "rpc.reply-gateway-1234")


def test_the_renderer_refuses_without_every_password(renderer, monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("RABBITMQ_ADMIN_PASSWORD", raising=False)
    assert renderer.main([str(tmp_path / "d.json")]) == 2
    assert "RABBITMQ_ADMIN_PASSWORD" in capsys.readouterr().err
    assert not (tmp_path / "d.json").exists()
