"""The standard-practice library (常态化手段): every staff member reads it, officers and the
bureau add to it (a case's own practice is promoted from the case page)."""

from nameko.web.handlers import http

from services.gateway.forms import practice_payload
from services.gateway.pages.common import (
    FORM_REFUSALS,
    PageBase,
    names,
    page,
    redirect,
    refused,
    render,
)
from services.gateway.roles import ACTORS

LIBRARY_SIZE = 200  # the whole library of a matter on one page


class PracticePages(PageBase):
    def _practices(self, request, user, forms=None, status=200, done=None):
        matter = request.args.get("matter") or None
        items = self.coordination.list_practices({"matter": matter, "limit": LIBRARY_SIZE})
        matters = self.intake.matters(None)
        return render(
            "coordination/practices.html",
            user,
            status=status,
            active="/practices",
            items=items,
            matter=matter or "",
            matters=matters,
            matter_names=names(matters),
            staff_names=self._staff_names(),
            forms=forms or {},
            done=done,
        )

    @http("GET", "/practices")
    @page("/practices")
    def practices_page(self, request):
        user = self._user(request)
        return self._practices(request, user, done=request.args.get("done"))

    @http("POST", "/practices")
    @page("/practices")
    def practice_submit(self, request):
        user = self._user(request, *ACTORS)
        try:
            practice = self.coordination.promote_practice(practice_payload(request.form), user)
        except FORM_REFUSALS as error:
            return self._practices(request, user, **refused(request.form, error, "promote"))
        return redirect(f"/practices?done={practice['id']}#practice-{practice['id']}")
