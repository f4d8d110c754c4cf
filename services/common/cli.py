"""Network commands: ``python -m services.common.cli link SITE down|up|status [--json]``.

``down`` deletes the site's two shovels (the link stops and cannot reconnect; what is published
meanwhile waits in the link's queues), ``up`` recreates them, ``status`` prints ``up`` or
``down`` (exit 0 or 3). The site's broker and the district's are read from
``run/sites/<site>/link.json``, written when the site node started (``tools/edge.py``;
``EDGE_LINKS_DIR`` elsewhere). See docs/network.md.
"""

import argparse
import json
import logging
import sys
from dataclasses import asdict

import requests

from services.common import links

NOT_UP = 3


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.common.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    link = commands.add_parser("link", help="cut, restore or show a site node's link")
    link.add_argument("site", help="site code, e.g. XJK")
    link.add_argument("action", choices=["down", "up", "status"])
    link.add_argument("--json", action="store_true", help="status: the whole status as JSON")
    link.add_argument("--wait", type=float, default=30.0, help="up: seconds to wait for it")
    args = parser.parse_args(argv)
    logging.getLogger("pika").setLevel(logging.ERROR)

    try:
        site_link = links.SiteLink.load(args.site.upper())
        if args.action == "down":
            links.down(site_link)
            print("down")
            return 0
        if args.action == "up":
            current = links.up(site_link) or links.wait_running(site_link, args.wait)
            print("up" if current.up else f"down (shovels: {current.shovels})")
            return 0 if current.up else NOT_UP
        current = links.status(site_link)
    except LookupError as error:
        print(error, file=sys.stderr)
        return 2
    except (requests.RequestException, OSError) as error:
        print(f"the site node of {args.site} does not answer: {error}", file=sys.stderr)
        return 2
    print(json.dumps(asdict(current)) if args.json else ("up" if current.up else "down"))
    return 0 if current.up else NOT_UP


if __name__ == "__main__":
    sys.exit(main())
