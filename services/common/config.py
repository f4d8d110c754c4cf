"""Configuration: one nameko-style YAML file with ``${VAR:default}`` environment overrides.

Services get it from ``nameko run --config``; command-line tools and tests load the same file
through :func:`load_config` so that every process reads one source of truth.
"""

import os
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import yaml

from services.common import secrets

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG_FILE = REPO_ROOT / "deploy" / "config" / "bancheng.yaml"


def load_config(path: str | os.PathLike | None = None) -> dict:
    """Read the YAML config with nameko's own ``${VAR:default}`` substitution."""
    from nameko.cli.main import setup_yaml_parser

    setup_yaml_parser()
    config_path = Path(path or os.environ.get("BANCHENG_CONFIG") or DEFAULT_CONFIG_FILE)
    with open(config_path, encoding="utf-8") as config_file:
        return yaml.safe_load(config_file)


def database_url(config: dict) -> str:
    """The owner's URL: migrations, seeding and the operator's tools (never a service)."""
    return config["DATABASE_URL"]


# the services with a schema of their own; each logs in as its own role (migrations make them)
SERVICE_DATABASES = secrets.DATABASE_SERVICES


def database_role(service: str) -> str:
    """The PostgreSQL login role of ``service``: ``bancheng_<service>``."""
    return f"bancheng_{service}"


def database_password(config: dict, service: str) -> str:
    """``DB_PASSWORD_<SERVICE>`` (the config's ``BANCHENG`` section, else the environment); in
    demo mode a known demo password when unset, outside it refused when missing, short or a
    demo value (:func:`services.common.secrets.checked`: the process does not start)."""
    name = f"DB_PASSWORD_{service.upper()}"
    value = service_setting(config, name) or os.environ.get(name)
    demo = secrets.demo_mode(config)
    if demo and not value:
        value = secrets.demo_database_password(service)
    return secrets.checked(name, value, demo)


def service_database_url(config: dict, service: str) -> str:
    """The URL ``service``'s pool connects with: ``DATABASE_URL``'s server and database, logged
    in as :func:`database_role` with :func:`database_password`. A process that is not one of
    :data:`SERVICE_DATABASES` (a test probe, a benchmark's baseline) gets ``DATABASE_URL``."""
    url = database_url(config)
    if service not in SERVICE_DATABASES:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = (
        f"{quote(database_role(service), safe='')}:"
        f"{quote(database_password(config, service), safe='')}@{host}"
        + (f":{parts.port}" if parts.port else "")
    )
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def service_setting(config: dict, name: str, default=None):
    """A Bancheng setting from the ``BANCHENG`` section of the config."""
    return (config.get("BANCHENG") or {}).get(name, default)
