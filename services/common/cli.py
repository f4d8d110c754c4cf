"""Operator commands: ``python -m services.common.cli migrate | seed DIR``."""

import argparse
import sys

from services.common.config import load_config
from services.common.migrations import migrate_all


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.common.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="create the database if needed and migrate every schema")
    seed = commands.add_parser("seed", help="load a district's reference data (idempotent)")
    seed.add_argument("directory", nargs="?", default="deploy/seed/xuanwu")
    args = parser.parse_args(argv)

    database_url = load_config()["DATABASE_URL"]
    if args.command == "migrate":
        for schema, applied in migrate_all(database_url).items():
            print(f"{schema}: {', '.join(applied) if applied else 'up to date'}")
    elif args.command == "seed":
        from services.intake.seed import load_seed

        migrate_all(database_url)
        counts = load_seed(database_url, args.directory)
        print("seeded " + ", ".join(f"{n} {kind}" for kind, n in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
