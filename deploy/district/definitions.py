"""The district cluster's broker definitions, loaded by every node at start (``load_definitions``).

    python deploy/district/definitions.py OUT.json

writes the vhost ``bancheng``, the administrator ``bancheng-admin`` and one user per service
(``bancheng-<service>``, services.common.broker_users) with their passwords hashed as RabbitMQ
hashes them (salted SHA-256), each service's permissions (the same rule as the one-node
deployment), and the policies below. Passwords come from the environment
(``RABBITMQ_ADMIN_PASSWORD``, ``RABBITMQ_PASSWORD_<SERVICE>``), never from a file in the
repository: the district compose file runs this as the one-shot ``broker-definitions`` into a
volume the three nodes mount. A node that imports definitions at boot creates no default user
(no ``guest``), so the administrator is here too.

The policy: quorum queue leaders spread over the three nodes (``queue-leader-locator:
balanced``; each leader would otherwise be on the node its declaring service happened to use).
It applies to ``queues`` (every queue the pattern names is a quorum queue), which RabbitMQ 3.10
(this machine's) and 3.13 (the image's) both accept.
"""

import base64
import hashlib
import json
import os
import secrets
import sys
from pathlib import Path

from services.common import broker_users

ADMIN_USER = "bancheng-admin"
HASHING = "rabbit_password_hashing_sha256"
POLICIES = [
    {
        "name": "quorum-leaders-balanced",
        "pattern": r"^(rpc|evt|dlq)-",
        "apply-to": "queues",
        "priority": 0,
        "definition": {"queue-leader-locator": "balanced"},
    }
]


def password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's ``rabbit_password_hashing_sha256``: base64(salt ‖ SHA-256(salt ‖ password))."""
    salt = secrets.token_bytes(4) if salt is None else salt
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def definitions(
    admin_password: str, passwords: dict[str, str], vhost: str = broker_users.VHOST
) -> dict:
    """Everything the cluster's nodes load at start (see the module docstring)."""
    rule = broker_users.definitions(vhost)
    users = [
        {
            "name": ADMIN_USER,
            "password_hash": password_hash(admin_password),
            "hashing_algorithm": HASHING,
            "tags": "administrator",
        },
        *[
            {
                **user,
                "password_hash": password_hash(passwords[user["name"].removeprefix("bancheng-")]),
                "hashing_algorithm": HASHING,
            }
            for user in rule["users"]
        ],
    ]
    admin_permissions = {
        "user": ADMIN_USER,
        "vhost": vhost,
        "configure": ".*",
        "write": ".*",
        "read": ".*",
    }
    return {
        "vhosts": rule["vhosts"],
        "users": users,
        "permissions": [admin_permissions, *rule["permissions"]],
        "policies": [{"vhost": vhost, **policy} for policy in POLICIES],
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: definitions.py OUT.json", file=sys.stderr)
        return 64
    names = ["RABBITMQ_ADMIN_PASSWORD"] + [
        f"RABBITMQ_PASSWORD_{service.upper()}" for service in broker_users.SERVICES
    ]
    missing = [name for name in names if not os.environ.get(name)]
    if missing:
        print(f"broker definitions: set {', '.join(missing)}", file=sys.stderr)
        return 2
    passwords = {s: os.environ[f"RABBITMQ_PASSWORD_{s.upper()}"] for s in broker_users.SERVICES}
    out = Path(argv[0])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(definitions(os.environ["RABBITMQ_ADMIN_PASSWORD"], passwords)))
    out.chmod(0o644)  # the nodes run as the rabbitmq user
    print(f"broker definitions: {len(broker_users.SERVICES) + 1} users, vhost, policies in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
