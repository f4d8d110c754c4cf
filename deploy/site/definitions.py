"""A site node's broker definitions, loaded by its RabbitMQ at start (``load_definitions``), and
the part the district loads for that site (docs/network.md, issue 13 item 4).

    python deploy/site/definitions.py OUT.json              # the site's node (the one-shot
                                                            # link-definitions of compose.yml)
    python deploy/site/definitions.py --district OUT.json   # at the district, for this site:
        rabbitmqctl import_definitions OUT.json              (merged into what is there)

The site's node (site code ``SITE_CODE``, e.g. XJK), vhost ``bancheng``:

* users: ``bancheng-admin`` (administrator), ``bancheng-intake`` and ``bancheng-gateway``
  (their permissions from services.common.broker_users, as at the district) and
  ``bancheng-link-metrics`` (tag ``monitoring``: it reads the shovels' status; it may look at
  the link's queue and nothing else); passwords hashed as RabbitMQ hashes them;
* the exchanges ``intake.events`` and ``coordination.events`` (durable topic, as nameko
  declares them) and the queue ``bancheng.link.to-district`` (quorum) bound to
  ``intake.events`` with ``#``;
* ``parameters`` of component ``shovel``: the link's two shovels exactly as
  ``python -m services.common.cli link S up`` defines them (services.common.links), the site's
  end a direct connection to the node itself (``amqp:///bancheng``), the district's end
  ``DISTRICT_AMQP_URIS`` (every node of the district cluster, ``;``, as the link's user).

The district's part for the site: the link's user ``bancheng-link-<s>`` (password
``RABBITMQ_PASSWORD_LINK``), which may publish to ``intake.events`` and read and declare its
own queue ``bancheng.link.<S>.from-district`` (quorum), bound to ``coordination.events`` with
the five types the site's intake follows.
"""

import base64
import hashlib
import json
import os
import re
import secrets
import sys
from pathlib import Path

from services.common import broker_users, links

ADMIN_USER = "bancheng-admin"
METRICS_USER = "bancheng-link-metrics"
HASHING = "rabbit_password_hashing_sha256"
VHOST = broker_users.VHOST
SITE_SERVICES = ("intake", "gateway")
# a direct connection to the node the shovel runs on, in the site's vhost
LOCAL_NODE_URI = f"amqp:///{VHOST}"
SITE_CODE = re.compile(r"^[A-Z][A-Z0-9]{1,9}$")


def password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's ``rabbit_password_hashing_sha256``: base64(salt ‖ SHA-256(salt ‖ password))."""
    salt = secrets.token_bytes(4) if salt is None else salt
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def link_user(site: str) -> str:
    return f"bancheng-link-{site.lower()}"


def _user(name: str, password: str, tags: str = "") -> dict:
    return {
        "name": name,
        "password_hash": password_hash(password),
        "hashing_algorithm": HASHING,
        "tags": tags,
    }


def _exchange(name: str) -> dict:
    return {
        "name": name,
        "vhost": VHOST,
        "type": "topic",
        "durable": True,
        "auto_delete": False,
        "internal": False,
        "arguments": {},
    }


def _queue(name: str) -> dict:
    return {
        "name": name,
        "vhost": VHOST,
        "durable": True,
        "auto_delete": False,
        "arguments": dict(links.QUEUE_ARGUMENTS),
    }


def _binding(exchange: str, queue: str, key: str) -> dict:
    return {
        "source": exchange,
        "vhost": VHOST,
        "destination": queue,
        "destination_type": "queue",
        "routing_key": key,
        "arguments": {},
    }


def site_link(site: str, district_amqp_uris: list[str]) -> links.SiteLink:
    return links.SiteLink(
        site=site,
        site_amqp_uri=LOCAL_NODE_URI,
        site_management_url="http://127.0.0.1:15672/",  # not in the definitions
        district_amqp_uris=district_amqp_uris,
    )


def site_definitions(
    site: str, admin_password: str, passwords: dict[str, str], district_amqp_uris: list[str]
) -> dict:
    """Everything the site's node loads at start (see the module docstring)."""
    rule = broker_users.definitions(VHOST)
    site_users = {f"{broker_users.USER_PREFIX}{service}" for service in SITE_SERVICES}
    users = [
        _user(ADMIN_USER, admin_password, "administrator"),
        *[
            _user(user["name"], passwords[user["name"].removeprefix("bancheng-")], user["tags"])
            for user in rule["users"]
            if user["name"] in site_users
        ],
        _user(METRICS_USER, passwords["link-metrics"], "monitoring"),
    ]
    queue = re.escape(links.TO_DISTRICT_QUEUE)
    permissions = [
        {"user": ADMIN_USER, "vhost": VHOST, "configure": ".*", "write": ".*", "read": ".*"},
        *[p for p in rule["permissions"] if p["user"] in site_users],
        {"user": METRICS_USER, "vhost": VHOST, "configure": f"^{queue}$", "write": "^$",
         "read": f"^{queue}$"},
    ]  # fmt: skip
    shovels = links.shovel_definitions(site_link(site, district_amqp_uris))
    return {
        "vhosts": [{"name": VHOST}],
        "users": users,
        "permissions": permissions,
        "exchanges": [_exchange("intake.events"), _exchange("coordination.events")],
        "queues": [_queue(links.TO_DISTRICT_QUEUE)],
        "bindings": [_binding("intake.events", links.TO_DISTRICT_QUEUE, "#")],
        "parameters": [
            {"vhost": VHOST, "component": "shovel", "name": name, "value": value}
            for name, value in shovels.items()
        ],
    }


def district_definitions(site: str, link_password: str) -> dict:
    """What the district loads for the site: its link user, permissions, queue and bindings."""
    queue = links.from_district_queue(site)
    own = re.escape(queue)
    return {
        "vhosts": [{"name": VHOST}],
        "users": [_user(link_user(site), link_password)],
        "permissions": [
            {
                "user": link_user(site),
                "vhost": VHOST,
                # the up shovel publishes to intake.events; the down one reads its queue
                "configure": f"^{own}$",
                "write": r"^intake\.events$",
                "read": f"^{own}$",
            }
        ],
        "exchanges": [_exchange("intake.events"), _exchange("coordination.events")],
        "queues": [_queue(queue)],
        "bindings": [
            _binding("coordination.events", queue, event_type)
            for event_type in links.FOLLOWED_COORDINATION_EVENTS
        ],
    }


def main(argv: list[str]) -> int:
    district = argv[:1] == ["--district"]
    args = argv[1:] if district else argv
    if len(args) != 1:
        print("usage: definitions.py [--district] OUT.json", file=sys.stderr)
        return 64
    names = ["SITE_CODE"] + (
        ["RABBITMQ_PASSWORD_LINK"]
        if district
        else [
            "RABBITMQ_ADMIN_PASSWORD",
            "RABBITMQ_PASSWORD_INTAKE",
            "RABBITMQ_PASSWORD_GATEWAY",
            "RABBITMQ_PASSWORD_LINK_METRICS",
            "DISTRICT_AMQP_URIS",
        ]
    )
    missing = [name for name in names if not os.environ.get(name)]
    if missing:
        print(f"site broker definitions: set {', '.join(missing)}", file=sys.stderr)
        return 2
    site = os.environ["SITE_CODE"].strip().upper()
    if not SITE_CODE.match(site):
        print(f"site broker definitions: {site!r} is no site code", file=sys.stderr)
        return 2
    if district:
        result = district_definitions(site, os.environ["RABBITMQ_PASSWORD_LINK"])
    else:
        passwords = {
            "intake": os.environ["RABBITMQ_PASSWORD_INTAKE"],
            "gateway": os.environ["RABBITMQ_PASSWORD_GATEWAY"],
            "link-metrics": os.environ["RABBITMQ_PASSWORD_LINK_METRICS"],
        }
        uris = [uri for uri in os.environ["DISTRICT_AMQP_URIS"].split(";") if uri]
        result = site_definitions(site, os.environ["RABBITMQ_ADMIN_PASSWORD"], passwords, uris)
    out = Path(args[0])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result))
    out.chmod(0o644)  # the node runs as the rabbitmq user
    what = "the district's part" if district else "users, queue, shovels"
    print(f"site broker definitions for {site}: {what} in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
