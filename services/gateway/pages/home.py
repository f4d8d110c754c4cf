"""Signing in and out, and the dashboard each role starts from.

Pages sit behind the same signed token as the API, carried in the ``bancheng_token`` cookie
(HttpOnly, SameSite=Lax, so another site cannot post our forms with it).
"""

from urllib.parse import urlsplit

from nameko.web.handlers import http

from services.common import errors
from services.common.config import service_setting
from services.gateway.base import forget_session_version
from services.gateway.client_address import request_client_address
from services.gateway.http import TOKEN_COOKIE, bearer_token
from services.gateway.pages.common import PageBase, is_https, page, redirect, render

CASE_READERS = ("officer", "bureau", "supervisor")  # they see the cases still to classify


def safe_next(value: str | None) -> str:
    """Only a path on this site may follow the login (no open redirect).

    Browsers drop tabs and newlines from a URL and read ``\\`` as ``/``, so ``/\t/evil.com``
    and ``/\\evil.com`` are ``//evil.com``, another site: any such character refuses the path.
    """
    if not value or not value.startswith("/") or value.startswith("//"):
        return "/"
    if "\\" in value or any(ord(char) < 0x21 or ord(char) == 0x7F for char in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


def login_refusal(username: str, password: str) -> errors.InvalidField | None:
    """What a login form lacks, by its field (the password is checked by intake)."""
    if not username:
        return errors.InvalidField("请输入用户名", "username")
    if not password:
        return errors.InvalidField("请输入密码", "password")
    return None


def password_form_refusal(current: str, new: str, again: str) -> errors.InvalidField | None:
    """What the password form lacks, by its field (the rest is checked by intake)."""
    if not current:
        return errors.InvalidField("请输入当前密码", "current_password")
    if not new:
        return errors.InvalidField("请输入新密码", "new_password")
    if new != again:
        return errors.InvalidField("两次输入的新密码不一致", "new_password_again")
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
        status = failure.status if failure else 200
        if failure is None:
            try:
                address = request_client_address(
                    request, service_setting(self.config, "TRUSTED_PROXIES")
                )
                user = self.intake.authenticate(username, password, address)
            except (errors.Unauthorized, errors.TooManyRequests) as error:
                # 401 wrong credentials, 429 too many failures: shown by the password field
                failure, status = errors.InvalidField(error.message, "password"), error.status
        if failure:
            return render(
                "login.html",
                None,
                status=status,
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
            secure=is_https(request),
        )
        return response

    @http("GET,POST", "/logout")
    @page("/logout")
    def logout(self, request):
        """退出: the menu's form (a POST, with its CSRF token) ends every session of the user;
        a GET only drops this browser's cookie, so a link on another site ends nothing."""
        if request.method == "POST":
            self._end_sessions(request)
        response = redirect("/login")
        response.delete_cookie(TOKEN_COOKIE, path="/")
        return response

    def _end_sessions(self, request) -> None:
        token = bearer_token(request)
        try:
            user = self.tokens.read(token) if token else None
        except errors.Unauthorized:
            return  # already signed out
        if user:
            self.intake.end_sessions(user["id"])
            forget_session_version(user["id"])

    @http("GET", "/account/password")
    @page("/account/password")
    def password_page(self, request):
        """修改密码: the signed-in user's own password (any role)."""
        user = self._user(request)
        return render("account/password.html", user, errors={})

    @http("POST", "/account/password")
    @page("/account/password")
    def password_submit(self, request):
        """A new password (the current one given again); every session of the user ends with
        it, this browser's too: its cookie is dropped and the page says to log in again."""
        user = self._user(request)
        form = request.form
        current, new = form.get("current_password", ""), form.get("new_password", "")
        failure = password_form_refusal(current, new, form.get("new_password_again", ""))
        if failure is None:
            try:
                self.intake.change_password(user["id"], current, new)
            except errors.InvalidField as error:
                failure = error
        if failure is not None:
            return render(
                "account/password.html",
                user,
                status=failure.status,
                errors={failure.field: failure.message},
            )
        forget_session_version(user["id"])
        response = render("account/password.html", None, done=True, errors={})
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
