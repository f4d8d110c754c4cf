"""Static checks of the site deployment (deploy/site/): the Compose file against the Compose
Specification, parameterised by site code; the definitions its broker loads at start, whose
shovels are the link's (services.common.links) and point at the exchanges the services really
publish to and consume from; the district's part for the site."""

import configparser
import importlib.util
import re

import jsonschema
import pytest
import yaml
from nameko.standalone.events import get_event_exchange

from services.common import event_queues, links, secrets
from services.coordination.service import CoordinationService
from services.intake.service import IntakeService
from tests.unit.test_deploy_files import (
    COMPOSE_SCHEMA,
    REPO_ROOT,
    ComposeLoader,
    command_words,
    depends_on_targets,
)

SITE_DIR = REPO_ROOT / "deploy/site"
COMPOSE_FILE = SITE_DIR / "compose.yml"
DISTRICT_URIS = [
    "amqps://bancheng-link-xjk:link-pw-0123456789@rabbitmq-1.district:5671/bancheng",
    "amqps://bancheng-link-xjk:link-pw-0123456789@rabbitmq-2.district:5671/bancheng",
    "amqps://bancheng-link-xjk:link-pw-0123456789@rabbitmq-3.district:5671/bancheng",
]
PASSWORDS = {"intake": "site-intake-pw-01", "gateway": "site-gw-pw-01", "link-metrics": "lm-pw-01"}
SITE_SECRETS = (
    "SITE_CODE",
    "DISTRICT_AMQP_URIS",
    "DISTRICT_FRONT_DOOR",
    "RABBITMQ_ADMIN_PASSWORD",
    "RABBITMQ_PASSWORD_INTAKE",
    "RABBITMQ_PASSWORD_GATEWAY",
    "RABBITMQ_PASSWORD_LINK_METRICS",
    "POSTGRES_PASSWORD",
    "DB_PASSWORD_INTAKE",
    "SERVICE_ASSERTION_KEY",
    "EVENT_PUBLIC_KEYS",
    "EVENT_SIGNING_KEY_INTAKE",
    "TOKEN_SECRET",
    "ID_NUMBER_KEYS",
    "AUDIT_KEY",
)


def load_module(name: str):
    spec = importlib.util.spec_from_file_location(f"site_{name}", SITE_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.load(COMPOSE_FILE.read_text(encoding="utf-8"), Loader=ComposeLoader)


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def renderer():
    return load_module("definitions")


@pytest.fixture(scope="module")
def site_definitions(renderer) -> dict:
    return renderer.site_definitions("XJK", "site-admin-pw-01", PASSWORDS, DISTRICT_URIS)


def test_the_site_compose_file_matches_the_compose_specification(compose):
    import json

    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.validate(compose, schema)
    assert not set(compose["services"]) - {
        "link-definitions",
        "rabbitmq",
        "postgres",
        "seed",
        "intake",
        "gateway",
        "link-metrics",
    }


def test_a_site_node_runs_its_broker_database_intake_front_door_and_link_metrics(services):
    assert services["rabbitmq"]["image"].startswith("rabbitmq:3.13")
    assert services["postgres"]["image"].startswith("postgres:15")
    assert command_words(services["intake"]) == ["intake"]
    assert command_words(services["gateway"]) == ["gateway"]
    assert services["link-metrics"]["entrypoint"][-1] == (
        "services.common.link_metrics:LinkMetricsService"
    )
    for name in ("link-definitions", "seed", "intake", "gateway", "link-metrics"):
        build = services[name]["build"]
        assert build["dockerfile"] == "deploy/Dockerfile", name
        assert (SITE_DIR / build["context"]).resolve() == REPO_ROOT, name
    # no coordination, accountability or reporting at a site: they run at the district
    assert not {"coordination", "accountability", "reporting"} & set(services)
    for name, service in services.items():
        for target in depends_on_targets(service):
            assert target in services, (name, target)


def test_the_site_code_parameterises_every_process(services):
    site = "${SITE_CODE:?"
    for name in ("intake", "gateway"):
        env = services[name]["environment"]
        assert env["SITE_NODE"].startswith(site) and env["SITE"].startswith(site), name
        assert env["DISTRICT_FRONT_DOOR"].startswith("${DISTRICT_FRONT_DOOR:?")
    assert services["link-metrics"]["environment"]["SITE_NODE"].startswith(site)
    assert services["link-definitions"]["environment"]["SITE_CODE"].startswith(site)
    assert services["seed"]["environment"]["SITE_NODE"].startswith(site)


@pytest.mark.parametrize("secret", SITE_SECRETS)
def test_each_secret_comes_from_the_environment_or_the_file_refuses(secret):
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    uses = re.findall(r"\$\{" + secret + r"(:[?-])?(?:[^}A-Z_][^}]*)?\}", text)
    assert uses, f"{secret} is not used"
    assert all(use == ":?" for use in uses), f"{secret} has a default"


def test_every_process_has_the_secrets_each_container_checks_at_start(services):
    # services.common.secrets.refuse_development_secrets: SECRETS, the ID-number keys, the
    # audit keys — in every nameko process, whatever it serves
    checked = {*secrets.SECRETS, "ID_NUMBER_KEYS", "AUDIT_KEY"}
    for name in ("intake", "gateway", "link-metrics"):
        environment = services[name]["environment"]
        assert checked <= set(environment), (name, checked - set(environment))
        assert environment.get("BANCHENG_DEMO") is None


def test_each_process_is_its_own_broker_user_and_nobody_is_guest(services):
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    assert "guest" not in text and "BANCHENG_DEMO" not in text
    assert "ports" not in services["rabbitmq"]  # the site's services reach it; shovels dial out
    users = {
        name: re.match(r"amqp://([^:]+):", services[name]["environment"]["AMQP_URI"]).group(1)
        for name in ("intake", "gateway", "link-metrics", "seed")
    }
    assert users == {
        "intake": "bancheng-intake",
        "gateway": "bancheng-gateway",
        "link-metrics": "bancheng-link-metrics",
        "seed": "bancheng-admin",
    }


def test_the_broker_loads_the_definitions_the_one_shot_writes(services):
    broker = services["rabbitmq"]
    writer = services["link-definitions"]
    assert broker["depends_on"]["link-definitions"]["condition"] == (
        "service_completed_successfully"
    )
    [written] = command_words(writer)
    [writer_volume] = [v for v in writer["volumes"] if v.endswith(":/definitions")]
    volume = writer_volume.split(":")[0]
    [mounted] = [v for v in broker["volumes"] if v.startswith(f"{volume}:")]
    mount_point = mounted.split(":")[1]
    loaded = written.replace("/definitions", mount_point, 1)
    mounts = {v.split(":")[1]: v.split(":")[0] for v in broker["volumes"]}
    conf_file = SITE_DIR / mounts["/etc/rabbitmq/conf.d/20-site.conf"]
    parser = configparser.ConfigParser(delimiters=("=",), comment_prefixes=("#",))
    parser.read_string("[conf]\n" + conf_file.read_text(encoding="utf-8"))
    assert parser["conf"]["load_definitions"] == loaded
    plugins = (SITE_DIR / mounts["/etc/rabbitmq/enabled_plugins"]).read_text(encoding="utf-8")
    for plugin in ("rabbitmq_management", "rabbitmq_shovel", "rabbitmq_shovel_management"):
        assert plugin in plugins


def test_the_definitions_hold_the_links_two_shovels_as_the_link_command_defines_them(
    renderer, site_definitions
):
    shovels = {p["name"]: p for p in site_definitions["parameters"]}
    assert set(shovels) == set(links.shovel_names("XJK"))
    expected = links.shovel_definitions(
        links.SiteLink("XJK", renderer.LOCAL_NODE_URI, "http://unused/", DISTRICT_URIS)
    )
    for name, parameter in shovels.items():
        assert parameter["component"] == "shovel" and parameter["vhost"] == "bancheng"
        assert parameter["value"] == expected[name]
        assert parameter["value"]["ack-mode"] == "on-confirm"
    up, down = (shovels[name]["value"] for name in links.shovel_names("XJK"))
    assert up["src-uri"] == "amqp:///bancheng" and up["dest-uri"] == DISTRICT_URIS
    assert down["src-uri"] == DISTRICT_URIS and down["dest-uri"] == "amqp:///bancheng"


def test_the_shovels_point_at_the_exchanges_the_services_really_use(site_definitions, renderer):
    shovels = {p["name"]: p["value"] for p in site_definitions["parameters"]}
    up_name, down_name = links.shovel_names("XJK")
    up, down = shovels[up_name], shovels[down_name]
    # up: what the site's intake publishes (its event exchange) goes to the district's
    # exchange of the same name, where the district's consumers of intake's events bind
    intake_exchange = get_event_exchange(IntakeService.name, {}).name
    assert up["dest-exchange"] == intake_exchange
    [binding] = site_definitions["bindings"]
    assert (binding["source"], binding["destination"], binding["routing_key"]) == (
        intake_exchange,
        up["src-queue"],
        "#",
    )
    consumed_at_district = {
        f"{queue.source}.events"
        for cls in event_queues.consuming_services()
        for queue in event_queues.event_queues(cls)
        if queue.source == IntakeService.name
    }
    assert consumed_at_district == {intake_exchange}
    # down: coordination's exchange at the district, to the site's exchange of that name,
    # which the site's intake reads each type it follows from
    coordination_exchange = get_event_exchange(CoordinationService.name, {}).name
    assert down["dest-exchange"] == coordination_exchange
    followed = {
        queue.event_type
        for queue in event_queues.event_queues(IntakeService)
        if f"{queue.source}.events" == coordination_exchange
    }
    assert followed == set(links.FOLLOWED_COORDINATION_EVENTS)
    district = renderer.district_definitions("XJK", "link-pw-0123456789")
    assert district["queues"][0]["name"] == down["src-queue"]
    assert {(b["source"], b["destination"]) for b in district["bindings"]} == {
        (coordination_exchange, down["src-queue"])
    }
    assert {b["routing_key"] for b in district["bindings"]} == followed
    exchanges = {e["name"]: e for e in site_definitions["exchanges"] + district["exchanges"]}
    assert set(exchanges) == {intake_exchange, coordination_exchange}
    # as nameko declares its event exchanges: durable topic
    assert all(e["type"] == "topic" and e["durable"] for e in exchanges.values())


def test_the_users_and_what_each_may_do(site_definitions, renderer):
    users = {user["name"]: user for user in site_definitions["users"]}
    assert set(users) == {
        "bancheng-admin",
        "bancheng-intake",
        "bancheng-gateway",
        "bancheng-link-metrics",
    }
    assert users["bancheng-admin"]["tags"] == "administrator"
    assert users["bancheng-link-metrics"]["tags"] == "monitoring"
    assert all(user["password_hash"] for user in users.values())
    permissions = {p["user"]: p for p in site_definitions["permissions"]}
    metrics = permissions["bancheng-link-metrics"]
    assert re.fullmatch(metrics["read"], links.TO_DISTRICT_QUEUE)
    assert not re.fullmatch(metrics["read"], "rpc-intake") and metrics["write"] == "^$"
    [queue] = site_definitions["queues"]
    assert queue["name"] == links.TO_DISTRICT_QUEUE
    assert queue["arguments"] == {"x-queue-type": "quorum"} and queue["durable"]

    district = renderer.district_definitions("XJK", "link-pw-0123456789")
    [link_user] = district["users"]
    assert link_user["name"] == "bancheng-link-xjk" and link_user["tags"] == ""
    [allowed] = district["permissions"]
    assert re.fullmatch(allowed["write"], "intake.events")
    assert not re.fullmatch(allowed["write"], "coordination.events")
    assert re.fullmatch(allowed["read"], links.from_district_queue("XJK"))
    assert not re.fullmatch(allowed["read"], links.from_district_queue("MY"))


def test_the_renderer_refuses_without_its_settings(renderer, tmp_path, monkeypatch, capsys):
    for name in ("SITE_CODE", "DISTRICT_AMQP_URIS", "RABBITMQ_ADMIN_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    assert renderer.main([str(tmp_path / "out.json")]) == 2
    assert "SITE_CODE" in capsys.readouterr().err
    monkeypatch.setenv("SITE_CODE", "x y")
    monkeypatch.setenv("RABBITMQ_PASSWORD_LINK", "link-pw-0123456789")
    assert renderer.main(["--district", str(tmp_path / "d.json")]) == 2
    monkeypatch.setenv("SITE_CODE", "xjk")
    assert renderer.main(["--district", str(tmp_path / "d.json")]) == 0
    assert "bancheng-link-xjk" in (tmp_path / "d.json").read_text()
