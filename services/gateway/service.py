"""The web front door: login, the JSON API of DESIGN §8 and the staff pages.

It holds no data of its own: every route reads the caller's token, then asks the services
over RPC. Each group of routes lives in ``routes/``; errors are mapped in ``http.py``.
"""

from services.gateway.routes.accountability import AccountabilityRoutes
from services.gateway.routes.cases import CaseRoutes
from services.gateway.routes.coordination import CoordinationRoutes
from services.gateway.routes.feedback import FeedbackRoutes
from services.gateway.routes.intake_extras import IntakeExtraRoutes
from services.gateway.routes.pages import PageRoutes
from services.gateway.routes.reference import ReferenceRoutes
from services.gateway.routes.reporting import ReportingRoutes


class GatewayService(
    ReferenceRoutes,
    CaseRoutes,
    FeedbackRoutes,
    IntakeExtraRoutes,
    CoordinationRoutes,
    AccountabilityRoutes,
    ReportingRoutes,
    PageRoutes,
):
    name = "gateway"
