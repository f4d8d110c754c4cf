"""Protecting applicants' ID numbers: masking for display, encryption at rest, a lookup hash.

DESIGN §7: 居民身份证 numbers and 统一社会信用代码 are encrypted at rest and masked in pages,
exports and logs. Staff still need to find a person's earlier cases by the exact number, so
each stored number also gets a deterministic keyed hash (HMAC) to search on.

Everything here is pure: the secret comes from configuration, nothing touches a database.
"""

import base64
import binascii
import hashlib
import hmac
import os
import unicodedata
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MIN_SECRET_LENGTH = 16

# Tokens: ``v2:<key id>:<base64url(nonce + sealed)>``; ``v1:<base64url>`` are from before key
# ids existed and were all sealed with key ``k1`` (the single ``ID_NUMBER_KEY``).
_TOKEN_PREFIX = "v2:"
_LEGACY_PREFIX = "v1:"
LEGACY_KEY_ID = "k1"
_NONCE_BYTES = 12
_TAG_BYTES = 16
# Binds every ciphertext to its purpose (and a v2 one to its key id), so a token made for
# something else, or relabelled with another key's id, never decrypts here.
_LEGACY_ASSOCIATED_DATA = b"bancheng:id-number:v1"
_ASSOCIATED_DATA = b"bancheng:id-number:v2:"
_HKDF_SALT = b"bancheng/intake/id-number"
_ENCRYPTION_INFO = b"bancheng/id-number/aes-256-gcm/v1"
_LOOKUP_INFO = b"bancheng/id-number/lookup-hmac-sha256/v1"

_ID_LENGTH = 18
_SEPARATORS = frozenset(" -")


class IdNumberDecryptionError(ValueError):
    """A stored ID-number token cannot be decrypted: wrong key, or the token is damaged."""


def normalize_id_number(value: str | None) -> str:
    """Return the canonical form of an ID number or credit code.

    Full-width characters (common from Chinese input methods) become ASCII, whitespace and
    hyphens are removed and letters are upper-cased, so ``"３２０１… x"`` and ``"3201…X"``
    encrypt, hash and mask alike. ``None`` becomes ``""``.
    """
    if value is None:
        return ""
    value = unicodedata.normalize("NFKC", value)
    return "".join(ch for ch in value if not ch.isspace() and ch not in _SEPARATORS).upper()


def _looks_like_resident_id(value: str) -> bool:
    return (
        len(value) == _ID_LENGTH
        and value[:-1].isascii()
        and value[:-1].isdigit()
        and (value[-1].isdigit() or value[-1] == "X")
    )


def mask_id_number(value: str | None, kind: str | None = None) -> str:
    """Mask an ID number for pages, exports and logs; the clear middle is never returned.

    * 18-character 居民身份证 number: first 6 and last 4 kept — ``320102********1234``;
    * 18-character 统一社会信用代码: first 2 and last 4 kept — ``91************341L``;
    * any other length: all but the last 2 masked (all masked when 4 characters or fewer).

    ``kind`` (``"person"`` or ``"enterprise"``) says which of the two an 18-character value
    is; without it a value of 17 digits plus a digit or ``X`` is taken for a 居民身份证 number.
    An empty value gives ``""``.
    """
    number = normalize_id_number(value)
    length = len(number)
    if length == 0:
        return ""
    if length == _ID_LENGTH:
        if kind == "person" or (kind != "enterprise" and _looks_like_resident_id(number)):
            keep_start = 6
        else:
            keep_start = 2
        return number[:keep_start] + "*" * (length - keep_start - 4) + number[-4:]
    if length <= 4:
        return "*" * length
    return "*" * (length - 2) + number[-2:]


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    return base64.b64decode(padded, altchars=b"-_", validate=True)


def _derive_key(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=info).derive(secret)


def _checked_secret(secret: str) -> bytes:
    if not isinstance(secret, str) or len(secret.strip()) < MIN_SECRET_LENGTH:
        raise ValueError(
            f"ID-number secret must be a string of at least {MIN_SECRET_LENGTH} characters"
        )
    return secret.encode("utf-8")


class IdNumberCipher:
    """Encrypts ID numbers at rest under rotating keys and computes their lookup hash.

    Built from the keys in configuration as ``(key_id, secret)`` pairs, the current key first
    (one bare secret string is key ``k1``). HKDF-SHA256 derives an AES-256-GCM key from each
    secret; new tokens are sealed with the current key and name its id, so a token sealed
    with any configured key stays readable after a rotation. The HMAC-SHA256 lookup key is
    derived from ``lookup_secret`` (default: key ``k1``'s secret, or the only key's) and never
    from the current key, so the searchable hash stays the same across rotations and reveals
    nothing about the encryption keys. Values are normalized with :func:`normalize_id_number`.
    """

    def __init__(self, keys: str | Sequence[tuple[str, str]], lookup_secret: str | None = None):
        """Derive the keys; ``ValueError`` if a secret is shorter than 16 or no key is given."""
        one_secret = keys is None or isinstance(keys, (str, bytes))
        pairs = [(LEGACY_KEY_ID, keys)] if one_secret else list(keys)
        if not pairs:
            raise ValueError("at least one ID-number key is needed")
        self._aeads = {
            key_id: AESGCM(_derive_key(_checked_secret(secret), _ENCRYPTION_INFO))
            for key_id, secret in pairs
        }
        self.current_key_id = pairs[0][0]
        if lookup_secret is None:
            lookup_secret = dict(pairs).get(LEGACY_KEY_ID, pairs[0][1] if len(pairs) == 1 else None)
        if lookup_secret is None:
            raise ValueError("lookup_secret is needed when no key is k1")
        self._lookup_key = _derive_key(_checked_secret(lookup_secret), _LOOKUP_INFO)

    def __repr__(self) -> str:
        return f"IdNumberCipher(keys={list(self._aeads)}, secrets=<hidden>)"

    @staticmethod
    def _normalized(value: str) -> str:
        number = normalize_id_number(value)
        if not number:
            raise ValueError("ID number to protect is empty")
        return number

    def encrypt(self, value: str) -> str:
        """Encrypt a (normalized) ID number under the current key: ``v2:<key id>:<base64url>``.

        A fresh random 12-byte nonce is used each time, so equal numbers give different tokens.
        """
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aeads[self.current_key_id].encrypt(
            nonce,
            self._normalized(value).encode("utf-8"),
            _ASSOCIATED_DATA + self.current_key_id.encode("ascii"),
        )
        return f"{_TOKEN_PREFIX}{self.current_key_id}:{_b64encode(nonce + sealed)}"

    @staticmethod
    def key_id(token: str) -> str:
        """The id of the key ``token`` was sealed with (``k1`` for a token from before ids)."""
        if isinstance(token, str) and token.startswith(_TOKEN_PREFIX):
            key_id, colon, _ = token[len(_TOKEN_PREFIX) :].partition(":")
            if colon and key_id:
                return key_id
        elif isinstance(token, str) and token.startswith(_LEGACY_PREFIX):
            return LEGACY_KEY_ID
        raise IdNumberDecryptionError("not an ID-number token (expected prefix 'v2:' or 'v1:')")

    def is_current(self, token: str) -> bool:
        """Whether ``token`` is sealed with the current key in the current format."""
        return token.startswith(f"{_TOKEN_PREFIX}{self.current_key_id}:")

    def decrypt(self, token: str) -> str:
        """Return the ID number sealed in ``token`` by :meth:`encrypt` under any configured key.

        Raises :class:`IdNumberDecryptionError` if the token is malformed, names a key that is
        not configured, was made with another secret, or has been altered.
        """
        key_id = self.key_id(token)
        if token.startswith(_LEGACY_PREFIX):
            body, associated = token[len(_LEGACY_PREFIX) :], _LEGACY_ASSOCIATED_DATA
        else:
            body = token[len(_TOKEN_PREFIX) + len(key_id) + 1 :]
            associated = _ASSOCIATED_DATA + key_id.encode("ascii", "replace")
        aead = self._aeads.get(key_id)
        if aead is None:
            raise IdNumberDecryptionError(f"ID-number token names key {key_id!r}, not configured")
        try:
            raw = _b64decode(body)
        except (binascii.Error, ValueError) as exc:
            raise IdNumberDecryptionError("ID-number token is not valid base64url") from exc
        if len(raw) <= _NONCE_BYTES + _TAG_BYTES:
            raise IdNumberDecryptionError("ID-number token is too short")
        try:
            clear = aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], associated)
        except InvalidTag as exc:
            raise IdNumberDecryptionError(
                "cannot decrypt ID number: wrong secret key or damaged token"
            ) from exc
        return clear.decode("utf-8")

    def reencrypt(self, token: str) -> str:
        """``token`` sealed again under the current key; unchanged when it already is."""
        return token if self.is_current(token) else self.encrypt(self.decrypt(token))

    def lookup_hash(self, value: str) -> str:
        """Return the hex HMAC-SHA256 of the normalized number: stable across key rotations.

        Store it beside the encrypted token and search on it to find earlier cases by the
        exact number without keeping the number in clear.
        """
        digest = hmac.new(self._lookup_key, self._normalized(value).encode("utf-8"), hashlib.sha256)
        return digest.hexdigest()


def protect(cipher: IdNumberCipher, value: str | None, kind: str | None) -> dict:
    """What is stored of an ID number: ``cipher`` (encrypted), ``masked`` and ``hash`` (to find
    the same applicant's cases) — never the number in clear. Empty without a number."""
    if value is None:
        return {}
    return {
        "cipher": cipher.encrypt(value),
        "masked": mask_id_number(value, kind),
        "hash": cipher.lookup_hash(value),
    }
