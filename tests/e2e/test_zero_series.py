"""End to end: the deadline gauges of the running reporting service and the clock's counters
of coordination export every known site and kind from the start, at 0 where nothing is due
(not a series that appears only once something is)."""

import re

import pytest
import requests
import yaml

from services.common.config import REPO_ROOT
from tests.system import BASE_PORT

pytestmark = pytest.mark.e2e
SEED = REPO_ROOT / "deploy" / "seed" / "xuanwu"


def scrape(port: int) -> str:
    response = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert response.status_code == 200
    return response.text


def sites() -> list[str]:
    return [site["code"] for site in yaml.safe_load((SEED / "sites.yaml").read_text())]


def test_every_site_has_its_deadline_gauges_even_with_nothing_due(system):
    text = scrape(BASE_PORT + 5)  # reporting
    for site in sites():
        for metric in ("bancheng_cases_overdue", "bancheng_cases_due_soon"):
            series = f'{metric}{{department="",kind="cannot_reply",site="{site}"}}'
            assert re.search(rf"^{re.escape(series)} 0\.0$", text, re.M), series
        unclassified = (
            f'bancheng_open_cases{{site="{site}",state="registered",type="unclassified"}}'
        )
        assert unclassified in text
    assert re.search(r"^bancheng_joint_meetings_reply_overdue \d", text, re.M)


def test_the_clock_counts_every_policy_kind_from_zero(system):
    text = scrape(BASE_PORT + 3)  # coordination
    for kind in ("cannot_reply", "pending_reply", "hard_resolution", "assignment"):
        for event in ("warning", "breach"):
            series = f'bancheng_deadline_events_total{{event="{event}",kind="{kind}"}}'
            assert series in text, series
