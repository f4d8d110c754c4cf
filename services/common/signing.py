"""Signatures at the broker boundary: who calls an RPC, what an RPC carries, who sent an event.

DESIGN §7: anyone who can reach RabbitMQ must not be able to act for a user, read an ID number
off the wire or inject a decision. Three mechanisms, all pure (keys in, bytes out):

* **Caller assertions** (:func:`sign_assertion` / :func:`verify_assertion`): every RPC request
  carries, in a message header, an HMAC-SHA256 assertion under ``SERVICE_ASSERTION_KEY`` (held
  by the services only) naming the calling service, the acting user (id, role, site) or none
  (a service acting for itself), the target ``service.method``, an expiry, the digest of
  the sealed body — so it cannot be moved to another request or outlive its deadline — and a
  unique id: the receiving process keeps the ids it has seen until they expire
  (:class:`ReplayGuard`, bounded) and refuses one seen before, so a request copied off the
  broker and published again is not executed twice.
* **Sealed bodies** (:func:`seal` / :func:`unseal`): RPC arguments and results cross the broker
  encrypted (Fernet, a key derived from the assertion key), so no clear ID number — nor any
  other personal datum — is in a broker message. This is the "encrypt before it leaves the
  gateway" choice rather than TLS on AMQP: it holds whatever the link and the broker's own
  logs or management UI show.
* **Event signatures** (:func:`sign_event` / :func:`verify_event`): each service signs the
  canonical JSON of the envelopes it publishes with its own Ed25519 key
  (``EVENT_SIGNING_KEY_<SERVICE>``); consumers verify against that service's public key
  (``EVENT_PUBLIC_KEYS``), so only the source service can speak for itself.

In demo mode (``BANCHENG_DEMO=1``) the keys may be left unset: the assertion key is a known
development value and each service's event key is derived from a public demo seed. Outside
demo mode both are refused, as :mod:`services.common.secrets` does for every secret.
"""

import base64
import hashlib
import heapq
import hmac
import json
import os
import secrets as token_source
import time

import kombu.utils.json as kombu_json
from cryptography.exceptions import InvalidSignature
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from services.common.secrets import DevelopmentSecretError, checked, demo_mode

ASSERTION_KEY_SETTING = "SERVICE_ASSERTION_KEY"
DEMO_ASSERTION_KEY = "demo-service-assertion-key-change-me"
DEMO_EVENT_SEED = "bancheng-demo-event-signing-seed"
ASSERTION_VERSION = "a1"
SEALED = "__sealed__"
# the services that publish events (each has a key of its own)
EVENT_SOURCES = ("intake", "coordination", "accountability", "reporting", "gateway")


class InvalidAssertion(ValueError):
    """An RPC's caller assertion is missing, forged, expired or not for this call."""


class InvalidSeal(ValueError):
    """A sealed RPC body or result was not made with this cluster's key."""


class BadEventSignature(ValueError):
    """An event's signature is missing (``reason`` ``unsigned``) or wrong (``bad_signature``)."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason


def _setting(config: dict, name: str):
    value = (config.get("BANCHENG") or {}).get(name)
    if value in (None, ""):
        value = os.environ.get(name)
    return value


def assertion_key(config: dict) -> bytes:
    """``SERVICE_ASSERTION_KEY`` as bytes; in demo mode the development value when unset.

    Outside demo mode a missing, short or development value raises
    :class:`DevelopmentSecretError` (the process does not start)."""
    demo = demo_mode(config)
    value = _setting(config, ASSERTION_KEY_SETTING)
    if demo and not value:
        value = DEMO_ASSERTION_KEY
    text = checked(ASSERTION_KEY_SETTING, value, demo)
    if not demo and text == DEMO_ASSERTION_KEY:
        raise DevelopmentSecretError(
            f"{ASSERTION_KEY_SETTING} is a development value from the repository: set it to a "
            "secret of your own shared by the services, or run a demo with BANCHENG_DEMO=1"
        )
    return text.encode()


def canonical_json(value) -> bytes:
    """One byte string per JSON value: sorted keys, no spaces, UTF-8."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def digest(data: str | bytes) -> str:
    """The sha256 hex digest a caller assertion binds its request body with."""
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def acting_user(user: dict | None) -> dict | None:
    """The part of a user an assertion vouches for: id, role and site."""
    if user is None:
        return None
    return {"id": user.get("id"), "role": user.get("role"), "site": user.get("site")}


def sign_assertion(
    key: bytes,
    *,
    caller: str,
    target: str,
    body_digest: str,
    user: dict | None,
    ttl: float,
    now: float | None = None,
) -> str:
    """A caller assertion: ``a1.<payload>.<hmac>`` (base64url), valid for ``ttl`` seconds."""
    payload = {
        "svc": caller,
        "to": target,
        "user": acting_user(user),
        "exp": round((time.time() if now is None else now) + ttl, 3),
        "body": body_digest,
        "id": token_source.token_urlsafe(16),
    }
    encoded = _b64(canonical_json(payload))
    mac = hmac.new(key, f"{ASSERTION_VERSION}.{encoded}".encode(), hashlib.sha256).digest()
    return f"{ASSERTION_VERSION}.{encoded}.{_b64(mac)}"


def verify_assertion(
    key: bytes, token, *, target: str, body_digest: str, now: float | None = None
) -> dict:
    """The payload of a valid assertion for this call; else :class:`InvalidAssertion`."""
    if not isinstance(token, str) or token.count(".") != 2:
        raise InvalidAssertion("no caller assertion")
    version, encoded, mac = token.split(".")
    expected = hmac.new(key, f"{version}.{encoded}".encode(), hashlib.sha256).digest()
    try:
        valid = version == ASSERTION_VERSION and hmac.compare_digest(_unb64(mac), expected)
        payload = json.loads(_unb64(encoded)) if valid else None
    except (ValueError, TypeError):
        valid = False
    if not valid or not isinstance(payload, dict):
        raise InvalidAssertion("caller assertion does not verify")
    if payload.get("to") != target:
        raise InvalidAssertion(f"caller assertion is for {payload.get('to')}, not {target}")
    if payload.get("body") != body_digest:
        raise InvalidAssertion("caller assertion is for another request body")
    if float(payload.get("exp", 0)) < (time.time() if now is None else now):
        raise InvalidAssertion("caller assertion has expired")
    if not isinstance(payload.get("id"), str) or not payload["id"]:
        raise InvalidAssertion("caller assertion carries no id")
    return payload


class ReplayedAssertion(ValueError):
    """A caller assertion whose id was seen before (a copied request), or one that cannot be
    remembered because the guard is full."""


class ReplayGuard:
    """The assertion ids a process has accepted, each kept until its assertion expires.

    An expired assertion is refused by :func:`verify_assertion` anyway, so nothing older needs
    remembering: memory is bounded by the requests of one assertion lifetime (seconds), and by
    ``capacity`` whatever happens. Full of ids that have not expired yet, it refuses (a replay
    must never pass because memory ran out). Not thread-safe; eventlet's greenthreads do not
    switch inside :meth:`admit`.
    """

    def __init__(self, capacity: int = 100_000):
        self.capacity = capacity
        self._expiry: dict[str, float] = {}
        self._by_expiry: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._expiry)

    def admit(self, payload: dict, now: float | None = None, redelivered: bool = False) -> None:
        """Remember a verified assertion's id; :class:`ReplayedAssertion` if it was seen.

        ``redelivered`` is the broker's own flag: the same message handed out again because its
        first delivery was never acknowledged (a connection or a node lost). Only the broker sets
        it — a client that publishes a copy cannot — so a redelivery of a request this process
        already admitted is the request itself, not a replay; it runs again like any
        at-least-once delivery (the use cases are idempotent)."""
        now = time.time() if now is None else now
        self._forget_expired(now)
        assertion_id, expires = payload["id"], float(payload["exp"])
        if assertion_id in self._expiry:
            if redelivered:
                return
            raise ReplayedAssertion(f"caller assertion {assertion_id[:8]}… was used before")
        if len(self._expiry) >= self.capacity:
            raise ReplayedAssertion(f"{self.capacity} unexpired assertion ids held: refused")
        self._expiry[assertion_id] = expires
        heapq.heappush(self._by_expiry, (expires, assertion_id))

    def _forget_expired(self, now: float) -> None:
        while self._by_expiry and self._by_expiry[0][0] < now:
            _, assertion_id = heapq.heappop(self._by_expiry)
            self._expiry.pop(assertion_id, None)


def actor_matches(asserted: dict | None, actor) -> bool:
    """Whether an RPC's ``actor`` argument is the user its assertion vouches for."""
    if actor is None:
        return True
    if not isinstance(actor, dict) or asserted is None:
        return False
    return acting_user(actor) == asserted


def _fernet(key: bytes) -> Fernet:
    derived = hmac.new(key, b"bancheng-rpc-seal", hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


def seal(key: bytes, value) -> str:
    """``value`` (JSON) encrypted and authenticated for the broker."""
    # kombu's JSON, as the broker's serializer would: datetimes and decimals come back as such
    return _fernet(key).encrypt(kombu_json.dumps(value).encode()).decode()


def unseal(key: bytes, token) -> object:
    """What :func:`seal` sealed; :class:`InvalidSeal` if it was not sealed with ``key``."""
    try:
        return kombu_json.loads(_fernet(key).decrypt(str(token).encode()))
    except (InvalidToken, ValueError, TypeError) as error:
        raise InvalidSeal("sealed body does not open with this cluster's key") from error


def is_sealed(value) -> bool:
    """Whether ``value`` is a sealed body or result (``{"__sealed__": token}``)."""
    return isinstance(value, dict) and set(value) == {SEALED}


# --- events ------------------------------------------------------------------------------


def _event_key_setting(service: str) -> str:
    return f"EVENT_SIGNING_KEY_{service.upper()}"


def demo_event_key(service: str) -> Ed25519PrivateKey:
    """A service's demo signing key, derived from the public demo seed (demo mode only)."""
    seed = hashlib.sha256(f"{DEMO_EVENT_SEED}:{service}".encode()).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key_text(private_key: Ed25519PrivateKey) -> str:
    """A private key's public half, base64url of the raw 32 bytes (how config lists them)."""
    raw = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return _b64(raw)


def event_signing_key(config: dict, service: str) -> Ed25519PrivateKey:
    """The service's Ed25519 key from ``EVENT_SIGNING_KEY_<SERVICE>`` (base64url of the 32-byte
    seed); unset in demo mode: the demo key; unset or a demo key outside: refused."""
    name = _event_key_setting(service)
    value = _setting(config, name)
    demo = demo_mode(config)
    if not value:
        if demo:
            return demo_event_key(service)
        raise DevelopmentSecretError(
            f"{name} is not set: give each service an Ed25519 key of its own (base64url of 32 "
            "random bytes; its public half goes into EVENT_PUBLIC_KEYS), or run a demo with "
            "BANCHENG_DEMO=1"
        )
    try:
        key = Ed25519PrivateKey.from_private_bytes(_unb64(str(value).strip()))
    except ValueError as error:
        raise DevelopmentSecretError(f"{name} is not base64url of 32 bytes") from error
    if not demo and public_key_text(key) == public_key_text(demo_event_key(service)):
        raise DevelopmentSecretError(f"{name} is the demo key: set a key of your own")
    return key


def event_public_keys(config: dict) -> dict[str, Ed25519PublicKey]:
    """Each source service's public key: ``EVENT_PUBLIC_KEYS`` (``service:key,...``); in demo
    mode the demo keys of the services it does not name."""
    listed = str(_setting(config, "EVENT_PUBLIC_KEYS") or "").strip()
    keys: dict[str, Ed25519PublicKey] = {}
    if demo_mode(config):
        keys = {name: demo_event_key(name).public_key() for name in EVENT_SOURCES}
    for item in filter(None, (part.strip() for part in listed.split(","))):
        service, _, text = item.partition(":")
        try:
            keys[service] = Ed25519PublicKey.from_public_bytes(_unb64(text))
        except ValueError as error:
            raise DevelopmentSecretError(
                f"EVENT_PUBLIC_KEYS: the key of {service!r} is not base64url of 32 bytes"
            ) from error
    return keys


def sign_event(private_key: Ed25519PrivateKey, envelope: dict) -> str:
    """The signature (base64url) of an envelope's canonical JSON."""
    return _b64(private_key.sign(canonical_json(envelope)))


def verify_event(public_keys: dict, source: str, envelope: dict, signature) -> None:
    """Nothing if ``signature`` is ``source``'s over ``envelope``; else
    :class:`BadEventSignature` (``unsigned`` or ``bad_signature``)."""
    if not signature:
        raise BadEventSignature("unsigned", f"event from {source!r} carries no signature")
    public_key = public_keys.get(source)
    if public_key is None:
        raise BadEventSignature("bad_signature", f"no public key for source {source!r}")
    try:
        public_key.verify(_unb64(str(signature)), canonical_json(envelope))
    except (InvalidSignature, ValueError) as error:
        raise BadEventSignature(
            "bad_signature", f"signature of the event from {source!r} does not verify"
        ) from error
