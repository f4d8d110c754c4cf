"""The web front door: login, the JSON API of DESIGN §8 and the staff pages.

It holds no data of its own: every route reads the caller's token, then asks the services
over RPC. Each group of API routes lives in ``routes/``, the staff pages by area in ``pages/``;
errors are mapped in ``http.py``.
"""

from services.gateway import routing
from services.gateway.pages.accountability import AccountabilityPages
from services.gateway.pages.cases import CasePages
from services.gateway.pages.home import HomePages
from services.gateway.pages.meetings import MeetingPages
from services.gateway.pages.practices import PracticePages
from services.gateway.pages.queue import QueuePages
from services.gateway.pages.reports import ReportPages
from services.gateway.routes.accountability import AccountabilityRoutes
from services.gateway.routes.cases import CaseRoutes
from services.gateway.routes.coordination import CoordinationRoutes
from services.gateway.routes.feedback import FeedbackRoutes
from services.gateway.routes.intake_extras import IntakeExtraRoutes
from services.gateway.routes.reference import ReferenceRoutes
from services.gateway.routes.reporting import ReportingRoutes

# routing errors and bad URL inputs under /api/v1 answered in the contract's JSON
routing.install()


class GatewayService(
    ReferenceRoutes,
    CaseRoutes,
    FeedbackRoutes,
    IntakeExtraRoutes,
    CoordinationRoutes,
    AccountabilityRoutes,
    ReportingRoutes,
    HomePages,
    CasePages,
    QueuePages,
    MeetingPages,
    AccountabilityPages,
    PracticePages,
    ReportPages,
):
    name = "gateway"
