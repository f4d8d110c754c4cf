"""The front door of a site node (``SITE_NODE=XJK``; docs/network.md).

A site node runs intake and a front door, and no district service: its staff register, list
and read their own cases there whether or not the link to the district is up. Configuration
alone makes the difference, in two places:

* the proxies of the district's services (coordination, accountability, reporting) are
  :class:`DistrictRpc`: at the district they are the usual :class:`ServiceRpc`; on a site node
  every call raises :class:`DistrictUnavailable` at once — a 503 + ``Retry-After`` naming the
  district's front door, never a wait for a deadline, a 500 or a hang;
* the case view (:func:`last_synced_view`) shows intake's record and timeline, and
  coordination's part as what the site's intake last heard from it (``last_synced``: status,
  type, overdue), labelled as such, instead of asking coordination.
"""

from services.common.config import service_setting
from services.common.errors import ServiceUnavailable
from services.common.rpc import ServiceRpc

SERVICE_NAMES = {"coordination": "协调", "accountability": "问责", "reporting": "统计报表"}
LAST_SYNCED_LABEL = "最后同步：来自区中心协调服务的状态（站点节点所知的最新情况）"


def site_node(config: dict) -> str | None:
    """The site this front door serves as a site node; None at the district."""
    return (service_setting(config, "SITE_NODE") or "").strip().upper() or None


def services_behind(config: dict) -> tuple[str, ...]:
    """The services this front door calls (what its ``/healthz`` asks)."""
    if site_node(config):
        return ("intake",)
    return ("intake", *SERVICE_NAMES)


class DistrictUnavailable(ServiceUnavailable):
    """A district service asked for on a site node, which runs none (503)."""

    code = "district_only"


def refusal(service: str, site: str, config: dict) -> DistrictUnavailable:
    front_door = service_setting(config, "DISTRICT_FRONT_DOOR") or "区中心前台"
    return DistrictUnavailable(
        f"站点节点（{site}）只运行登记服务，不提供{SERVICE_NAMES.get(service, service)}服务："
        f"此操作请在区中心办理（{front_door}）"
    )


class _Refusing:
    """What a site node's proxy of a district service hands out: every method refuses."""

    def __init__(self, service: str, site: str, config: dict):
        self._error = refusal(service, site, config)

    def act_as(self, user) -> None:
        return None

    def __getattr__(self, name):
        return _RefusingMethod(self._error)


class _RefusingMethod:
    def __init__(self, error: DistrictUnavailable):
        self._error = error

    def __call__(self, *args, **kwargs):
        raise self._error

    def call_async(self, *args, **kwargs):
        raise self._error


class DistrictRpc(ServiceRpc):
    """A district service's proxy: :class:`ServiceRpc` at the district, a refusal on a site
    node (it never reaches the broker there)."""

    def get_dependency(self, worker_ctx):
        site = site_node(self.container.config)
        if site:
            return _Refusing(self.target_service, site, self.container.config)
        return super().get_dependency(worker_ctx)


def last_synced_view(gateway, case: dict) -> dict:
    """A case on a site node: intake's record and timeline, no deadlines (coordination counts
    them at the district), and coordination's part as the site's intake last heard it."""
    return {
        **case,
        "deadlines": [],
        "timeline": gateway.intake.case_timeline(case["case_no"]),
        "last_synced": {
            "label": LAST_SYNCED_LABEL,
            "status": case.get("status"),
            "type": case.get("type"),
            "complex": case.get("complex"),
            "overdue": case.get("overdue"),
        },
    }
