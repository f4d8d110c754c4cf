"""A site node's one-shot ``seed`` (deploy/site/compose.yml): prepare its database and broker.

    python deploy/site/prepare.py [SEED_DIR]     (default deploy/seed/xuanwu)

* migrates the site's database (every schema, as ``services.cli migrate`` does; intake's is the
  one a site node uses) and gives intake's login role ``bancheng_intake`` its password from
  ``DB_PASSWORD_INTAKE`` (the only service of the site that logs in to it);
* loads the district's reference data (sites, windows, matters, staff; logins only in demo
  mode);
* declares intake's event queues and its RPC queue on the site's broker, and no other
  service's: ``services.cli migrate`` would declare coordination's, accountability's and
  reporting's queues too, bound to the site's ``intake.events``, and nobody at the site reads
  them — they would fill up for ever.

``DATABASE_URL`` is the owner's; ``AMQP_URI`` the site broker's administrator's.
"""

import sys

import psycopg
from psycopg import sql

from services.common import event_queues, secrets
from services.common.config import database_password, database_role, load_config
from services.common.migrations import migrate_all

SITE_SERVICES = ("intake",)


def set_intake_password(owner_url: str, config: dict) -> str:
    role = database_role("intake")
    password = database_password(config, "intake")
    with psycopg.connect(owner_url, autocommit=True) as conn:
        # hashed here (SCRAM, by libpq): the clear text never reaches the server or its logs
        hashed = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256")
        conn.execute(
            sql.SQL("ALTER ROLE {} WITH LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(hashed.decode())
            )
        )
    return role


def main(argv: list[str]) -> int:
    from services.intake.seed import load_seed
    from services.intake.service import IntakeService

    seed_dir = argv[0] if argv else "deploy/seed/xuanwu"
    config = load_config()
    database_url = config["DATABASE_URL"]
    for schema, applied in migrate_all(database_url).items():
        print(f"{schema}: {', '.join(applied) if applied else 'up to date'}")
    try:
        print(f"login role: {set_intake_password(database_url, config)}")
    except secrets.DevelopmentSecretError as error:
        print(error, file=sys.stderr)
        return 2
    counts = load_seed(database_url, seed_dir, demo_logins=secrets.demo_mode(config))
    print("seeded " + ", ".join(f"{n} {kind}" for kind, n in counts.items()))
    queues = event_queues.event_queues(IntakeService)
    for line in event_queues.migrate(config["AMQP_URI"], config, queues):
        print(line)
    for line in event_queues.migrate_rpc_queues(config["AMQP_URI"], config, SITE_SERVICES):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
