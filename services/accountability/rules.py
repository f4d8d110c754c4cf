"""Loading the sanction rules and the assessment points from their YAML files.

Each path comes from the nameko config (``BANCHENG.SANCTION_RULES_FILE`` /
``ASSESSMENT_POINTS_FILE``), else the environment variable of the same name, else the file in
``deploy/config``. The files are read and checked once when the service starts, so a broken
file stops the service instead of sanctioning people by a half-read rule.
"""

import os
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from nameko.extensions import DependencyProvider

from services.accountability import domain
from services.common.config import REPO_ROOT, service_setting

DEFAULT_SANCTION_RULES = REPO_ROOT / "deploy" / "config" / "sanction_rules.yaml"
DEFAULT_ASSESSMENT_POINTS = REPO_ROOT / "deploy" / "config" / "assessment_points.yaml"


def _path(config: dict | None, name: str, default: Path) -> Path:
    chosen = service_setting(config or {}, name) or os.environ.get(name) or default
    path = Path(chosen)
    return path if path.is_absolute() else REPO_ROOT / path


def _read(path: Path) -> dict:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def load_sanction_rules(config: dict | None = None) -> domain.SanctionRules:
    return domain.sanction_rules(
        _read(_path(config, "SANCTION_RULES_FILE", DEFAULT_SANCTION_RULES))
    )


def load_assessment_points(config: dict | None = None) -> domain.AssessmentPoints:
    return domain.assessment_points(
        _read(_path(config, "ASSESSMENT_POINTS_FILE", DEFAULT_ASSESSMENT_POINTS))
    )


class RulesProvider(DependencyProvider):
    """Injects the rules read at start-up."""

    def setup(self):
        config = self.container.config
        self.rules = domain.Rules(
            load_sanction_rules(config),
            load_assessment_points(config),
            ZoneInfo(service_setting(config, "TIMEZONE", "Asia/Shanghai")),
        )

    def get_dependency(self, worker_ctx):
        return self.rules
