"""Operator commands: ``python -m services.cli migrate | seed DIR | reencrypt | dead-letters ... |
open311-keys ...``."""

import argparse
import logging
import sys
import warnings
from zoneinfo import ZoneInfo

from services.common import event_queues, secrets
from services.common.config import load_config, service_setting
from services.common.migrations import migrate_all
from services.common.postgres import set_login_passwords


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "migrate",
        help="create the database if needed, migrate every schema and the event queues",
    )
    seed = commands.add_parser("seed", help="load a district's reference data (idempotent)")
    seed.add_argument("directory", nargs="?", default="deploy/seed/xuanwu")
    reencrypt = commands.add_parser(
        "reencrypt",
        help="re-encrypt every stored ID number under the current key (first in ID_NUMBER_KEYS)",
    )
    reencrypt.add_argument("--batch-size", type=int, default=500, help="cases per transaction")
    _dead_letter_commands(commands)
    _open311_key_commands(commands)
    _user_commands(commands)
    args = parser.parse_args(argv)
    # pika warns of every channel the broker closes, and probing for a queue closes one;
    # the services' modules (read for their event queues) import eventlet, which warns too
    logging.getLogger("pika").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="Eventlet is deprecated")

    config = load_config()
    database_url = config["DATABASE_URL"]
    if args.command == "migrate":
        for schema, applied in migrate_all(database_url).items():
            print(f"{schema}: {', '.join(applied) if applied else 'up to date'}")
        try:
            roles = set_login_passwords(database_url, config)
        except secrets.DevelopmentSecretError as error:
            print(error, file=sys.stderr)
            return 2
        print(f"login roles: {', '.join(roles)} (passwords from DB_PASSWORD_<SERVICE>)")
        queues = [
            q for cls in event_queues.consuming_services() for q in event_queues.event_queues(cls)
        ]
        for line in event_queues.migrate(config["AMQP_URI"], config, queues):
            print(line)
        for line in event_queues.migrate_rpc_queues(config["AMQP_URI"], config):
            print(line)
    elif args.command == "seed":
        from services.intake.seed import load_seed

        migrate_all(database_url)
        counts = load_seed(database_url, args.directory, demo_logins=secrets.demo_mode(config))
        print("seeded " + ", ".join(f"{n} {kind}" for kind, n in counts.items()))
        if not counts["logins"]:
            print(
                f"(no demo logins: they are seeded only with {secrets.DEMO_ENVIRONMENT_VARIABLE}=1)"
            )
    elif args.command == "reencrypt":
        return _reencrypt(config, database_url, args.batch_size)
    elif args.command == "dead-letters":
        return _dead_letters(args, config)
    elif args.command == "open311-keys":
        return _open311_keys(args, database_url)
    elif args.command == "users":
        return _users(args, database_url)
    return 0


# -- logins (outside demo mode: services.intake.user_admin) -----------------------------------


def _user_commands(commands) -> None:
    users = commands.add_parser(
        "users", help="add, re-password, disable or list logins (passwords from a prompt or stdin)"
    )
    actions = users.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="a login for a staff member (registered when new)")
    add.add_argument("username")
    add.add_argument("--staff-id", required=True, help="the staff member's id, e.g. S0040")
    add.add_argument("--name", help="a new staff member's name")
    add.add_argument("--role", help="a new staff member's role (window_staff, officer, ..., hr)")
    add.add_argument("--site", help="a new staff member's site code")
    add.add_argument("--department", help="a new staff member's department code")
    passwd = actions.add_parser("passwd", help="a new password; every session of it ends")
    passwd.add_argument("username")
    disable = actions.add_parser("disable", help="no more logins; every session of it ends")
    disable.add_argument("username")
    actions.add_parser("list", help="every login, disabled ones marked")


def read_new_password(stdin=None, prompt=None) -> str:
    """A new password, never from the command line: asked twice on a terminal, else the first
    line of stdin (a script's pipe)."""
    import getpass

    stdin = stdin or sys.stdin
    if stdin.isatty():
        ask = prompt or getpass.getpass
        password = ask("new password: ")
        if ask("again: ") != password:
            raise ValueError("the two passwords differ")
        return password
    return stdin.readline().rstrip("\r\n")


def _users(args, database_url: str) -> int:
    from services.intake import user_admin

    try:
        if args.action == "list":
            logins = user_admin.list_logins(database_url)
            for login in logins:
                state = "enabled" if login.enabled else "disabled"
                print(
                    f"{login.username}\t{login.staff_id}\t{login.name}\t{login.role}"
                    f"\t{login.site or '-'}\t{state}"
                )
            print(f"{len(logins)} login(s)")
        elif args.action == "disable":
            user_admin.disable(database_url, args.username)
            print(f"{args.username}: disabled, every session ended")
        elif args.action == "passwd":
            user_admin.set_password(database_url, args.username, read_new_password())
            print(f"{args.username}: new password set, every session ended")
        else:
            login = user_admin.add(
                database_url,
                args.username,
                read_new_password(),
                staff_id=args.staff_id,
                name=args.name,
                role=args.role,
                site=args.site,
                department=args.department,
            )
            print(f"{login.username}: login of {login.staff_id} {login.name} ({login.role})")
    except (user_admin.UserAdminError, ValueError) as error:
        print(f"users {args.action}: {error}", file=sys.stderr)
        return 1
    return 0


def _reencrypt(config: dict, database_url: str, batch_size: int) -> int:
    from services.intake.dependencies import cipher_from_config
    from services.intake.key_rotation import reencrypt_id_numbers

    if batch_size < 1:
        print("--batch-size must be at least 1", file=sys.stderr)
        return 64
    try:
        cipher = cipher_from_config(config)
    except secrets.DevelopmentSecretError as error:
        print(error, file=sys.stderr)
        return 2
    for line in reencrypt_id_numbers(database_url, cipher, batch_size).lines():
        print(line)
    return 0


# -- Open311 API keys (services.intake.open311_keys) ----------------------------------------


def _open311_key_commands(commands) -> None:
    keys = commands.add_parser("open311-keys", help="the integrating systems' Open311 API keys")
    actions = keys.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="a new key for a system (printed once, stored hashed)")
    add.add_argument("system_name", help="the integrating system, e.g. 南京12345平台")
    add.add_argument(
        "--sites",
        help="comma-separated site codes (jurisdiction_id) it may file for; default: every site",
    )
    actions.add_parser("list", help="every key: id, system, sites, requests filed, revoked")
    revoke = actions.add_parser("revoke", help="refuse a key from now on")
    revoke.add_argument("id", type=int)


def _open311_keys(args, database_url: str) -> int:
    from services.common.errors import InvalidField
    from services.intake import open311_keys

    migrate_all(database_url)
    if args.action == "add":
        sites = [code.strip() for code in args.sites.split(",")] if args.sites else None
        try:
            row, key = open311_keys.add_key(database_url, args.system_name, sites)
        except InvalidField as error:
            print(error.message, file=sys.stderr)
            return 64
        print(f"id {row['id']}: {row['system_name']} ({', '.join(row['jurisdictions'])})")
        print(f"api_key: {key}")
        print("(shown only now: intake keeps its hash)")
    elif args.action == "list":
        rows = open311_keys.list_keys(database_url)
        print("id\tsystem\tkey\tsites\trequests\tcreated\trevoked")
        for row in rows:
            revoked = row["revoked_at"].isoformat() if row["revoked_at"] else "-"
            print(
                f"{row['id']}\t{row['system_name']}\t{row['key_hint']}…\t"
                f"{','.join(row['jurisdictions'])}\t{row['requests']}\t"
                f"{row['created_at'].isoformat()}\t{revoked}"
            )
    else:
        row = open311_keys.revoke_key(database_url, args.id)
        if row is None:
            print(f"no Open311 key with id {args.id}", file=sys.stderr)
            return 1
        print(f"revoked {row['id']} ({row['system_name']}) at {row['revoked_at'].isoformat()}")
    return 0


# -- dead letters ----------------------------------------------------------------------------

CONSUMERS = tuple(event_queues.CONSUMING_SERVICES)


def _dead_letter_commands(commands) -> None:
    dead = commands.add_parser("dead-letters", help="list or re-publish poison events")
    actions = dead.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="what waits in the dead-letter queues, and why")
    listing.add_argument("--service", choices=CONSUMERS, help="one service (default: all)")
    listing.add_argument("--limit", type=int, default=1000, help="at most this many per service")
    again = actions.add_parser(
        "republish", help="send dead letters back to their queue (after a fix)"
    )
    again.add_argument("--service", choices=CONSUMERS, help="one service (default: all)")
    which = again.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", action="append", dest="ids", help="an event id (repeatable)")
    which.add_argument("--all", action="store_true", help="every dead letter")


def _dead_letters(args, config) -> int:
    import pika.exceptions

    services = [args.service] if args.service else list(CONSUMERS)
    try:
        return _dead_letter_action(args, config, services)
    except pika.exceptions.AMQPConnectionError as error:
        print(f"cannot reach RabbitMQ ({type(error).__name__}): is it running?", file=sys.stderr)
        return 2


def _dead_letter_action(args, config, services: list[str]) -> int:
    from services.common import dead_letters

    amqp_uri = config["AMQP_URI"]
    if args.action == "list":
        zone = ZoneInfo(service_setting(config, "TIMEZONE", "Asia/Shanghai"))
        letters = dead_letters.list_dead_letters(amqp_uri, services, args.limit)
        if letters:
            print("service\tid\ttype\tsource\treason ×deaths\tfirst dead-lettered\tproblem")
        for letter in letters:
            since = (
                letter.first_death_at.astimezone(zone).isoformat() if letter.first_death_at else "-"
            )
            print(
                f"{letter.service}\t{letter.id}\t{letter.event_type or '-'}\t{letter.source or '-'}"
                f"\t{letter.reason} ×{letter.deaths}\t{since}\t{letter.problem or '-'}"
            )
        print(f"{len(letters)} dead letter(s) in {', '.join(services)}")
        return 0
    sent, missing = dead_letters.republish(amqp_uri, services, None if args.all else set(args.ids))
    for letter in sent:
        print(f"republished {letter.id} ({letter.event_type}) to {letter.queue}")
    print(f"{len(sent)} dead letter(s) re-published")
    for event_id in missing:
        print(f"not re-published (not found, or its queue is gone): {event_id}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
