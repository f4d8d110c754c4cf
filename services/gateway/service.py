"""The web front door: login, the JSON API of DESIGN §8 and the staff pages.

It holds no data of its own: every route reads the caller's token, then asks the services
over RPC. The API lives in ``api/`` (a module per service, and the OpenAPI document), the
staff pages by area in ``pages/``; errors are mapped in one place, ``http.py``.
"""

from services.gateway import routing
from services.gateway.api.accountability import AccountabilityRoutes
from services.gateway.api.bad_ratings import BadRatingRoutes
from services.gateway.api.coordination import CoordinationRoutes
from services.gateway.api.front_door import FrontDoorRoutes
from services.gateway.api.intake import (
    CaseRoutes,
    FeedbackRoutes,
    IntakeExtraRoutes,
    ReferenceRoutes,
)
from services.gateway.api.open311 import Open311Routes
from services.gateway.api.precedents import PrecedentRoutes
from services.gateway.api.refusals import RefusalRoutes
from services.gateway.api.reporting import ReportingRoutes
from services.gateway.pages.accountability import AccountabilityPages
from services.gateway.pages.cases import CasePages
from services.gateway.pages.home import HomePages
from services.gateway.pages.meetings import MeetingPages
from services.gateway.pages.practices import PracticePages
from services.gateway.pages.queue import QueuePages
from services.gateway.pages.reports import ReportPages

# routing errors and bad URL inputs under /api/v1 answered in the contract's JSON
routing.install()


class GatewayService(
    FrontDoorRoutes,
    ReferenceRoutes,
    CaseRoutes,
    FeedbackRoutes,
    IntakeExtraRoutes,
    CoordinationRoutes,
    BadRatingRoutes,
    AccountabilityRoutes,
    ReportingRoutes,
    PrecedentRoutes,
    RefusalRoutes,
    Open311Routes,
    HomePages,
    CasePages,
    QueuePages,
    MeetingPages,
    AccountabilityPages,
    PracticePages,
    ReportPages,
):
    name = "gateway"
