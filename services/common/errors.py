"""Domain errors shared by every service.

Each error carries a stable ``code`` and, where one field is at fault, its ``field``: the
front door turns them into ``{"error": {"code", "message", "field"}}`` with a fitting status.
They cross nameko RPC by class name, so the gateway can map them in one place.
"""


class BanchengError(Exception):
    """Base of every error the front door may show to a user."""

    code = "error"
    status = 400

    def __init__(self, message: str, field: str | None = None, code: str | None = None):
        # All three go into ``args`` so they survive nameko's RPC serialisation, which
        # stringifies None: absent values travel as "" and come back as None.
        super().__init__(message, field or "", code or "")
        self.message = message
        self.field = field or None
        if code:
            self.code = code

    def __str__(self) -> str:
        return self.message

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "field": self.field}


class InvalidField(BanchengError):
    """A request field is missing, malformed or does not fit the reference data (422)."""

    code = "invalid_field"
    status = 422


class NotFound(BanchengError):
    code = "not_found"
    status = 404


class Forbidden(BanchengError):
    code = "forbidden"
    status = 403


class Unauthorized(BanchengError):
    code = "unauthorized"
    status = 401


class Conflict(BanchengError):
    """The request is valid but the case is not in a state that allows it (409)."""

    code = "conflict"
    status = 409


class PayloadTooLarge(BanchengError):
    code = "payload_too_large"
    status = 413


class BadRequest(BanchengError):
    """The body is not JSON, or not a JSON object (400)."""

    code = "bad_request"
    status = 400


class TooManyRequests(BanchengError):
    """Too many failed logins for an account or from an address: wait and try again (429)."""

    code = "too_many_requests"
    status = 429


class ServiceUnavailable(BanchengError):
    """A service, the broker or a database is down or did not answer in time (503)."""

    code = "service_unavailable"
    status = 503


class ServiceFault(BanchengError):
    """A bug: an unexpected exception, logged with its traceback under the error id (500).

    ``code`` is the error id, so a user can quote it and an operator find it in the log.
    """

    code = "internal_error"
    status = 500

    def as_dict(self) -> dict:
        return {"code": "internal_error", "message": self.message, "field": None, "id": self.code}


ERRORS_BY_NAME = {
    cls.__name__: cls
    for cls in (
        BanchengError,
        InvalidField,
        NotFound,
        Forbidden,
        Unauthorized,
        Conflict,
        TooManyRequests,
        PayloadTooLarge,
        BadRequest,
        ServiceUnavailable,
        ServiceFault,
    )
}
