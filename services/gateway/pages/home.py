"""Signing in and out, and the dashboard each role starts from.

Pages sit behind the same signed token as the API, carried in the ``bancheng_token`` cookie
(HttpOnly, SameSite=Lax, so another site cannot post our forms with it).
"""

from nameko.web.handlers import http

from services.common import errors
from services.gateway.http import TOKEN_COOKIE
from services.gateway.pages.common import PageBase, page, redirect, render

CASE_READERS = ("officer", "bureau", "supervisor")  # they see the cases still to classify


def safe_next(value: str | None) -> str:
    """Only a path on this site may follow the login (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def login_refusal(username: str, password: str) -> errors.InvalidField | None:
    """What a login form lacks, by its field (the password is checked by intake)."""
    if not username:
        return errors.InvalidField("请输入用户名", "username")
    if not password:
        return errors.InvalidField("请输入密码", "password")
    return None


class HomePages(PageBase):
    @http("GET", "/login")
    @page("/login")
    def login_page(self, request):
        return render("login.html", None, next=safe_next(request.args.get("next")), values={})

    @http("POST", "/login")
    @page("/login")
    def login_submit(self, request):
        form = request.form
        username, password = form.get("username", "").strip(), form.get("password", "")
        next_path = safe_next(form.get("next"))
        failure = login_refusal(username, password)
        if failure is None:
            try:
                user = self.intake.authenticate(username, password)
            except errors.Unauthorized as error:
                failure = errors.InvalidField(error.message, "password")
        if failure:
            return render(
                "login.html",
                None,
                status=failure.status if failure.field != "password" else 401,
                next=next_path,
                values={"username": username},
                errors={failure.field: failure.message},
            )
        response = redirect(next_path)
        response.set_cookie(
            TOKEN_COOKIE,
            self.tokens.issue(user),
            max_age=self.tokens.max_age_seconds,
            path="/",
            httponly=True,
            samesite="Lax",
        )
        return response

    @http("GET,POST", "/logout")
    @page("/logout")
    def logout(self, request):
        response = redirect("/login")
        response.delete_cookie(TOKEN_COOKIE, path="/")
        return response

    @http("GET", "/")
    @page("/")
    def home(self, request):
        user = self._user(request)
        context = {"recent": self.intake.list_cases({"limit": 10}, user)}
        context["mine"] = self.intake.list_cases({"first_receiver": user["id"], "limit": 10}, user)
        if user["role"] in CASE_READERS:
            context["unclassified"] = self.intake.list_cases(
                {"status": "registered", "limit": 20}, user
            )
        return render("home.html", user, active="/", **context)
