"""Configuration: one nameko-style YAML file with ``${VAR:default}`` environment overrides.

Services get it from ``nameko run --config``; command-line tools and tests load the same file
through :func:`load_config` so that every process reads one source of truth.
"""

import os
from pathlib import Path

import yaml

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
    return config["DATABASE_URL"]


def service_setting(config: dict, name: str, default=None):
    """A Bancheng setting from the ``BANCHENG`` section of the config."""
    return (config.get("BANCHENG") or {}).get(name, default)
