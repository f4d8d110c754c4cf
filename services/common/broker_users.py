"""One RabbitMQ user per service, allowed only its own exchanges and queues (DESIGN §7).

Anyone who could reach the broker as ``guest`` could consume another service's RPC queue or
publish as its source. Each service gets a user of its own (``bancheng-<service>``) whose
vhost permissions (regular expressions over resource names, as RabbitMQ matches them) allow:

* **configure** (declare): ``nameko-rpc``, its own ``rpc-<service>`` queue and reply queues
  (``rpc.reply-<service>-<uuid>``), its own event queues
  (``evt-<source>-<type>--<service>.<method>[.quorum]``), its dead-letter queue ``dlq-<service>``,
  ``bancheng.dead-letters`` and the ``<source>.events`` exchanges (nameko's event handlers
  declare their source's exchange; declaring is not publishing);
* **write** (publish, bind a queue): the same — so it publishes only to its own events
  exchange and RPC, never as another source;
* **read** (consume, bind from an exchange): the same plus every ``<source>.events`` exchange
  (to bind its event queues to), but no other service's queue.

:func:`definitions` is the pure rule (``deploy/rabbitmq/definitions.json`` is its output, and
a test keeps the two equal); :func:`apply` makes it so through the management API with each
user's password from the environment (``RABBITMQ_PASSWORD_<SERVICE>``):
``python -m services.common.broker_users <management-url> <vhost>``.
"""

import json
import os
import re
import sys
from urllib.parse import quote, urlsplit, urlunsplit

SERVICES = ("gateway", "intake", "coordination", "accountability", "reporting")
VHOST = "bancheng"
USER_PREFIX = "bancheng-"
DEFINITIONS_FILE = "deploy/rabbitmq/definitions.json"


def user_name(service: str, prefix: str = USER_PREFIX) -> str:
    """The broker user of ``service``."""
    return f"{prefix}{service}"


def permissions(service: str) -> dict[str, str]:
    """``service``'s configure/write/read regexes (see the module docstring)."""
    own = re.escape(service)
    names = [
        r"nameko-rpc",
        rf"rpc-{own}",
        rf"rpc\.reply-{own}-[0-9a-f-]+",
        rf"{own}\.events",
        rf"evt-[a-z_]+-[a-z_]+--{own}\.[a-z_]+(\.quorum)?",
        rf"dlq-{own}",
        r"bancheng\.dead-letters",
    ]
    sources = r"[a-z_]+\.events"
    own_resources = "^(" + "|".join(names) + ")$"
    with_sources = "^(" + "|".join([*names, sources]) + ")$"
    # nameko's event handlers declare their source's exchange, which takes configure rights
    return {"configure": with_sources, "write": own_resources, "read": with_sources}


def definitions(vhost: str = VHOST, prefix: str = USER_PREFIX) -> dict:
    """RabbitMQ definitions: the vhost, a user per service (no password: :func:`apply` sets
    it from the environment) and its permissions. No ``guest``."""
    return {
        "vhosts": [{"name": vhost}],
        "users": [
            {"name": user_name(service, prefix), "password_hash": "", "tags": ""}
            for service in SERVICES
        ],
        "permissions": [
            {"user": user_name(service, prefix), "vhost": vhost, **permissions(service)}
            for service in SERVICES
        ],
    }


def amqp_uri_for(base_uri: str, service: str, password: str, prefix: str = USER_PREFIX) -> str:
    """``base_uri`` (its host and vhost) as ``service``'s own user; each node of a cluster's
    URI list (``;``-separated, tools.cluster) likewise."""
    if ";" in base_uri:
        return ";".join(
            amqp_uri_for(uri, service, password, prefix) for uri in base_uri.split(";") if uri
        )
    parts = urlsplit(base_uri)
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    credentials = f"{quote(user_name(service, prefix), safe='')}:{quote(password, safe='')}"
    return urlunsplit((parts.scheme, f"{credentials}@{host}", parts.path, "", ""))


def apply(management_url: str, vhost: str, passwords: dict[str, str], prefix=USER_PREFIX):
    """Create the vhost, each service's user with its password and its permissions."""
    import requests

    parts = urlsplit(management_url)
    api = urlunsplit((parts.scheme, f"{parts.hostname}:{parts.port or 15672}", "/api", "", ""))
    auth = (parts.username or "guest", parts.password or "guest")
    encoded = quote(vhost, safe="")
    requests.put(f"{api}/vhosts/{encoded}", auth=auth, timeout=10).raise_for_status()
    for entry in definitions(vhost, prefix)["permissions"]:
        service = entry["user"].removeprefix(prefix)
        user = quote(entry["user"], safe="")
        requests.put(
            f"{api}/users/{user}",
            json={"password": passwords[service], "tags": ""},
            auth=auth,
            timeout=10,
        ).raise_for_status()
        rights = {key: entry[key] for key in ("configure", "write", "read")}
        requests.put(
            f"{api}/permissions/{encoded}/{user}", json=rights, auth=auth, timeout=10
        ).raise_for_status()


def delete_users(management_url: str, prefix: str) -> None:
    """Remove the users :func:`apply` made with ``prefix`` (tests)."""
    import requests

    parts = urlsplit(management_url)
    api = urlunsplit((parts.scheme, f"{parts.hostname}:{parts.port or 15672}", "/api", "", ""))
    auth = (parts.username or "guest", parts.password or "guest")
    for service in SERVICES:
        requests.delete(f"{api}/users/{quote(user_name(service, prefix), safe='')}", auth=auth)


def main(argv: list[str]) -> int:
    """``<management-url> [vhost]``: apply the users, passwords from RABBITMQ_PASSWORD_<SVC>."""
    if not argv:
        print(json.dumps(definitions(), indent=2))
        return 0
    vhost = argv[1] if len(argv) > 1 else VHOST
    missing = [s for s in SERVICES if not os.environ.get(f"RABBITMQ_PASSWORD_{s.upper()}")]
    if missing:
        names = ", ".join(f"RABBITMQ_PASSWORD_{s.upper()}" for s in missing)
        print(f"broker users: set {names}", file=sys.stderr)
        return 2
    passwords = {s: os.environ[f"RABBITMQ_PASSWORD_{s.upper()}"] for s in SERVICES}
    apply(argv[0], vhost, passwords)
    print(f"broker users: {len(SERVICES)} users with their permissions on vhost {vhost}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
