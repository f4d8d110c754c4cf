"""Registration load through the front door, as several window clients make it.

Each client registers case after case (``POST /api/v1/cases``), each with an Idempotency-Key
of its own. Like a real client it repeats a refused request (503, no connection, no answer)
with the same key a few times — so a registration that was done but whose answer was lost must
come back as the same case, never as a second one. Every attempt is recorded for the tally.
"""

import random
import threading
import time
import uuid
from datetime import date, timedelta

import requests
from stdnum.cn import ric

from tools.drill_report import TIMEOUT, UNREACHABLE, Attempt

REGISTRATION = {
    "site": "HALL",
    "window": "W01",
    "matter": "M001",
    "department": "SCJ",
    "channel": "window",
    "applicant": {
        "kind": "person",
        "name": "张三",
        "id_number": "11010519491231002X",
        "phone": "13912345678",
    },
    "description": "住所使用证明不被认可，企业开办未能办成（演练）",
    "first_receiver": "S0001",
}


def id_number(rng: random.Random) -> str:
    """A valid 居民身份证 number of someone born 1950-1999 (region 110105, as in the README).

    Each registration gets a new applicant: one applicant's hundreds of cases would make every
    registration a repeat visit listing all the earlier ones, which no window sees.
    """
    born = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 50))
    body = f"110105{born:%Y%m%d}{rng.randrange(1000):03d}"
    return body + ric.calc_check_digit(body + "0")


def registration(rng: random.Random, fields: dict | None = None) -> dict:
    """A registration with a new applicant; ``fields`` replace the defaults (another site's)."""
    base = {**REGISTRATION, **(fields or {})}
    return {**base, "applicant": {**base["applicant"], "id_number": id_number(rng)}}


def login(api: str, username: str = "hall.staff", password: str = "demo") -> str:
    """A bearer token of a demo user."""
    response = requests.post(
        f"{api}/auth/login", json={"username": username, "password": password}, timeout=15
    )
    response.raise_for_status()
    return response.json()["token"]


class RegistrationLoad:
    """``clients`` threads registering until :meth:`stop`; ``attempts`` holds every request.
    One more thread asks the front door's ``/healthz`` twice a second (``health_checks``): it
    must answer, 200 or 503, whatever is down."""

    def __init__(
        self,
        api: str,
        token: str,
        key_prefix: str,
        clients: int = 8,
        client_timeout: float = 15.0,
        attempts_per_key: int = 5,
        retry_pause: float = 0.3,
        fields: dict | None = None,
    ):
        self.url = f"{api}/cases"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.key_prefix = key_prefix
        self.client_timeout = client_timeout
        self.attempts_per_key = attempts_per_key
        self.retry_pause = retry_pause
        self.fields = fields
        self.health_url = api.removesuffix("/api/v1") + "/healthz"
        self.attempts: list[Attempt] = []
        self.health_checks: list[Attempt] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads = [
            threading.Thread(target=self._client, name=f"client-{n}", daemon=True)
            for n in range(clients)
        ]
        self._threads.append(threading.Thread(target=self._health_checker, daemon=True))

    def start(self) -> "RegistrationLoad":
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> list[Attempt]:
        """Let each client finish its request in flight (bounded by its timeout); the attempts."""
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=self.client_timeout + 5)
        with self._lock:
            return list(self.attempts)

    def _client(self) -> None:
        rng = random.Random()
        with requests.Session() as session:
            while not self._stopping.is_set():
                key = f"{self.key_prefix}{uuid.uuid4().hex}"
                # a repeated request is the same registration
                body = registration(rng, self.fields)
                for _ in range(self.attempts_per_key):
                    attempt = self._register(session, key, body)
                    with self._lock:
                        self.attempts.append(attempt)
                    if attempt.outcome in (200, 201) or not _worth_repeating(attempt):
                        break
                    # repeat the same key soon: the refusal's Retry-After is for people
                    self._stopping.wait(self.retry_pause)

    def _health_checker(self) -> None:
        with requests.Session() as session:
            while not self._stopping.is_set():
                started = time.monotonic()
                try:
                    outcome = session.get(self.health_url, timeout=self.client_timeout).status_code
                except requests.Timeout:
                    outcome = TIMEOUT
                except requests.ConnectionError:
                    outcome = UNREACHABLE
                check = Attempt("healthz", outcome, time.monotonic() - started)
                with self._lock:
                    self.health_checks.append(check)
                self._stopping.wait(0.5)

    def _register(self, session: requests.Session, key: str, body: dict) -> Attempt:
        started = time.monotonic()
        try:
            response = session.post(
                self.url,
                json=body,
                headers={**self.headers, "Idempotency-Key": key},
                timeout=self.client_timeout,
            )
        except requests.Timeout:
            return Attempt(key, TIMEOUT, time.monotonic() - started)
        except requests.ConnectionError:
            return Attempt(key, UNREACHABLE, time.monotonic() - started)
        seconds = time.monotonic() - started
        try:
            body = response.json()
        except ValueError:
            body = {}
        error = body.get("error") if isinstance(body, dict) else None
        return Attempt(
            key,
            response.status_code,
            seconds,
            case_no=body.get("case_no") if isinstance(body, dict) else None,
            error_code=error.get("code") if isinstance(error, dict) else None,
        )


def _worth_repeating(attempt: Attempt) -> bool:
    return attempt.outcome in (503, TIMEOUT, UNREACHABLE)
